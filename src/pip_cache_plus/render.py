"""Results -> human text, JSON, or absolute paths. The one place output is shaped.

The JSON shapes below are a stable interface (README: "JSON output"); add fields, never
rename or remove them without bumping ``version``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, TextIO, TypedDict

from .cache import CacheInfo, SourceInfo
from .clean import Removal
from .model import CacheEntry, Source

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
