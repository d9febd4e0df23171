"""Results -> human text, JSON, or absolute paths. The one place output is shaped.

The JSON shapes below are a stable interface (README: "JSON output"); add fields, never
rename or remove them without bumping ``version``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, TextIO, TypedDict

from .cache import CacheInfo, SourceInfo
from .clean import Removal
from .export import REASON_DUPLICATE, Exported, ExportResult, Skipped
from .migrate import Migration
from .model import CacheEntry, Source
from .prune import PruneResult
from .show import Freshness, Shown
from .verify import Problem, Verification

SCHEMA_VERSION = 1
Format = Literal["human", "json", "abspath"]


class SourceJSON(TypedDict):
    path: str
    entries: int
    bytes: int


class InfoJSON(TypedDict):
    version: int
    cache_dir: str
    http_v2: SourceJSON
    http: SourceJSON
    wheels: SourceJSON


class EntryJSON(TypedDict):
    source: Source
    kind: str
    project: str | None
    version: str | None
    filename: str | None
    url: str | None
    key: str | None
    path: str
    body_path: str | None
    size: int
    stored: str
    last_used: str
    problem: str | None


class ListJSON(TypedDict):
    version: int
    cache_dir: str
    entries: list[EntryJSON]


class RemovalJSON(TypedDict):
    version: int
    cache_dir: str
    dry_run: bool
    files: int
    bytes: int
    directories: int
    errors: list[str]
    entries: list[EntryJSON]


def format_size(size: float) -> str:
    """pip's ``format_size``, with GB added for today's caches."""
    if size > 1000 * 1000 * 1000:
        return f"{size / 1000.0 / 1000 / 1000:.1f} GB"
    if size > 1000 * 1000:
        return f"{size / 1000.0 / 1000:.1f} MB"
    if size > 10 * 1000:
        return f"{int(size / 1000)} kB"
    if size > 1000:
        return f"{size / 1000.0:.1f} kB"
    return f"{int(size)} bytes"


def iso(timestamp: float) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2026-11-22T03:04:05Z``."""
    when = datetime.fromtimestamp(timestamp, timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _dump(data: object, out: TextIO) -> None:
    json.dump(data, out, indent=2)
    out.write("\n")


# -- info ---------------------------------------------------------------------------------

_INFO_LABELS: dict[Source, str] = {
    "http-v2": "HTTP cache (pip >= 23.3)",
    "http": "Legacy HTTP cache (pip < 23.3)",
    "wheels": "Locally built wheels",
}


def info_json(info: CacheInfo) -> InfoJSON:
    def part(s: SourceInfo) -> SourceJSON:
        return {"path": str(s.path), "entries": s.entries, "bytes": s.bytes}

    return {
        "version": SCHEMA_VERSION,
        "cache_dir": str(info.path),
        "http_v2": part(info.sources["http-v2"]),
        "http": part(info.sources["http"]),
        "wheels": part(info.sources["wheels"]),
    }


def render_info(info: CacheInfo, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        _dump(info_json(info), out)
        return
    lines = [f"Cache directory: {info.path}"]
    for source, label in _INFO_LABELS.items():
        part = info.sources[source]
        lines.append(f"{label} location: {part.path}")
        noun = "entry" if part.entries == 1 else "entries"
        lines.append(f"{label} size: {format_size(part.bytes)} in {part.entries} {noun}")
    legacy = info.sources["http"]
    if legacy.entries:
        lines.append(
            f"Note: pip >= 23.3 never reads {legacy.path}; "
            "'python -m pip_cache_plus migrate' moves it to http-v2, "
            "'python -m pip_cache_plus purge --legacy' deletes it."
        )
    out.write("\n".join(lines) + "\n")


# -- list ---------------------------------------------------------------------------------


def entry_json(entry: CacheEntry) -> EntryJSON:
    raw = entry.raw
    return {
        "source": raw.source,
        "kind": entry.kind,
        "project": entry.project,
        "version": entry.version,
        "filename": entry.filename,
        "url": entry.url,
        "key": raw.key,
        "path": str(raw.path),
        "body_path": str(raw.body_path) if raw.body_path is not None else None,
        "size": raw.size,
        "stored": iso(entry.stored_time),
        "last_used": iso(raw.last_used),
        "problem": entry.problem,
    }


def sort_key(entry: CacheEntry) -> tuple[str, str, str, str]:
    return (entry.project or "~", entry.filename or "~", entry.source, str(entry.raw.path))


def describe(entry: CacheEntry, cache_dir: Path) -> str:
    """One human line: `` - tiny_pure-1.0-py3-none-any.whl (1.2 kB, wheel, http-v2)``."""
    size = format_size(entry.raw.size)
    if entry.kind == "invalid":
        where = _relative(entry.raw.path, cache_dir)
        return f" - {where} ({size}, invalid, {entry.source}): {entry.problem}"
    name = entry.filename
    if name is None:
        version = f" {entry.version}" if entry.version else ""
        subject = entry.project or entry.raw.key or entry.raw.path.name
        name = f"{subject}{version} [{'index page' if entry.kind == 'index' else entry.kind}]"
    return f" - {name} ({size}, {entry.kind}, {entry.source})"


def _relative(path: Path, cache_dir: Path) -> str:
    try:
        return str(path.relative_to(cache_dir))
    except ValueError:
        return str(path)


def render_list(entries: Sequence[CacheEntry], cache_dir: Path, fmt: Format, out: TextIO) -> None:
    ordered = sorted(entries, key=sort_key)
    if fmt == "json":
        data: ListJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            "entries": [entry_json(e) for e in ordered],
        }
        _dump(data, out)
    elif fmt == "abspath":
        for entry in ordered:
            for stat in entry.raw.files:
                out.write(f"{stat.path}\n")
    elif not ordered:
        out.write("No matching entries.\n")
    else:
        out.write("Cache contents:\n\n")
        out.write("\n".join(describe(e, cache_dir) for e in ordered) + "\n")


# -- remove / purge -----------------------------------------------------------------------


def render_removal(result: Removal, cache_dir: Path, fmt: Format, out: TextIO) -> None:
    ordered = sorted(result.entries, key=sort_key)
    if fmt == "json":
        data: RemovalJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            "dry_run": result.dry_run,
            "files": result.files,
            "bytes": result.bytes,
            "directories": result.directories,
            "errors": result.errors,
            "entries": [entry_json(e) for e in ordered],
        }
        _dump(data, out)
        return
    if result.dry_run:
        if ordered:
            out.write("Would remove:\n\n")
            out.write("\n".join(describe(e, cache_dir) for e in ordered) + "\n\n")
        out.write(f"Files that would be removed: {result.files} ({format_size(result.bytes)})\n")
        return
    out.write(f"Files removed: {result.files} ({format_size(result.bytes)})\n")
    if result.directories:
        out.write(f"Directories removed: {result.directories}\n")


# -- show ---------------------------------------------------------------------------------


class FileJSON(TypedDict):
    path: str
    size: int
    mtime: str
    atime: str


class FreshnessJSON(TypedDict):
    fresh: bool
    basis: str  # max-age, expires, bad-expires, none, no-date, bad-date, permanent-redirect
    lifetime: int | None  # seconds after Date; null: unlimited or unknown
    until: str | None  # when it stops (or stopped) being fresh; null: never or unknown
    immutable: bool
    revalidate: bool  # once stale, pip asks with If-None-Match instead of downloading


class OriginJSON(TypedDict):
    url: str | None
    hash: str | None
    commit: str | None


class ShownJSON(EntryJSON):
    read_by: str
    files: list[FileJSON]
    freshness: FreshnessJSON | None  # null for built wheels: they never expire
    headers: dict[str, str]
    origin: OriginJSON | None  # built wheels: their origin.json
    index_sha256: str | None  # the file's sha256 as a cached index page lists it
    note: str | None


class ShowJSON(TypedDict):
    version: int
    cache_dir: str
    entries: list[ShownJSON]


def _freshness_json(fresh: Freshness | None) -> FreshnessJSON | None:
    if fresh is None:
        return None
    return {
        "fresh": fresh.fresh,
        "basis": fresh.basis,
        "lifetime": fresh.lifetime,
        "until": iso(fresh.until) if fresh.until is not None else None,
        "immutable": fresh.immutable,
        "revalidate": fresh.revalidate,
    }


def shown_json(shown: Shown) -> ShownJSON:
    base = entry_json(shown.entry)
    origin = shown.origin
    files: list[FileJSON] = [
        {"path": str(f.path), "size": f.size, "mtime": iso(f.mtime), "atime": iso(f.atime)}
        for f in shown.entry.raw.files
    ]
    return {
        **base,
        "problem": shown.problem,
        "read_by": shown.read_by,
        "files": files,
        "freshness": _freshness_json(shown.freshness),
        "headers": dict(shown.headers),
        "origin": None
        if origin is None
        else {"url": origin.url, "hash": origin.hash, "commit": origin.commit},
        "index_sha256": shown.entry.sha256,
        "note": shown.note,
    }


def describe_freshness(fresh: Freshness | None) -> str:
    """``fresh until 2038-01-19T03:14:07Z (max-age=365000000, immutable)`` and friends."""
    if fresh is None:
        return "never expires (pip uses a built wheel until it is removed)"
    if fresh.basis == "permanent-redirect":
        return "fresh for ever (a permanent redirect: pip never asks again)"
    after = "pip revalidates it by ETag" if fresh.revalidate else "pip downloads it again"
    if fresh.until is None:  # no usable Date: cachecontrol never serves it unasked
        reason = "no Date header" if fresh.basis == "no-date" else "unparsable Date header"
        return f"stale ({reason}); {after}"
    basis = {
        "max-age": f"max-age={fresh.lifetime}",
        "expires": "Expires",
        "bad-expires": "unparsable Expires",
        "none": "no max-age or Expires",
    }.get(fresh.basis, fresh.basis)
    if fresh.immutable:
        basis += ", immutable: ignored by pip"
    if fresh.fresh:
        return f"fresh until {iso(fresh.until)} ({basis}); then {after}"
    return f"stale since {iso(fresh.until)} ({basis}); {after}"


def _shown_lines(shown: Shown) -> list[str]:
    entry, raw = shown.entry, shown.entry.raw
    title = entry.filename or entry.project or raw.key or raw.path.name
    what = " ".join(part for part in (entry.project, entry.version) if part)
    rows: list[tuple[str, str]] = [
        ("Kind", f"{entry.kind}: {what}" if what else entry.kind),
        ("Cache", f"{entry.source}, read by {shown.read_by}"),
    ]
    if entry.url is not None:
        label = "Built from" if entry.source == "wheels" else "URL"
        rows.append((label, entry.url))
    rows += [("File", f"{f.path} ({format_size(f.size)})") for f in raw.files]
    rows += [
        ("Size", format_size(raw.size)),
        ("Stored", iso(entry.stored_time)),
        ("Last used", iso(raw.last_used)),
    ]
    if shown.problem is not None:
        rows.append(("Problem", shown.problem))
    elif entry.kind != "invalid":
        rows.append(("Freshness", describe_freshness(shown.freshness)))
    if shown.note is not None:
        rows.append(("Note", shown.note))
    if entry.sha256 is not None:
        rows.append(("Index sha256", entry.sha256))
    if shown.origin is not None and shown.origin.hash is not None:
        rows.append(("Source hash", shown.origin.hash))
    if shown.origin is not None and shown.origin.commit is not None:
        rows.append(("Commit", shown.origin.commit))
    rows += list(shown.headers)
    width = max(len(label) for label, _ in rows) + 2
    return [title] + [f"  {label + ':':<{width}}{value}" for label, value in rows]


def render_show(shown: Sequence[Shown], cache_dir: Path, fmt: Format, out: TextIO) -> None:
    ordered = sorted(shown, key=lambda s: sort_key(s.entry))
    if fmt == "json":
        data: ShowJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            "entries": [shown_json(s) for s in ordered],
        }
        _dump(data, out)
        return
    out.write("\n\n".join("\n".join(_shown_lines(s)) for s in ordered))
    if ordered:
        out.write("\n")


# -- verify -------------------------------------------------------------------------------


class ProblemJSON(TypedDict):
    path: str
    source: Source
    check: str  # entry, length, zip, crc, encoding, sha256 (notes: unchecked)
    problem: str
    filename: str | None


class VerifyJSON(TypedDict):
    version: int
    cache_dir: str
    deep: bool
    ok: bool
    entries: int
    bad_entries: int
    zips: int
    hashed: int
    in_progress: int
    problems: list[ProblemJSON]
    notes: list[ProblemJSON]


def _problem_json(problem: Problem) -> ProblemJSON:
    return {
        "path": str(problem.path),
        "source": problem.source,
        "check": problem.check,
        "problem": problem.message,
        "filename": problem.filename,
    }


def _problem_line(problem: Problem, cache_dir: Path) -> str:
    what = f" ({problem.filename})" if problem.filename else ""
    return f" - {_relative(problem.path, cache_dir)}{what}: {problem.message}"


def render_verify(result: Verification, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        data: VerifyJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(result.cache_dir),
            "deep": result.deep,
            "ok": result.ok,
            "entries": result.entries,
            "bad_entries": result.bad_entries,
            "zips": result.zips,
            "hashed": result.hashed,
            "in_progress": result.in_progress,
            "problems": [_problem_json(p) for p in result.problems],
            "notes": [_problem_json(p) for p in result.notes],
        }
        _dump(data, out)
        return
    lines = [_problem_line(p, result.cache_dir) for p in result.problems]
    lines += [f"note:{_problem_line(p, result.cache_dir)[2:]}" for p in result.notes]
    checked = f"Checked {result.entries} entries ({result.zips} zip archives"
    checked += f", {result.hashed} hashes)" if result.deep else ")"
    if result.ok:
        lines.append(f"{checked}: no problems found.")
    else:
        lines.append(f"{checked}: {result.bad_entries} with problems.")
    if result.in_progress:
        lines.append(
            f"Not checked: {result.in_progress} recent leftovers a running pip may still finish."
        )
    out.write("\n".join(lines) + "\n")


# -- prune --------------------------------------------------------------------------------


class PrunedJSON(EntryJSON):
    reason: str  # debris, unused, size; kept: recent, link, unreadable


class PruneJSON(TypedDict):
    version: int
    cache_dir: str
    dry_run: bool
    size_before: int
    size_after: int  # measured after pruning; with dry_run, what it would be
    max_size: int | None
    target_reached: bool
    files: int
    bytes: int
    directories: int  # with dry_run: only those empty already (more may empty out)
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


def _pruned_line(entry: CacheEntry, reason: str, cache_dir: Path) -> str:
    line = describe(entry, cache_dir)
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
        _dump(prune_json(result, cache_dir), out)
        return
    plan, removal = result.plan, result.removal
    removed = result.removed
    lines: list[str] = []
    if removed:
        lines.append("Would remove:" if removal.dry_run else "Removed:")
        lines += [_pruned_line(e.entry, e.reason, cache_dir) for e in removed]
        lines.append("")
    if plan.kept or result.changed:
        lines.append("Left alone:")
        lines += [_pruned_line(k.entry, k.reason, cache_dir) for k in plan.kept]
        lines += [f"{describe(e.entry, cache_dir)} [changed while pruning]" for e in result.changed]
        lines.append("")
    verb = "that would be removed" if removal.dry_run else "removed"
    lines.append(f"Files {verb}: {removal.files} ({format_size(removal.bytes)})")
    if removal.dry_run and removal.directories:
        lines.append(
            f"Empty directories that would be removed: {removal.directories} (and any left empty)"
        )
    elif removal.directories:
        lines.append(f"Directories removed: {removal.directories}")
    before, after = ("now", "after pruning") if removal.dry_run else ("before", "after")
    lines.append(
        f"Cache size: {format_size(plan.size_before)} {before}, "
        f"{format_size(result.size_after)} {after}"
    )
    if not result.target_reached and plan.max_size is not None:
        lines.append(
            f"Note: still over {format_size(plan.max_size)}: what is left is in use, "
            "excluded by --kind, or not pip's to remove (see above)."
        )
    out.write("\n".join(lines) + "\n")


# -- export -------------------------------------------------------------------------------


class ExportedJSON(TypedDict):
    filename: str
    path: str  # in the export directory
    size: int
    sha256: str  # of the exported file
    sha256_checked: bool  # matched a cached index page's hash
    decoded_from: str | None  # a Content-Encoding removed (files are fetched unencoded)
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


def _exported_json(done: Exported) -> ExportedJSON:
    entry = done.entry
    return {
        "filename": done.path.name,
        "path": str(done.path),
        "size": done.size,
        "sha256": done.sha256,
        "sha256_checked": done.checked,
        "decoded_from": done.decoded,
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
    return f" - {done.path.name} ({', '.join(notes)})"


def _skip_line(skip: Skipped, cache_dir: Path) -> str:
    name = skip.entry.filename or _relative(skip.entry.raw.path, cache_dir)
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
        }
        _dump(data, out)
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
    out.write("\n".join(lines) + "\n")


def _paths(skips: Sequence[Skipped], result: ExportResult) -> list[str]:
    return [f" - {result.dest / (s.entry.filename or '?')} ({s.entry.source})" for s in skips]


def _not_duplicates(skips: Sequence[Skipped]) -> list[Skipped]:
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
        _dump(migration_json(result, cache_dir), out)
        return
    lines = []
    if result.unreadable:
        lines.append("Left in http/ (pip >= 23.3 could not use them):")
        for item in result.unreadable[:_MAX_UNREADABLE_LISTED]:
            lines.append(f" - {_relative(item.path, cache_dir)}: {item.problem}")
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
        lines.append(f"Directories removed: {result.directories_removed}")
    out.write("\n".join(lines) + "\n")


@contextlib.contextmanager
def progress_bar(
    description: str, stream: TextIO | None
) -> Iterator[Callable[[int, int], None] | None]:
    """A bytes progress bar on ``stream`` when it is a terminal and rich is installed;
    ``None`` otherwise. It appears at the first update (after any wait for the lock) and
    is erased at the end, so only the summary stays."""
    if stream is None or not stream.isatty():
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
        )
    except ImportError:
        yield None
        return
    columns = (TextColumn(description), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=Console(file=stream), transient=True)
    task: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not task:
            bar.start()
            task.append(bar.add_task(description, total=total))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    finally:
        if task:
            bar.stop()
