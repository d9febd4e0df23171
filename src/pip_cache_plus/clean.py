"""Removing whole entries (``remove``) and whole directories (``purge``).

Plan first (which entries), then apply; the apply step deletes each entry's files in the
order pip can survive being interrupted in: http-v2 metadata before its body (pip treats an
entry without metadata as absent), a built wheel before its ``origin.json``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .entries import ORIGIN_JSON
from .errors import UnsafePathError
from .fsops import CacheRoot
from .model import SOURCE_DIRS, CacheEntry, RawEntry, Source


@dataclass(slots=True)
class Removal:
    """What a remove/purge did (or, with ``dry_run``, would do)."""

    dry_run: bool
    entries: list[CacheEntry] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    directories: int = 0
    errors: list[str] = field(default_factory=list)


def remove_entries(cache_dir: Path, entries: Sequence[CacheEntry], *, dry_run: bool) -> Removal:
    """Delete every file of each entry, then the directories left empty."""
    result = Removal(dry_run=dry_run, entries=list(entries))
    raws = [e.raw for e in entries]
    if dry_run:
        result.files = sum(len(r.files) for r in raws)
        result.bytes = sum(r.size for r in raws)
        return result
    root = CacheRoot(cache_dir)
    touched = _delete_files(root, raws, result)
    result.directories = _cleanup(root, cache_dir, touched)
    return result


def _delete_files(root: CacheRoot, raws: Iterable[RawEntry], result: Removal) -> set[Path]:
    touched: set[Path] = set()
    for raw in raws:
        for stat in raw.files:
            if stat.path.is_dir() and not stat.path.is_symlink():
                continue  # an unreadable directory reported as an entry: nothing to unlink
            try:
                result.bytes += root.unlink(stat.path)
            except (UnsafePathError, OSError) as exc:
                result.errors.append(f"{stat.path}: {_why(exc)}")
                break  # keep the rest of this entry: a body without metadata is harmless
            result.files += 1
            touched.add(stat.path.parent)
    return touched


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _cleanup(root: CacheRoot, cache_dir: Path, touched: set[Path]) -> int:
    """Drop lone ``origin.json`` files whose wheels are gone, then empty directories."""
    wheels = cache_dir / SOURCE_DIRS["wheels"]
    for directory in touched:
        if wheels in directory.parents and _only_origin_left(directory):
            root.unlink(directory / ORIGIN_JSON)
    removed = 0
    for source in SOURCE_DIRS.values():
        stop = cache_dir / source
        removed += root.prune_empty_dirs((d for d in touched if stop in d.parents), stop)
    return removed


def _only_origin_left(directory: Path) -> bool:
    try:
        return [p.name for p in directory.iterdir()] == [ORIGIN_JSON]
    except OSError:
        return False


def purge_sources(
    cache_dir: Path, entries: Sequence[CacheEntry], sources: Iterable[Source], *, dry_run: bool
) -> Removal:
    """Remove every entry of ``sources`` and every directory left under them."""
    result = remove_entries(cache_dir, entries, dry_run=dry_run)
    if dry_run:
        return result
    root = CacheRoot(cache_dir)
    for source in sources:
        top = cache_dir / SOURCE_DIRS[source]
        if top.is_dir() and not top.is_symlink():
            result.directories += root.prune_empty_dirs(_all_dirs(top), cache_dir)
    return result


def _all_dirs(top: Path) -> list[Path]:
    # os.walk does not descend into links to directories.
    return [Path(dirpath) for dirpath, _dirs, _files in os.walk(top)]
