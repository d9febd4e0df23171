"""Writing files safely: atomic streaming writes, kernel copies, files written the way pip
writes its own, and making them durable (fsync, syncfs).

Where in the cache a write or a deletion may happen is :mod:`.root`'s job.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- atomic streaming writes (export; usable by migrate) ---------------------------------

TMP_SUFFIX = ".tmp"
_COPY_CHUNK = 1 << 20
#: The destination cannot take more data: retrying other files there is pointless.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
# copy_file_range/sendfile refuse some file pairs (other filesystems, old kernels, special
# files): fall back to a plain read/write loop for those.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSOCK}
)


@contextlib.contextmanager
def atomic_file(
    dest: Path, *, mode: int | None = None, overwrite: bool = True
) -> Iterator[BinaryIO]:
    """Write ``dest`` whole or not at all: a temp file beside it, fsync, then publish.

    The temp file is ``.<name>.<random>.tmp`` in ``dest``'s directory (pip and our walk
    both skip ``*.tmp``) and is removed on any error, ``ENOSPC`` and Ctrl-C included.
    ``mode``: exact permission bits; None: a new file's default (0o666 less the umask).
    ``overwrite=False`` publishes with a hard link, so a ``dest`` that exists, even one
    created while we wrote, is never replaced: ``FileExistsError``. The file is open for
    reading too, so a caller can hash what it wrote before it is published.
    """
    fd, tmp = _create_temp(dest)
    # The temp file's lock must outlive the write until it is published (a second
    # descriptor of it keeps the lock when the first is closed).
    guard = os.dup(fd) if fcntl is not None else None
    try:
        with os.fdopen(fd, "w+b") as fp:
            if mode is not None:
                os.fchmod(fp.fileno(), mode)
            yield fp
            fp.flush()
            os.fsync(fp.fileno())
        _publish(tmp, dest, overwrite=overwrite)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if guard is not None:
            os.close(guard)
    fsync_dir(dest.parent)


def _create_temp(dest: Path) -> tuple[int, Path]:
    """A new temp file beside ``dest``, locked (``flock``) for as long as it is open: the
    kernel drops the lock when we die, so :func:`remove_abandoned_temps` can tell a
    killed write's leftover from a live one."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        if _lock_if_still_there(fd, tmp):
            return fd, tmp
        os.close(fd)  # a cleanup took it in the instant before we locked it: another name


def _lock_if_still_there(fd: int, path: Path) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.path.samestat(os.fstat(fd), os.lstat(path))
    except (BlockingIOError, FileNotFoundError):
        return False


#: Without ``flock`` (Windows), a temp file unmodified this long is taken as abandoned.
ABANDONED_AGE = 3600.0


#: The names :func:`_create_temp` gives: ``.<name>.<8 hex>.tmp``.
ATOMIC_TMP_RE = re.compile(r"\..+\.[0-9a-f]{8}" + re.escape(TMP_SUFFIX))


def remove_abandoned_temps(directory: Path) -> int:
    """Remove the temp files :func:`atomic_file` left in ``directory`` when it was killed:
    regular files with its names whose lock nobody holds (a live writer's is held).
    Returns how many were removed."""
    try:
        with os.scandir(directory) as it:
            found = [
                Path(e.path)
                for e in it
                if ATOMIC_TMP_RE.fullmatch(e.name) and e.is_file(follow_symlinks=False)
            ]
    except OSError:
        return 0
    removed = 0
    for path in found:
        with contextlib.suppress(OSError):
            removed += _remove_if_abandoned(path)
    return removed


def _remove_if_abandoned(path: Path) -> bool:
    if fcntl is None:
        if time.time() - os.lstat(path).st_mtime < ABANDONED_AGE:
            return False
        os.unlink(path)
        return True
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        if not os.path.samestat(os.fstat(fd), os.lstat(path)):
            return False  # replaced since we opened it: not the file we judged
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def _publish(tmp: Path, dest: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dest)
        return
    try:
        os.link(tmp, dest, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network/FUSE filesystems): check, then rename
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, "file exists", str(dest)) from None
        os.replace(tmp, dest)
        return
    os.unlink(tmp)


def copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    """Copy ``length`` bytes of ``src`` from ``offset`` to the end of ``dst``, streaming.

    In the kernel where it can (``copy_file_range``, which may also share extents, then
    ``sendfile``), else in 1 MiB chunks. ``EOFError`` if ``src`` ends early. Neither
    file's position matters; ``dst`` is left at its end.
    """
    dst.flush()
    out = dst.fileno()
    start = os.lseek(out, 0, os.SEEK_CUR)
    done = 0
    for copy in (_copy_file_range, _sendfile, _read_write):
        try:
            done = copy(src, out, offset, length)
            break
        except OSError as exc:
            if exc.errno not in _NO_KERNEL_COPY or copy is _read_write:
                raise
            # Refused, possibly after some bytes: start again with the next way.
            os.ftruncate(out, start)
            os.lseek(out, start, os.SEEK_SET)
    if done < length:
        raise EOFError(f"the source ended after {done} of {length} bytes")
    dst.seek(0, os.SEEK_END)


def _copy_file_range(src: BinaryIO, out: int, offset: int, length: int) -> int:
    if not hasattr(os, "copy_file_range"):
        raise OSError(errno.ENOSYS, "no copy_file_range")
    done = 0
    while done < length:
        n = os.copy_file_range(src.fileno(), out, length - done, offset + done)
        if n == 0:
            break
        done += n
    return done


def _sendfile(src: BinaryIO, out: int, offset: int, length: int) -> int:
    if not hasattr(os, "sendfile"):
        raise OSError(errno.ENOSYS, "no sendfile")
    done = 0
    while done < length:
        n = os.sendfile(out, src.fileno(), offset + done, min(length - done, 1 << 30))
        if n == 0:
            break
        done += n
    return done


def _read_write(src: BinaryIO, out: int, offset: int, length: int) -> int:
    src.seek(offset)
    done = 0
    while done < length and (chunk := src.read(min(_COPY_CHUNK, length - done))):
        view = memoryview(chunk)
        while view:
            view = view[os.write(out, view) :]
        done += len(chunk)
    return done


# -- files written the way pip writes its cache files (migrate) ---------------------------

#: ``tempfile``'s alphabet: pip's temp names come from ``NamedTemporaryFile``.
_PIP_TMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"


class TempClaims(Protocol):
    """Told each temp name before the file is created, and when the name was taken."""

    def claim(self, tmp: Path) -> None: ...

    def release(self, tmp: Path) -> None: ...


def pip_temp_name(dest: Path) -> Path:
    """``<name><8 random chars>.tmp`` beside ``dest``: the name pip's ``adjacent_tmp_file``
    gives, so our leftovers and pip's look alike and one cleanup rule covers both."""
    # One read of the system's randomness, not one per character (a syscall each).
    random = "".join(_PIP_TMP_CHARS[b % len(_PIP_TMP_CHARS)] for b in secrets.token_bytes(8))
    return dest.with_name(f"{dest.name}{random}{TMP_SUFFIX}")


@contextlib.contextmanager
def pip_style_file(
    dest: Path, *, mode: int, claims: TempClaims | None = None
) -> Iterator[BinaryIO]:
    """Write ``dest`` as pip writes a cache file: temp file beside it, ``mode``, fsync,
    ``os.replace``. The temp file is removed on any error (``ENOSPC``, Ctrl-C).

    No directory fsync here: the caller syncs once after writing several files.
    """
    with staged_file(dest, mode=mode, claims=claims) as (tmp, fp):
        yield fp
        fp.flush()
        os.fsync(fp.fileno())
        os.replace(tmp, dest)


@contextlib.contextmanager
def staged_file(
    dest: Path, *, mode: int, claims: TempClaims | None = None
) -> Iterator[tuple[Path, BinaryIO]]:
    """A pip-named temp file beside ``dest`` with ``mode``, left in place for the caller
    to fsync and rename (see :func:`sync_file`); removed if the block raises."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = pip_temp_name(dest)
        if claims is not None:
            claims.claim(tmp)  # before it exists: a kill right after leaves no unknown file
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            if claims is not None:
                claims.release(tmp)  # someone else's file (a pip): never ours to delete
    try:
        with os.fdopen(fd, "wb") as fp:
            if os.chmod in os.supports_fd:
                os.chmod(fp.fileno(), mode)
            else:  # Windows: only the read-only bit means anything there
                os.chmod(tmp, mode)
            yield tmp, fp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sync_filesystem(path: Path) -> bool:
    """``syncfs(2)`` the filesystem holding ``path``: every file and rename on it durable
    in one call. False where the call does not exist (then fsync each file instead);
    raises ``OSError`` if it fails (a write-back error, since Linux 5.8)."""
    syncfs = _syncfs()
    if syncfs is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)
    return True


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):  # a libc without it (musl before 1.1.?, very old glibc)
        return None
    return function


def sync_file(path: Path) -> None:
    """fsync a file written and closed earlier (opened for writing: Windows needs it)."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
