"""Writing one legacy entry's ``http-v2/`` temp files: step 1 of :mod:`.migrate`.

The temp files are journalled before they exist and carry the legacy file's times; the
directories they go to are made like pip makes them, never through a link, and cleared of
stale temp files on first use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from ..fs.fsio import open_quietly
from ..fs.fsops import staged_file
from ..fs.root import CacheRoot
from .batch import Staged
from .journal import Journal, remove_stale_temps, remove_temps
from .legacy_entry import V2_DIR, Step, copy_body


class Stager:
    """Stages entries into one cache's ``http-v2/``; counts the stale temp files it removed."""

    def __init__(self, root: CacheRoot, cache_dir: Path, journal: Journal) -> None:
        self.root = root
        self.cache_dir = cache_dir
        self.journal = journal
        self.stale_removed = 0
        self._mode: int | None = None
        # Directories made or checked for stale temp files (strings, as in CacheRoot:
        # pathlib's parsing was a good part of a big migration's CPU time).
        self._ready_dirs: set[str] = set()

    def write(self, step: Step, report: Callable[[int], None]) -> Staged:
        """The entry's body and metadata in temp files beside their targets; raises what
        reading or writing raised, with every temp file it made removed."""
        written: list[Path] = []
        try:
            with open_quietly(step.source) as src:
                times = os.fstat(src.fileno())
                self._prepare_dir(step.meta.parent)
                mode = self._file_mode()
                with staged_file(step.body_path, mode=mode, claims=self.journal) as (tmp, out):
                    written.append(tmp)
                    copy_body(src, out, step.body, report)
                with staged_file(step.meta, mode=mode, claims=self.journal) as (tmp, out):
                    written.append(tmp)
                    out.write(step.metadata)
            # The entry was not used by moving it: keep its times, so "last used" and
            # prune --older-than see the same entry before and after (a rename keeps them).
            for path in written:
                os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns), follow_symlinks=False)
        except BaseException:
            remove_temps(written)
            raise
        return Staged(step.source, step.meta, step.body_path, written[1], written[0], step.size)

    def _file_mode(self) -> int:
        """pip >= 25's rule: the http-v2 dir's read/write bits, and always the owner's."""
        if self._mode is None:
            self._mode = os.stat(self.cache_dir / V2_DIR).st_mode & 0o666 | 0o600
        return self._mode

    def _prepare_dir(self, directory: Path) -> None:
        """Create ``directory`` like pip (``makedirs``), never through a link; on first
        use also clear the stale temp files in it."""
        where = os.fspath(directory)
        if where in self._ready_dirs:
            return
        created = self.root.makedirs(where)
        self._ready_dirs.add(where)
        if not created:  # a directory we just made holds no stale temp files
            self.stale_removed += remove_stale_temps(self.root, directory, time.time())
