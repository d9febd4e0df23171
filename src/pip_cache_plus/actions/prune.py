"""Prune: debris, entries unused for a while, and the least recently used beyond a size.

Planning is pure (entries + empty directories + now + options -> a plan). Applying goes
through ``clean.remove_entries``, so files go in the order pip survives being interrupted in
and never through a link; each entry is checked unchanged since it was planned right before
it goes (a pip may have rewritten it meanwhile: then it stays).

What a running pip needs is left alone: debris (half entries, ``*.tmp``, foreign files,
empty directories) only once nothing has modified it for an hour, since pip writes the body
before the metadata and creates directories before the files in them. Symbolic links are
never followed and never deleted: pip makes none, so one was put there on purpose (say,
``wheels/`` shared with another machine); they are reported instead, and so are the entries
under a source directory that is itself a link (``CacheRoot`` would refuse them anyway).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..errors import UNREADABLE
from ..fs.root import CacheRoot
from ..inventory.entries import PROBLEM_LINK
from ..model import SOURCE_DIRS, SOURCES, CacheEntry, Kind, RawEntry, Source
from .clean import Removal, dirs_left_empty, remove_entries

#: Debris younger than this may be a write in progress (pip writes body, then metadata).
DEBRIS_GRACE = 3600.0
Reason = Literal["debris", "unused", "size"]
KeptReason = Literal["recent", "link", "under-link", "unreadable"]
# At equal age: the legacy cache (only pip < 23.3 reads it) first, built wheels last (they
# cost a build to make again).
_EVICTION_ORDER: dict[Source, int] = {"http": 0, "http-v2": 1, "wheels": 2}
# What we could not open (errors.unreadable() worded it) is not debris, just not ours to
# judge: pip under another user may read it fine.
_UNREADABLE = UNREADABLE + " ("


@dataclass(frozen=True, slots=True)
class PruneOptions:
    unused_since: float | None = None  # evict entries last used before this timestamp
    max_size: int | None = None  # then evict least recently used until this many bytes
    kinds: frozenset[Kind] | None = None  # which entries age/size eviction may take
    grace: float = DEBRIS_GRACE


@dataclass(frozen=True, slots=True)
class EmptyDir:
    path: Path
    mtime: float


@dataclass(frozen=True, slots=True)
class Eviction:
    entry: CacheEntry
    reason: Reason


@dataclass(frozen=True, slots=True)
class Kept:
    """An entry prune would not touch although it is not a valid pip entry."""

    entry: CacheEntry
    reason: KeptReason


@dataclass(frozen=True, slots=True)
class PrunePlan:
    evictions: tuple[Eviction, ...]
    kept: tuple[Kept, ...]
    empty_dirs: tuple[Path, ...]  # empty and older than the grace period
    size_before: int  # bytes of every file in http/, http-v2/, wheels/
    max_size: int | None
    # Directories carrying out the plan would remove (see dirs_left_empty), for a dry
    # run's report; None: not worked out, only the empty_dirs are known.
    dirs_to_remove: int | None = None

    @property
    def size_after(self) -> int:
        """The size once every planned eviction is done."""
        return self.size_before - sum(e.entry.raw.size for e in self.evictions)


@dataclass(slots=True)
class PruneResult:
    plan: PrunePlan
    removal: Removal
    size_after: int
    changed: list[Eviction] = field(default_factory=list)  # modified since planned: kept
    failed: list[Eviction] = field(default_factory=list)  # could not (all) be removed

    @property
    def removed(self) -> list[Eviction]:
        """What went (with ``dry_run``: what would go)."""
        left = {id(e) for e in (*self.changed, *self.failed)}
        return [e for e in self.plan.evictions if id(e) not in left]

    @property
    def target_reached(self) -> bool:
        return self.plan.max_size is None or self.size_after <= self.plan.max_size


def plan_prune(
    entries: Iterable[CacheEntry],
    empty_dirs: Iterable[EmptyDir],
    now: float,
    options: PruneOptions,
    *,
    linked: Iterable[Source] = (),
) -> PrunePlan:
    """Decide what goes. Pure: no filesystem access. ``linked``: sources whose directory
    is a symbolic link; nothing under them is touched."""
    cutoff = now - options.grace
    evictions: list[Eviction] = []
    kept: list[Kept] = []
    valid: list[CacheEntry] = []
    size = 0
    linked = frozenset(linked)
    for entry in entries:
        size += entry.raw.size
        if entry.source in linked:
            kept.append(Kept(entry, "under-link"))
        elif entry.kind != "invalid":
            valid.append(entry)
        elif (why := _keep_invalid(entry, cutoff)) is not None:
            kept.append(Kept(entry, why))
        else:
            evictions.append(Eviction(entry, "debris"))
    # Listed in an order of their own (not the walk's, which the file system picks).
    evictions.sort(key=lambda e: str(e.entry.raw.path))
    evictions += _evict_valid(valid, size - _total(evictions), options)
    dirs = tuple(sorted(d.path for d in empty_dirs if d.mtime < cutoff))
    return PrunePlan(tuple(evictions), tuple(kept), dirs, size, options.max_size)


def _keep_invalid(entry: CacheEntry, cutoff: float) -> KeptReason | None:
    if entry.raw.problem == PROBLEM_LINK:
        return "link"
    if _UNREADABLE in (entry.problem or ""):
        return "unreadable"
    if entry.raw.mtime >= cutoff:
        return "recent"
    return None


def _total(evictions: Iterable[Eviction]) -> int:
    return sum(e.entry.raw.size for e in evictions)


def _evict_valid(valid: Sequence[CacheEntry], size: int, options: PruneOptions) -> list[Eviction]:
    """``--older-than`` first, then least recently used until ``size`` fits; each in
    eviction order (:func:`lru_key`)."""
    wanted = sorted(
        (e for e in valid if options.kinds is None or e.kind in options.kinds), key=lru_key
    )
    out: list[Eviction] = []
    rest: list[CacheEntry] = []
    for entry in wanted:
        if options.unused_since is not None and entry.raw.last_used < options.unused_since:
            out.append(Eviction(entry, "unused"))
            size -= entry.raw.size
        else:
            rest.append(entry)
    if options.max_size is None:
        return out
    for entry in rest:
        if size <= options.max_size:
            break
        out.append(Eviction(entry, "size"))
        size -= entry.raw.size
    return out


def lru_key(entry: CacheEntry) -> tuple[int, int, str]:
    """Eviction order: least recently used first (to the second: file systems keep whole
    seconds at best); at equal age HTTP entries before built wheels."""
    return (int(entry.raw.last_used), _EVICTION_ORDER[entry.source], str(entry.raw.path))


# -- IO: finding empty directories, applying a plan ----------------------------------------


def empty_dirs_now(paths: Iterable[str]) -> list[EmptyDir]:
    """The directories a walk found empty, with their mtimes (those gone since: dropped)."""
    found: list[EmptyDir] = []
    for path in paths:
        try:
            found.append(EmptyDir(Path(path), os.lstat(path).st_mtime))
        except FileNotFoundError:
            continue
    return found


def apply_prune(cache_dir: Path, plan: PrunePlan, *, dry_run: bool) -> PruneResult:
    """Carry out ``plan``; with ``dry_run`` only count what it would remove."""
    entries = [e.entry for e in plan.evictions]
    if dry_run:
        removal = remove_entries(cache_dir, entries, dry_run=True)
        known = plan.dirs_to_remove
        removal.directories = len(plan.empty_dirs) if known is None else known
        return PruneResult(plan, removal, plan.size_after)
    removal = Removal(dry_run=False)
    changed: list[Eviction] = []
    failed: list[Eviction] = []
    root = CacheRoot(cache_dir)
    for eviction in plan.evictions:
        if _changed(eviction.entry.raw):
            changed.append(eviction)
            continue
        part = remove_entries(cache_dir, [eviction.entry], dry_run=False, root=root)
        if part.errors:
            failed.append(eviction)
        elif part.changed:  # a pip rewrote it while it went: its new files stay
            changed.append(eviction)
        _merge(removal, part)
    for source in SOURCES:
        removal.directories += root.prune_empty_dirs(
            plan.empty_dirs, cache_dir / SOURCE_DIRS[source]
        )
    # What the walk saw less what went, not a second walk (a pip writing meanwhile adds
    # files neither plan nor count sees; the next run does).
    size_after = plan.size_before - removal.bytes
    return PruneResult(plan, removal, size_after, changed, failed)


def _changed(raw: RawEntry) -> bool:
    """Was any file of the entry replaced or rewritten since the walk saw it?"""
    for stat in raw.files:
        try:
            st = os.lstat(stat.where)
        except FileNotFoundError:
            continue  # gone already: nothing left to protect
        except OSError:
            return False  # its directory is unreadable or a file now: the removal says so
        if (st.st_size, st.st_mtime) != (stat.size, stat.mtime):
            return True
    return False


def _merge(total: Removal, part: Removal) -> None:
    total.entries += part.entries
    total.files += part.files
    total.bytes += part.bytes
    total.directories += part.directories
    total.errors += part.errors


def prune_cache(
    cache_dir: Path,
    entries: Iterable[CacheEntry],
    empty_dirs: Iterable[str],
    now: float,
    options: PruneOptions,
    *,
    dry_run: bool,
) -> PruneResult:
    """Plan and apply in one go (the caller holds the cache lock unless ``dry_run``);
    ``empty_dirs``: what the walk of ``entries`` found empty (``walk(on_empty_dir=)``)."""
    linked = [s for s in SOURCES if (cache_dir / SOURCE_DIRS[s]).is_symlink()]
    entries = list(entries)  # the walk reports empty directories as it goes
    empty = empty_dirs_now(empty_dirs)
    plan = plan_prune(entries, empty, now, options, linked=linked)
    if dry_run:  # a real run counts what it removes instead
        plan = replace(plan, dirs_to_remove=_dirs_to_remove(cache_dir, entries, empty, plan))
    return apply_prune(cache_dir, plan, dry_run=dry_run)


def _dirs_to_remove(
    cache_dir: Path, entries: Sequence[CacheEntry], empty: Sequence[EmptyDir], plan: PrunePlan
) -> int:
    files = (f.where for e in entries for f in e.raw.files)
    gone = {f.where for e in plan.evictions for f in e.entry.raw.files}
    old = {str(d) for d in plan.empty_dirs}
    young = [str(d.path) for d in empty if str(d.path) not in old]
    tops = [cache_dir / SOURCE_DIRS[s] for s in SOURCES]
    return dirs_left_empty(files, gone, old, young, tops)
