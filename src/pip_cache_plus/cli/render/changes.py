"""prune, export and migrate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypedDict

from ...model import Source
from .common import (
    SCHEMA_VERSION,
    EntryJSON,
    Format,
    describe,
    describe_all,
    dump,
    entry_json,
    format_size,
    iso,
    relative,
)

if TYPE_CHECKING:
    from ...actions.export import Exported, ExportResult, Skipped
    from ...actions.migrate import Migration
    from ...actions.prune import Eviction, Kept, PruneResult
    from ...model import CacheEntry

# -- prune --------------------------------------------------------------------------------


class PrunedJSON(EntryJSON):
    reason: str  # debris, unused, size; kept: recent, link, unreadable


class PruneJSON(TypedDict):
    version: int
    cache_dir: str
    dry_run: bool
    size_before: int
    size_after: int  # size before less the bytes removed (or, with dry_run, to remove)
    max_size: int | None
    target_reached: bool
    files: int
    bytes: int
    directories: int  # with dry_run: those empty already and those removals would empty
    errors: list[str]
    removed: list[PrunedJSON]  # with dry_run: what would be removed
    kept: list[PrunedJSON]  # left alone: recent debris, links, unreadable (see reason)
    changed: list[PrunedJSON]  # modified after planning (a pip at work): left alone
    failed: list[PrunedJSON]  # could not be removed (see errors)


_PRUNE_REASONS = {
    "unused": "not used since --older-than",
    "size": "least recently used, over --max-size",
}
_KEPT_REASONS = {
    "recent": "modified within the last hour; a pip may still be writing it",
    "link": "left alone: pip makes no links, so someone put it there",
    "under-link": "its cache directory is a symbolic link: never followed",
    "unreadable": "cannot be read, so not judged",
}


def _pruned_json(entry: CacheEntry, reason: str) -> PrunedJSON:
    return {**entry_json(entry), "reason": reason}


def _pruned_lines(pruned: Sequence[Eviction | Kept], cache_dir: Path) -> list[str]:
    lines = describe_all([p.entry for p in pruned], cache_dir)
    return [_pruned_line(p.entry, p.reason, line) for p, line in zip(pruned, lines, strict=True)]


def _pruned_line(entry: CacheEntry, reason: str, line: str) -> str:
    if reason in _KEPT_REASONS:
        return f"{line} [{_KEPT_REASONS[reason]}]"
    if entry.kind == "invalid":
        return line
    used = iso(entry.raw.last_used)
    return f"{line}: last used {used}, {_PRUNE_REASONS.get(reason, reason)}"


def prune_json(result: PruneResult, cache_dir: Path) -> PruneJSON:
    plan, removal = result.plan, result.removal
    return {
        "version": SCHEMA_VERSION,
        "cache_dir": str(cache_dir),
        "dry_run": removal.dry_run,
        "size_before": plan.size_before,
        "size_after": result.size_after,
        "max_size": plan.max_size,
        "target_reached": result.target_reached,
        "files": removal.files,
        "bytes": removal.bytes,
        "directories": removal.directories,
        "errors": removal.errors,
        "removed": [_pruned_json(e.entry, e.reason) for e in result.removed],
        "kept": [_pruned_json(k.entry, k.reason) for k in plan.kept],
        "changed": [_pruned_json(e.entry, e.reason) for e in result.changed],
        "failed": [_pruned_json(e.entry, e.reason) for e in result.failed],
    }


def render_prune(result: PruneResult, cache_dir: Path, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        dump(prune_json(result, cache_dir), out)
        return
    plan, removal = result.plan, result.removal
    removed = result.removed
    lines: list[str] = []
    if removed:
        lines.append("Would remove:" if removal.dry_run else "Removed:")
        lines += _pruned_lines(removed, cache_dir)
        lines.append("")
    if plan.kept or result.changed:
        lines.append("Left alone:")
        lines += _pruned_lines(plan.kept, cache_dir)
        lines += [f"{describe(e.entry, cache_dir)} [changed while pruning]" for e in result.changed]
        lines.append("")
    verb = "that would be removed" if removal.dry_run else "removed"
    lines.append(f"Files {verb}: {removal.files} ({format_size(removal.bytes)})")
    if removal.directories:
        lines.append(f"Directories {verb}: {removal.directories}")
    lines.append(_size_line(plan.size_before, result.size_after, dry_run=removal.dry_run))
    if not result.target_reached and plan.max_size is not None:
        lines.append(
            f"Note: still over {format_size(plan.max_size)}: what is left is in use, "
            "excluded by --kind, or not pip's to remove (see above)."
        )
    out.write("\n".join(lines) + "\n")


def _size_line(size_before: int, size_after: int, *, dry_run: bool) -> str:
    """``Cache size: 2.7 MB before, 2.6 MB after``; in bytes when rounding would show
    the same figure twice (70 kB off 2.7 MB), so it always says what changed."""
    before, after = ("now", "after pruning") if dry_run else ("before", "after")
    shown = format_size(size_before), format_size(size_after)
    if shown[0] == shown[1] and size_before != size_after:
        shown = f"{size_before:,} bytes", f"{size_after:,} bytes"
    freed = "to be freed" if dry_run else "freed"
    return (
        f"Cache size: {shown[0]} {before}, {shown[1]} {after} "
        f"({format_size(size_before - size_after)} {freed})"
    )


# -- export -------------------------------------------------------------------------------


class ExportedJSON(TypedDict):
    filename: str
    path: str  # in the export directory
    size: int
    sha256: str  # of the exported file
    sha256_checked: bool  # matched a cached index page's hash
    decoded_from: str | None  # a Content-Encoding removed (files are fetched unencoded)
    filename_from: str | None  # as in ENTRY: "content" is a name rebuilt, not the real one
    source: Source
    entry_path: str
    url: str | None


class ExportSkipJSON(TypedDict):
    filename: str | None
    source: Source
    entry_path: str
    url: str | None
    reason: str


class ExportJSON(TypedDict):
    version: int
    cache_dir: str
    dest: str
    exported: list[ExportedJSON]  # written now
    identical: list[ExportedJSON]  # already there with the same bytes
    conflicts: list[ExportSkipJSON]  # a different file of that name is there: not replaced
    failed: list[ExportSkipJSON]  # no good copy (hash mismatch, truncated, unreadable)
    skipped: list[ExportSkipJSON]  # no filename, duplicate copies, bad copies replaced
    error: str | None  # why the export stopped early (no space left...)
    temp_files_removed: int  # left in DIR by an export that was killed


def _exported_json(done: Exported) -> ExportedJSON:
    entry = done.entry
    return {
        "filename": done.path.name,
        "path": str(done.path),
        "size": done.size,
        "sha256": done.sha256,
        "sha256_checked": done.checked,
        "decoded_from": done.decoded,
        "filename_from": entry.naming.filename_from,
        "source": entry.source,
        "entry_path": str(entry.raw.path),
        "url": entry.url,
    }


def _skip_json(skip: Skipped) -> ExportSkipJSON:
    entry = skip.entry
    return {
        "filename": entry.filename,
        "source": entry.source,
        "entry_path": str(entry.raw.path),
        "url": entry.url,
        "reason": skip.reason,
    }


def _exported_line(done: Exported) -> str:
    where = "built locally" if done.entry.source == "wheels" else f"from {done.entry.source}"
    notes = [format_size(done.size), where]
    if done.checked:
        notes.append("sha256 checked")
    if done.decoded:
        notes.append(f"decoded from {done.decoded}")
    if done.entry.naming.filename_from == "content":
        notes.append("name rebuilt from content: no URL or cached page gives the real one")
    return f" - {done.path.name} ({', '.join(notes)})"


def _skip_line(skip: Skipped, cache_dir: Path) -> str:
    name = skip.entry.filename or relative(skip.entry.raw.path, cache_dir)
    return f" - {name} ({skip.entry.source}): {skip.reason}"


def render_export(result: ExportResult, cache_dir: Path, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        data: ExportJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            "dest": str(result.dest),
            "exported": [_exported_json(d) for d in result.exported],
            "identical": [_exported_json(d) for d in result.identical],
            "conflicts": [_skip_json(s) for s in result.conflicts],
            "failed": [_skip_json(s) for s in result.failed],
            "skipped": [_skip_json(s) for s in result.skipped],
            "error": result.fatal,
            "temp_files_removed": result.temp_files_removed,
        }
        dump(data, out)
        return
    size = format_size(sum(d.size for d in result.exported))
    count = len(result.exported)
    lines = [f"Exported {count} file{'' if count == 1 else 's'} ({size}) to {result.dest}"]
    lines += [_exported_line(d) for d in result.exported]
    sections = [
        ("Already there, identical:", [_exported_line(d) for d in result.identical]),
        ("Not overwritten (a different file is there):", _paths(result.conflicts, result)),
        ("Could not export:", [_skip_line(s, cache_dir) for s in result.failed]),
        ("Skipped:", [_skip_line(s, cache_dir) for s in _not_duplicates(result.skipped)]),
    ]
    for title, body in sections:
        if body:
            lines += [title, *body]
    duplicates = len(result.skipped) - len(_not_duplicates(result.skipped))
    if duplicates:
        lines.append(f"Other copies of exported files not written: {duplicates}")
    if result.temp_files_removed:
        lines.append(f"Leftover temporary files removed: {result.temp_files_removed}")
    out.write("\n".join(lines) + "\n")


def _paths(skips: Sequence[Skipped], result: ExportResult) -> list[str]:
    return [f" - {result.dest / (s.entry.filename or '?')} ({s.entry.source})" for s in skips]


def _not_duplicates(skips: Sequence[Skipped]) -> list[Skipped]:
    from ...actions.export import REASON_DUPLICATE

    return [s for s in skips if s.reason != REASON_DUPLICATE]


# -- migrate ------------------------------------------------------------------------------

_MAX_UNREADABLE_LISTED = 20


class UnreadableJSON(TypedDict):
    path: str
    problem: str


class MigrationJSON(TypedDict):
    version: int
    cache_dir: str
    dry_run: bool
    keep_legacy: bool
    migrated: int
    already_present: int
    unreadable: int
    bytes: int
    legacy_removed: int
    temp_files_removed: int
    directories_removed: int
    stopped: bool
    errors: list[str]
    unreadable_entries: list[UnreadableJSON]


def migration_json(result: Migration, cache_dir: Path) -> MigrationJSON:
    return {
        "version": SCHEMA_VERSION,
        "cache_dir": str(cache_dir),
        "dry_run": result.dry_run,
        "keep_legacy": result.keep_legacy,
        "migrated": result.migrated,
        "already_present": result.already_present,
        "unreadable": len(result.unreadable),
        "bytes": result.bytes,
        "legacy_removed": result.legacy_removed,
        "temp_files_removed": result.temp_files_removed,
        "directories_removed": result.directories_removed,
        "stopped": result.stopped,
        "errors": result.errors,
        "unreadable_entries": [
            {"path": str(u.path), "problem": u.problem} for u in result.unreadable
        ],
    }


def render_migration(result: Migration, cache_dir: Path, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        dump(migration_json(result, cache_dir), out)
        return
    lines = []
    if result.unreadable:
        lines.append("Left in http/ (pip >= 23.3 could not use them):")
        for item in result.unreadable[:_MAX_UNREADABLE_LISTED]:
            lines.append(f" - {relative(item.path, cache_dir)}: {item.problem}")
        if len(result.unreadable) > _MAX_UNREADABLE_LISTED:
            more = len(result.unreadable) - _MAX_UNREADABLE_LISTED
            lines.append(f" ... and {more} more ('list --source http --kind invalid')")
        lines.append("")
    verb = "Would migrate" if result.dry_run else "Migrated"
    lines.append(
        f"{verb} {result.migrated} entries ({format_size(result.bytes)}); "
        f"{result.already_present} already present; "
        f"{len(result.unreadable)} unreadable, left in http/"
    )
    if result.keep_legacy and not result.dry_run:
        lines.append("The legacy copies were kept in http/ (--keep-legacy).")
    if result.temp_files_removed:
        lines.append(f"Leftover temporary files removed: {result.temp_files_removed}")
    if result.directories_removed:
        verb = "that would be removed" if result.dry_run else "removed"
        lines.append(f"Directories {verb}: {result.directories_removed}")
    out.write("\n".join(lines) + "\n")
