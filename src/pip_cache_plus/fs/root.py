"""The cache directory as the one door to it: every deletion (and every directory
``migrate`` makes) goes through :class:`CacheRoot`: never outside the cache, never
through a link.

Every path we delete came from our own walk of the cache, which does not follow links; we
check again before acting, because the tree may have changed since (a directory swapped
for a link to somewhere else must not make us delete there). Each directory on the way is
checked once per run, and its identity (device, inode) kept; every deletion then happens
through a descriptor of its directory, opened right before and compared with that
identity, so a directory swapped for a link after its check is refused, not followed.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import UnsafePathError

__all__ = ["CacheRoot", "Rewritten"]

#: Checks and deletions through directory descriptors (POSIX); elsewhere (Windows) by
#: path.
_BY_DIR_FD = {os.open, os.stat, os.unlink, os.rmdir, os.mkdir, os.rename} <= os.supports_dir_fd
#: The cache dir itself may be a link (pip allows that); no directory below it may.
#: O_PATH (Linux): a directory we may search but not read is still reached, as by lstat.
_OPEN_TOP = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0)
_OPEN_TOP |= getattr(os, "O_CLOEXEC", 0)
_OPEN_DIR = _OPEN_TOP | getattr(os, "O_NOFOLLOW", 0)
#: What opening a link (O_NOFOLLOW) or a file (O_DIRECTORY) as a directory raises.
_NOT_A_DIRECTORY = frozenset({errno.ELOOP, errno.ENOTDIR})
_Identity = tuple[int, int]  # st_dev, st_ino


class CacheRoot:
    """The cache directory; all destructive operations go through it.

    One is made per command run, under the lock. Directories found to be reached without a
    link are remembered for its life (entries share all but their last levels: checking
    each one again would be most of a big removal's or migration's time); one removed is
    forgotten.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # The cache dir itself may be a link (pip allows that): resolve it once, here.
        self.real = Path(os.path.realpath(path))
        # Paths are handled as strings: a removal or migration makes tens of thousands of
        # these checks, and pathlib's parsing and comparisons were most of their cost.
        self._top = os.fspath(path)
        self._below = os.path.join(self._top, "")
        # Directories reached without a link, and what they were then.
        self._checked: dict[str, _Identity] = {}
        self._top_identity: _Identity | None = None

    def _inside(self, where: str) -> None:
        """Raise unless ``where`` is strictly inside the cache dir, with no ``..`` part."""
        if not where.startswith(self._below):
            raise UnsafePathError(f"refusing to touch {where}: it is outside the cache")
        rel = where[len(self._below) :]
        if not rel or ".." in rel.split(os.sep):
            raise UnsafePathError(f"refusing to touch {where}: it is not inside the cache")

    def check_parent(self, path: str | Path) -> None:
        """Raise unless the directory holding ``path`` is reached without any link."""
        where = os.fspath(path)
        self._inside(where)
        if self._reach(os.path.dirname(where)) is False:
            raise UnsafePathError(
                f"refusing to touch {where}: a directory on its way is a link out of place"
            )

    def _reach(self, directory: str) -> bool | None:
        """True if each part of ``directory`` below the cache dir is a directory, not a
        link; False if one is a link or a file; None if one is missing (and so is all
        below it: nothing there to follow). Each part found is remembered with its
        identity.

        Checked by opening part after part, each relative to the one before and never
        following a link (``O_NOFOLLOW``), from the deepest part checked already (which
        must still be the same directory): a check by path (``lstat``) would itself pass
        through a link put in an upper part's place a moment before.
        """
        if directory == self._top or directory in self._checked:
            return True
        if not directory.startswith(self._below):
            return False
        if not _BY_DIR_FD:
            return self._reach_by_path(directory)
        try:
            self._walk_down(directory)
        except _Missing:
            return None
        except _NotADirectory:
            return False
        return True

    def _walk_down(self, directory: str) -> None:
        current = os.path.dirname(directory)
        while current != self._top and current not in self._checked:
            above = os.path.dirname(current)
            current = above if len(above) > len(self._top) else self._top
        fd = _open_dir(current, top=current == self._top)
        try:
            if _identity_of(fd) != self._identity(current):
                raise _NotADirectory  # swapped since it was checked
            for part in directory[len(current) + 1 :].split(os.sep):
                current = os.path.join(current, part)
                inner = _open_dir(part, fd)
                os.close(fd)
                fd = inner
                self._checked.setdefault(current, _identity_of(fd))
        finally:
            os.close(fd)

    def _reach_by_path(self, directory: str) -> bool | None:
        """:meth:`_reach` where descriptors cannot be opened relative to others."""
        parent = os.path.dirname(directory)
        if parent == directory:
            return False
        above = self._reach(parent)
        if above is not True:
            return above
        try:
            st = os.lstat(directory)
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return False
        self._checked[directory] = (st.st_dev, st.st_ino)
        return True

    def check_dir(self, directory: str | Path) -> None:
        """Raise unless ``directory`` is inside the cache and each part of the way to it
        that exists is a directory, not a link (a missing part: nothing to follow)."""
        where = os.fspath(directory)
        self._inside(where)
        if self._reach(where) is False:
            raise UnsafePathError(
                f"refusing to write under {where}: a directory on its way is a link or a file"
            )

    def makedirs(self, directory: str | Path) -> bool:
        """Make ``directory`` and its missing parents, as pip's ``makedirs`` does, never
        through a link; True if ``directory`` itself was made (not found there)."""
        where = os.fspath(directory)
        self._inside(where)
        if where in self._checked:
            return False
        parent = os.path.dirname(where)
        if parent != self._top:
            self.makedirs(parent)
        with self._parent(where) as (fd, name):
            try:
                os.mkdir(name, dir_fd=fd)
                created = True
            except FileExistsError:
                created = False
            if fd is not None:  # what is there now, seen through the checked parent
                self._record(where, name, fd)
        if self._reach(where) is not True:  # recorded just above, unless by path (Windows)
            raise UnsafePathError(
                f"refusing to write under {where}: it is a link or a file, not a directory"
            )
        return created

    def _record(self, where: str, name: str, parent: int) -> None:
        try:
            fd = _open_dir(name, parent)
        except _NotADirectory:
            raise UnsafePathError(
                f"refusing to write under {where}: it is a link or a file, not a directory"
            ) from None
        try:
            self._checked[where] = _identity_of(fd)
        finally:
            os.close(fd)

    def unlink(self, path: str | Path, expect: tuple[int, float] | None = None) -> int | None:
        """Delete one file (or link, never its target). Returns the bytes freed, or None
        if it was gone already (someone else removed it: nothing to count).

        ``expect``: the (size, mtime) the walk saw; a file that no longer has them is a
        new one (a pip wrote it again since) and stays: :class:`Rewritten` is raised.
        Checked through the same descriptor as the deletion, right before it.
        """
        where = os.fspath(path)
        try:
            with self._parent(where) as (parent, name):
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if expect is not None and (st.st_size, st.st_mtime) != expect:
                    raise Rewritten(where)  # a directory in its place too: not ours
                if stat.S_ISDIR(st.st_mode):
                    raise UnsafePathError(f"refusing to delete {where}: it is a directory")
                os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            return None  # someone (pip, another cleaner) removed it, or its directory
        return 0 if stat.S_ISLNK(st.st_mode) else st.st_size

    def rmdir_if_empty(self, path: str | Path) -> bool:
        """Remove an empty directory inside the cache; False if not empty or gone."""
        where = os.fspath(path)
        try:
            with self._parent(where) as (parent, name):
                if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                    return False
                os.rmdir(name, dir_fd=parent)
        except UnsafePathError:
            raise
        except OSError:  # not empty, gone, not ours to remove
            return False
        self._checked.pop(where, None)
        return True

    def replace(self, source: str | Path, target: str | Path) -> None:
        """Rename ``source`` to ``target``, two names in one directory of the cache (a
        temp file put in place), through that directory's checked descriptor."""
        src, dst = os.fspath(source), os.fspath(target)
        if os.path.dirname(src) != os.path.dirname(dst):
            raise ValueError(f"{src} and {dst} are not in one directory")
        with self._parent(dst) as (fd, name):
            src_name = src if fd is None else os.path.basename(src)
            os.replace(src_name, name, src_dir_fd=fd, dst_dir_fd=fd)

    @contextlib.contextmanager
    def _parent(self, where: str) -> Iterator[tuple[int | None, str]]:
        """(a descriptor of ``where``'s directory, its name there), the directory being
        the one checked: reached without a link then, the same one now. Without
        descriptor support, (None, the path), after the same checks by path. Raises
        ``FileNotFoundError`` if the directory is gone."""
        self.check_parent(where)
        directory, name = os.path.split(where)
        if not _BY_DIR_FD:
            yield None, where
            return
        try:
            fd = os.open(directory, _OPEN_TOP if directory == self._top else _OPEN_DIR)
        except FileNotFoundError:
            raise  # gone: for the caller to say so (not a refusal)
        except OSError as exc:  # ELOOP: its last part is a link now
            raise UnsafePathError(f"refusing to touch {where}: {exc.strerror}") from None
        try:
            if _identity_of(fd) != self._identity(directory):
                raise UnsafePathError(
                    f"refusing to touch {where}: a directory on its way changed since it "
                    "was checked (a link put in its place?)"
                )
            yield fd, name
        finally:
            os.close(fd)

    def _identity(self, directory: str) -> _Identity | None:
        if directory != self._top:
            return self._checked.get(directory)
        if self._top_identity is None:  # the cache dir may be a link: pip allows that
            st = os.stat(self._top)
            self._top_identity = (st.st_dev, st.st_ino)
        return self._top_identity

    def prune_empty_dirs(self, dirs: Iterable[str | Path], stop: str | Path) -> int:
        """Remove the given directories and then their parents while empty, below ``stop``."""
        below = os.path.join(os.fspath(stop), "")
        # Deepest first, so every child is handled before its parent is looked at.
        found = {os.fspath(d) for d in dirs}
        heap = [(-d.count(os.sep), d) for d in found if d.startswith(below)]
        heapq.heapify(heap)
        seen: set[str] = set()
        removed = 0
        while heap:
            _, directory = heapq.heappop(heap)
            if directory in seen:
                continue
            seen.add(directory)
            try:
                removed_it = self.rmdir_if_empty(directory)
            except UnsafePathError:
                continue  # changed under us (a link?): left, and so are its parents
            if removed_it:
                removed += 1
                parent = os.path.dirname(directory)
                if parent.startswith(below):
                    heapq.heappush(heap, (-parent.count(os.sep), parent))
        return removed


class Rewritten(Exception):
    """The file is not the one the walk saw (size or mtime differ): left in place."""


class _Missing(Exception):
    """A directory on the way is not there."""


class _NotADirectory(Exception):
    """A part of the way is a link or a file (or no longer the directory checked)."""


def _open_dir(path: str, dir_fd: int | None = None, *, top: bool = False) -> int:
    try:
        return os.open(path, _OPEN_TOP if top else _OPEN_DIR, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _Missing from None
    except OSError as exc:
        if exc.errno in _NOT_A_DIRECTORY:
            raise _NotADirectory from None
        raise


def _identity_of(fd: int) -> _Identity:
    st = os.fstat(fd)
    return (st.st_dev, st.st_ino)
