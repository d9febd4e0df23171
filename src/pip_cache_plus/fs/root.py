"""The cache directory as the one door to it: every deletion (and every directory
``migrate`` makes) goes through :class:`CacheRoot`: never outside the cache, never
through a link (each directory on the way checked by :class:`.checked.CheckedDirs`).
"""

from __future__ import annotations

import heapq
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import UnsafePathError
from .checked import CheckedDirs

__all__ = ["CacheRoot", "Rewritten"]


class CacheRoot:
    """The cache directory; all destructive operations go through it.

    One is made per command run, under the lock; the directories it checks are
    remembered for its life; one removed is forgotten.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # The cache dir itself may be a link (pip allows that): resolve it once, here.
        self.real = Path(os.path.realpath(path))
        self._dirs = CheckedDirs(os.fspath(path))
        self._top = os.fspath(path)

    def check_parent(self, path: str | Path) -> None:
        """Raise unless the directory holding ``path`` is reached without any link."""
        self._dirs.check_parent(path)

    def check_dir(self, directory: str | Path) -> None:
        """Raise unless ``directory`` is inside the cache and each part of the way to it
        that exists is a directory, not a link (a missing part: nothing to follow)."""
        self._dirs.check_dir(directory)

    def makedirs(self, directory: str | Path) -> bool:
        """Make ``directory`` and its missing parents, as pip's ``makedirs`` does, never
        through a link; True if ``directory`` itself was made (not found there)."""
        where = os.fspath(directory)
        self._dirs.inside(where)
        if self._dirs.known(where):
            return False
        parent = os.path.dirname(where)
        if parent != self._top:
            self.makedirs(parent)
        with self._dirs.parent(where) as (fd, name):
            try:
                os.mkdir(name, dir_fd=fd)
                created = True
            except FileExistsError:
                created = False
            if fd is not None:  # what is there now, seen through the checked parent
                self._dirs.record(where, name, fd)
        if self._dirs.reach(where) is not True:  # recorded just above, unless by path (Windows)
            raise UnsafePathError(
                f"refusing to write under {where}: it is a link or a file, not a directory"
            )
        return created

    def unlink(self, path: str | Path, expect: tuple[int, float] | None = None) -> int | None:
        """Delete one file (or link, never its target). Returns the bytes freed, or None
        if it was gone already (someone else removed it: nothing to count).

        ``expect``: the (size, mtime) the walk saw; a file that no longer has them is a
        new one (a pip wrote it again since) and stays: :class:`Rewritten` is raised.
        Checked through the same descriptor as the deletion, right before it.
        """
        where = os.fspath(path)
        try:
            with self._dirs.parent(where) as (parent, name):
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
            with self._dirs.parent(where) as (parent, name):
                if stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                    return False
                os.rmdir(name, dir_fd=parent)
        except UnsafePathError:
            raise
        except OSError:  # not empty, gone, not ours to remove
            return False
        self._dirs.forget(where)
        return True

    def replace(self, source: str | Path, target: str | Path) -> None:
        """Rename ``source`` to ``target``, two names in one directory of the cache (a
        temp file put in place), through that directory's checked descriptor."""
        src, dst = os.fspath(source), os.fspath(target)
        if os.path.dirname(src) != os.path.dirname(dst):
            raise ValueError(f"{src} and {dst} are not in one directory")
        with self._dirs.parent(dst) as (fd, name):
            src_name = src if fd is None else os.path.basename(src)
            os.replace(src_name, name, src_dir_fd=fd, dst_dir_fd=fd)

    def prune_empty_dirs(
        self,
        dirs: Iterable[str | Path],
        stop: str | Path,
        on_removed: Callable[[str], None] | None = None,
    ) -> int:
        """Remove the given directories and then their parents while empty, below ``stop``;
        ``on_removed`` is told of each one removed."""
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
                if on_removed is not None:
                    on_removed(directory)
                parent = os.path.dirname(directory)
                if parent.startswith(below):
                    heapq.heappush(heap, (-parent.count(os.sep), parent))
        return removed


class Rewritten(Exception):
    """The file is not the one the walk saw (size or mtime differ): left in place."""
