"""Changing files in the cache safely: never through a link, never outside the cache.

Every path we delete came from our own walk of the cache, which does not follow links; we
check again right before acting, because the tree may have changed since (a directory
swapped for a link to somewhere else must not make us delete there).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import UnsafePathError


class CacheRoot:
    """The cache directory; all destructive operations go through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # The cache dir itself may be a link (pip allows that): resolve it once, here.
        self.real = Path(os.path.realpath(path))

    def relative(self, path: Path) -> Path:
        try:
            rel = path.relative_to(self.path)
        except ValueError:
            raise UnsafePathError(f"refusing to touch {path}: it is outside the cache") from None
        if rel == Path() or ".." in rel.parts:
            raise UnsafePathError(f"refusing to touch {path}: it is not inside the cache")
        return rel

    def check_parent(self, path: Path) -> None:
        """Raise unless the directory holding ``path`` is reached without any link."""
        rel = self.relative(path)
        expected = self.real.joinpath(*rel.parts[:-1])
        if Path(os.path.realpath(path.parent)) != expected:
            raise UnsafePathError(
                f"refusing to touch {path}: a directory on its way is a link out of place"
            )

    def unlink(self, path: Path) -> int:
        """Delete one file (or link, never its target). Returns bytes freed; 0 if gone."""
        self.check_parent(path)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return 0  # someone (pip, another cleaner) removed it first
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"refusing to delete {path}: it is a directory")
        try:
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return 0 if stat.S_ISLNK(st.st_mode) else st.st_size

    def rmdir_if_empty(self, path: Path) -> bool:
        """Remove an empty directory inside the cache; False if not empty or gone."""
        self.check_parent(path)
        if os.path.islink(path):
            return False
        try:
            os.rmdir(path)
        except OSError:
            return False
        return True

    def prune_empty_dirs(self, dirs: Iterable[Path], stop: Path) -> int:
        """Remove the given directories and then their parents while empty, below ``stop``."""
        # Deepest first, so every child is handled before its parent is looked at.
        heap = [(-len(d.parts), str(d), d) for d in set(dirs) if stop in d.parents]
        heapq.heapify(heap)
        seen: set[Path] = set()
        removed = 0
        while heap:
            _, _, directory = heapq.heappop(heap)
            if directory in seen:
                continue
            seen.add(directory)
            if self.rmdir_if_empty(directory):
                removed += 1
                parent = directory.parent
                if stop in parent.parents:
                    heapq.heappush(heap, (-len(parent.parts), str(parent), parent))
        return removed


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
