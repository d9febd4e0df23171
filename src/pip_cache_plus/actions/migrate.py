"""``migrate``: move the legacy ``http/`` cache into ``http-v2/``, where pip >= 23.3 reads.

Each legacy entry goes through three steps: read its headers (never its body), plan
(:func:`.legacy_entry.plan_step`, pure), apply. Applying keeps the cache usable by pip
at every instant, so a kill anywhere loses nothing:

1. the body is streamed from its offset in the legacy file to a temp file beside
   ``<key>.body`` (:mod:`.stager`), named as pip names its own (``<key>.body<random>.tmp``), and the
   metadata (``body=b""``, no ``strict``: what pip >= 23.3 writes) to a temp file beside
   ``<key>``;
2. once a batch of entries is staged (:data:`BATCH_ENTRIES`, :data:`BATCH_BYTES`), the
   temp files are made durable and renamed, the body first, and the renames made durable
   (:mod:`.batch`);
3. only then are the batch's legacy files removed. An entry already complete in
   ``http-v2/`` wins: its legacy file is only removed.

Temp files a kill leaves behind (ours, and pip's) are found and removed by the next run:
see :mod:`.journal`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CacheFormatError, UnsafePathError
from ..fs.lock import cache_lock
from ..fs.root import CacheRoot
from ..inventory.entries import walk
from ..inventory.responses import read_response
from ..model import Progress, RawEntry
from .batch import Batch, Staged
from .clean import dirs_left_empty, listable_dir
from .journal import Journal, remove_leftovers
from .legacy_entry import (
    LEGACY_DIR,
    V2_DIR,
    EntryChanged,
    Step,
    plan_step,
    target_paths,
    target_state,
)
from .stager import Stager

#: A batch is committed (fsync, rename, remove legacy) at this many entries or body bytes.
BATCH_ENTRIES = 256
BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A legacy file left in ``http/``, and why."""

    path: Path
    problem: str


@dataclass(slots=True)
class Migration:
    """What a migration did (or, with ``dry_run``, would do)."""

    dry_run: bool
    keep_legacy: bool
    migrated: int = 0
    already_present: int = 0
    bytes: int = 0  # written to http-v2/ (bodies and metadata) for migrated entries
    unreadable: list[Unreadable] = field(default_factory=list)
    legacy_removed: int = 0
    temp_files_removed: int = 0
    directories_removed: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: bool = False  # a write failed: the remaining entries were not tried


def migrate(
    cache_dir: Path,
    *,
    dry_run: bool = False,
    keep_legacy: bool = False,
    on_wait: Callable[[], None] | None = None,
    progress: Progress | None = None,
) -> Migration:
    """Move every valid ``cc=4`` entry of ``http/`` to ``http-v2/``; see the module doc.

    Holds the cache lock while it changes anything (``on_wait`` is called once if another
    command holds it). Write errors (``ENOSPC``...) stop the run: ``result.stopped``, the
    message in ``result.errors``, the entry being written left intact in ``http/``.
    """
    if dry_run:
        return _Run(cache_dir, dry_run=True, keep_legacy=keep_legacy, progress=progress).run()
    with cache_lock(cache_dir, on_wait=on_wait):
        return _Run(cache_dir, dry_run=False, keep_legacy=keep_legacy, progress=progress).run()


class _Run:
    def __init__(
        self, cache_dir: Path, *, dry_run: bool, keep_legacy: bool, progress: Progress | None
    ) -> None:
        self.cache_dir = cache_dir
        self.root = CacheRoot(cache_dir)
        self.result = Migration(dry_run=dry_run, keep_legacy=keep_legacy)
        self.progress = progress
        self.journal = Journal(cache_dir)
        self._stager = Stager(self.root, cache_dir, self.journal)
        self._total = self._done = 0  # bytes of http/, and of the entries handled
        self._batch = Batch(self.root, self._failed)
        self._would_remove: list[str] = []  # legacy files, with --dry-run

    def run(self) -> Migration:
        empty: list[str] = []
        raws = list(walk(self.cache_dir, ("http",), on_empty_dir=empty.append))
        self._total, self._done = sum(r.size for r in raws), 0
        if raws and not self._v2_dir_usable():
            return self.result
        if self.result.dry_run:
            self._dry_run(raws, empty)
            return self.result
        self.result.temp_files_removed += remove_leftovers(self.journal, self.root)
        try:
            for raw in raws:
                self._one_reported(raw)
                if self.result.stopped:
                    break
            self._commit()
        except BaseException:
            self._batch.discard()  # Ctrl-C: the legacy files of the batch stay
            raise
        finally:
            self.result.temp_files_removed += self._stager.stale_removed
            self.journal.close()
            if not self.result.keep_legacy:
                self._remove_empty_legacy_dirs()
        return self.result

    def _one_reported(self, raw: RawEntry) -> None:
        self._one(raw)
        self._done += raw.size
        self._report(0)

    def _dry_run(self, raws: list[RawEntry], empty: list[str]) -> None:
        """Plan every entry, and count what the real run would remove from ``http/``: the
        legacy files of the entries it moves (or finds present), then every directory
        left empty, ``http/`` itself included."""
        for raw in raws:
            self._one_reported(raw)
        if self.result.keep_legacy:
            return
        self.result.legacy_removed = len(self._would_remove)
        files = (f.where for raw in raws for f in raw.files)
        top = self.cache_dir / LEGACY_DIR
        old = [*empty, os.fspath(top)] if listable_dir(top) else empty
        gone = set(self._would_remove)
        self.result.directories_removed = dirs_left_empty(files, gone, old, [], [self.cache_dir])

    def _v2_dir_usable(self) -> bool:
        """``http-v2/`` is a directory of the cache, or not there yet. One that is a link
        (pip never makes one) would have us read, write and trust whatever it points to."""
        top = self.cache_dir / V2_DIR
        try:
            if stat.S_ISDIR(os.lstat(top).st_mode):
                return True
        except FileNotFoundError:
            return True
        self.result.errors.append(
            f"refusing to migrate into {top}: it is a link or a file, not a directory; "
            "nothing was changed"
        )
        self.result.stopped = True
        return False

    def _remove_empty_legacy_dirs(self) -> None:
        """Every empty directory of ``http/``, ``http/`` included: also those a killed
        run emptied. (``os.walk`` does not descend into links.)"""
        top = self.cache_dir / LEGACY_DIR
        if top.is_symlink():
            return
        dirs = [dirpath for dirpath, _, _ in os.walk(top)]
        self.result.directories_removed += self.root.prune_empty_dirs(dirs, self.cache_dir)

    def _report(self, partial: int) -> None:
        if self.progress is not None:
            self.progress("migrating", min(self._done + partial, self._total), self._total)

    def _one(self, raw: RawEntry) -> None:
        if raw.problem is not None:
            self._unreadable(raw.path, raw.problem)
            return
        try:
            read = read_response(raw)
        except FileNotFoundError:
            return  # gone since the walk: nothing to migrate
        except CacheFormatError as exc:
            self._unreadable(raw.path, str(exc))
            return
        except OSError as exc:
            self._unreadable(raw.path, f"cannot be read ({exc.strerror or exc})")
            return
        meta, body = target_paths(self.cache_dir, raw.path)
        try:
            self.root.check_dir(meta.parent)  # never read http-v2 through a link
            state = target_state(meta, body)
        except UnsafePathError as exc:
            self.result.errors.append(str(exc))
            return
        except OSError as exc:  # a directory on the way, or http-v2/, cannot be looked at
            self._stop(raw.path, meta.parent, exc)
            return
        self._apply(plan_step(raw.path, read, state, self.cache_dir))

    def _unreadable(self, path: Path, problem: str) -> None:
        self.result.unreadable.append(Unreadable(path, problem))

    def _apply(self, step: Step) -> None:
        result = self.result
        if step.action == "skip":
            self._unreadable(step.source, step.problem or "skipped")
            return
        if step.action == "migrate":
            if result.dry_run:
                result.migrated += 1
                result.bytes += step.size
                self._would_remove.append(os.fspath(step.source))
            elif (staged := self._stage(step)) is not None:
                self._batch.add(staged)
                if len(self._batch) >= BATCH_ENTRIES or self._batch.bytes >= BATCH_BYTES:
                    self._commit()
            return
        result.already_present += 1
        if result.dry_run:
            self._would_remove.append(os.fspath(step.source))
        elif not result.keep_legacy:
            self._remove_legacy(step.source)

    def _stage(self, step: Step) -> Staged | None:
        """Write one entry's http-v2 temp files; None (and why, in the result) if not."""
        directory = step.meta.parent
        try:
            return self._stager.write(step, self._report)
        except FileNotFoundError as exc:
            if exc.filename is not None and Path(exc.filename) == step.source:
                return None  # removed since we read it: nothing left to migrate
            self._stop(step.source, directory, exc)
        except (EntryChanged, EOFError, CacheFormatError):
            self._unreadable(step.source, "changed while being migrated; run migrate again")
        except UnsafePathError as exc:
            self.result.errors.append(str(exc))
        except OSError as exc:
            self._stop(step.source, directory, exc)
        return None

    def _commit(self) -> None:
        """Commit the batch (see :mod:`.batch`); remove the legacy files of its entries
        once their renames are durable."""
        files = 2 * len(self._batch)  # a body and its metadata per entry
        if self.progress is not None and files:
            self.progress("syncing", files, None)
        placed, durable = self._batch.commit()
        if self.progress is not None and files:
            self.progress("syncing", files, files)
        self.journal.clear()  # every temp file it names is renamed or removed
        for staged in placed:
            self.result.migrated += 1
            self.result.bytes += staged.size
            if durable and not self.result.keep_legacy:
                self._remove_legacy(staged.source)

    def _failed(self, staged: Staged, exc: OSError, fatal: bool) -> bool:
        self._stop(staged.source, staged.meta.parent, exc)
        if fatal:
            self.result.stopped = True
        return self.result.stopped

    def _stop(self, source: Path, directory: Path, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        top = self.cache_dir / V2_DIR
        if isinstance(exc, PermissionError) and os.access(top, os.W_OK | os.X_OK):
            # One directory of http-v2/ that is not ours (another user's, mode 700): only
            # the entries under it stay behind; the others still move.
            self.result.errors.append(
                f"could not write {directory}: {why}; {source} was left as it was "
                "(fix the permissions, then run migrate again)"
            )
            return
        self.result.errors.append(
            f"could not write {directory}: {why}; {source} was left as it was "
            "(free some space or fix the permissions, then run migrate again)"
        )
        self.result.stopped = True

    def _remove_legacy(self, path: Path) -> None:
        try:
            freed = self.root.unlink(path)
        except (UnsafePathError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.result.errors.append(f"could not remove {path}: {why}")
            return
        if freed is not None:  # not removed by someone else first
            self.result.legacy_removed += 1
