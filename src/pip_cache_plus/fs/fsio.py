"""Reading cache files without disturbing them.

"Last used" is the newest atime/mtime of an entry's files, so our own reads must not bump
atime: files are opened with ``O_NOATIME`` where the kernel allows it (we own the file), and
otherwise the atime is put back after reading. Links are never followed (``O_NOFOLLOW``),
and a FIFO never blocks us (``O_NONBLOCK``: the walk reports FIFOs, but one may take a
file's place after it; reading one then gives nothing, which no parser accepts).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Iterator
from typing import BinaryIO

_NOATIME = getattr(os, "O_NOATIME", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # no effect on regular files


_CHUNK = 64 * 1024
PathArg = str | os.PathLike[str]


@contextlib.contextmanager
def open_quietly(path: PathArg) -> Iterator[BinaryIO]:
    """Open ``path`` for reading, leaving its atime as it was."""
    with _quiet_fd(path) as fd, os.fdopen(fd, "rb", closefd=False) as fp:
        yield fp


@contextlib.contextmanager
def _quiet_fd(path: PathArg) -> Iterator[int]:
    flags = os.O_RDONLY | _NOFOLLOW | _BINARY | _NONBLOCK
    restore: os.stat_result | None = None
    try:
        fd = os.open(path, flags | _NOATIME)
    except PermissionError:
        # O_NOATIME is refused (EPERM) for files we do not own: remember the times instead.
        restore = os.lstat(path)
        fd = os.open(path, flags)
    try:
        yield fd
    finally:
        os.close(fd)
        if restore is not None:
            _put_back_times(path, restore)


def _put_back_times(path: PathArg, st: os.stat_result) -> None:
    with contextlib.suppress(OSError):
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def read_head(path: PathArg, size: int) -> bytes:
    """The first ``size`` bytes of a file."""
    with open_quietly(path) as fp:
        return fp.read(size)


def read_all(path: PathArg, limit: int) -> bytes:
    """A whole small file; ``ValueError`` if it is bigger than ``limit``.

    Read on the bare descriptor in chunks: a buffered ``read(limit + 1)`` would map (and
    then unmap) a ``limit``-sized buffer for every one of tens of thousands of small files.
    """
    chunks = []
    size = 0
    with _quiet_fd(path) as fd:
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ValueError(f"file is larger than {limit} bytes")
    return b"".join(chunks)


class Window(io.RawIOBase):
    """A read-only, seekable view of ``[offset, offset + length)`` of an open file.

    Legacy entries keep the body inside the metadata file; this lets zipfile and friends
    treat that slice as a whole file without copying it.
    """

    def __init__(self, fp: BinaryIO, offset: int, length: int) -> None:
        super().__init__()
        self._fp = fp
        self._offset = offset
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        if base + pos < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = base + pos
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), max(0, self._length - self._pos))
        if want == 0:
            return 0
        self._fp.seek(self._offset + self._pos)
        data = self._fp.read(want)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def window(fp: BinaryIO, offset: int, length: int) -> BinaryIO:
    """A buffered ``Window``: what the sniffers expect."""
    return io.BufferedReader(Window(fp, offset, length), buffer_size=64 * 1024)
