"""Which directories of the cache are reached without a link, checked part by part.

Every path we act on came from our own walk of the cache, which does not follow links;
we check again before acting, because the tree may have changed since (a directory
swapped for a link to somewhere else must not make us act there). Each directory on the
way is checked once per run and its identity (device, inode) kept; an operation then
goes through a descriptor of its directory, opened right before and compared with that
identity, so a directory swapped for a link after its check is refused, not followed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import UnsafePathError

__all__ = ["BY_DIR_FD", "CheckedDirs"]

#: Checks and deletions through directory descriptors (POSIX); elsewhere (Windows) by
#: path.
BY_DIR_FD = {os.open, os.stat, os.unlink, os.rmdir, os.mkdir, os.rename} <= os.supports_dir_fd
#: The cache dir itself may be a link (pip allows that); no directory below it may.
#: O_PATH (Linux): a directory we may search but not read is still reached, as by lstat.
_OPEN_TOP = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0)
_OPEN_TOP |= getattr(os, "O_CLOEXEC", 0)
_OPEN_DIR = _OPEN_TOP | getattr(os, "O_NOFOLLOW", 0)
#: What opening a link (O_NOFOLLOW) or a file (O_DIRECTORY) as a directory raises.
_NOT_A_DIRECTORY = frozenset({errno.ELOOP, errno.ENOTDIR})
_Identity = tuple[int, int]  # st_dev, st_ino


class CheckedDirs:
    """The directories below one cache dir found to be reached without a link.

    Remembered for the object's life (entries share all but their last levels: checking
    each one again would be most of a big removal's or migration's time).
    """

    def __init__(self, top: str) -> None:
        # Paths are handled as strings: a removal or migration makes tens of thousands of
        # these checks, and pathlib's parsing and comparisons were most of their cost.
        self._top = top
        self._below = os.path.join(top, "")
        # Directories reached without a link, and what they were then.
        self._checked: dict[str, _Identity] = {}
        self._top_identity: _Identity | None = None

    def known(self, directory: str) -> bool:
        """``directory`` was found reached without a link (and not forgotten since)."""
        return directory in self._checked

    def forget(self, directory: str) -> None:
        """``directory`` was removed: a new one by that name must be checked again."""
        self._checked.pop(directory, None)

    def inside(self, where: str) -> None:
        """Raise unless ``where`` is strictly inside the cache dir, with no ``..`` part."""
        if not where.startswith(self._below):
            raise UnsafePathError(f"refusing to touch {where}: it is outside the cache")
        rel = where[len(self._below) :]
        if not rel or ".." in rel.split(os.sep):
            raise UnsafePathError(f"refusing to touch {where}: it is not inside the cache")

    def check_parent(self, path: str | Path) -> None:
        """Raise unless the directory holding ``path`` is reached without any link."""
        where = os.fspath(path)
        self.inside(where)
        if self.reach(os.path.dirname(where)) is False:
            raise UnsafePathError(
                f"refusing to touch {where}: a directory on its way is a link out of place"
            )

    def reach(self, directory: str) -> bool | None:
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
        if not BY_DIR_FD:
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
        above = self.reach(parent)
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
        self.inside(where)
        if self.reach(where) is False:
            raise UnsafePathError(
                f"refusing to write under {where}: a directory on its way is a link or a file"
            )

    def record(self, where: str, name: str, parent: int) -> None:
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

    @contextlib.contextmanager
    def parent(self, where: str) -> Iterator[tuple[int | None, str]]:
        """(a descriptor of ``where``'s directory, its name there), the directory being
        the one checked: reached without a link then, the same one now. Without
        descriptor support, (None, the path), after the same checks by path. Raises
        ``FileNotFoundError`` if the directory is gone."""
        self.check_parent(where)
        directory, name = os.path.split(where)
        if not BY_DIR_FD:
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
