"""info, list, remove and purge."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypedDict, cast

from ...model import Source
from .common import (
    SCHEMA_VERSION,
    EntryJSON,
    Format,
    describe_all,
    dump,
    entry_json,
    format_size,
    pip_format_size,
    sort_key,
)
from .entryjson import EntriesJSON
from .naming import unknown_urls_note
from .space import total_line

if TYPE_CHECKING:
    from ...actions.clean import Removal
    from ...cache import CacheInfo, SourceInfo
    from ...inventory.pipview import PipView
    from ...model import CacheEntry


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
    kept: list[EntryJSON]  # symbolic links: matched, but never removed
    changed: list[EntryJSON]  # rewritten by a pip while being removed: left as pip wrote it


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


def render_info(
    info: CacheInfo,
    fmt: Format,
    out: TextIO,
    *,
    hint: str = "python -m pip_cache_plus",
    pip: PipView | None = None,
) -> None:
    """``hint``: the command line the notes' commands start with (the user's
    ``--cache-dir`` in it); ``pip``: pip's own lines, written first (human only)."""
    if fmt == "json":
        dump(info_json(info), out)
        return
    if pip is not None:
        out.write("\n".join(pip_info_lines(pip)) + "\n\n")
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
            f"'{hint} migrate' moves it to http-v2, '{hint} purge --legacy' deletes it."
        )
    out.write("\n".join(lines) + "\n")


def pip_info_lines(pip: PipView) -> list[str]:
    """``pip cache info``'s seven lines, word for word (pip 26.3)."""
    return [
        f"Package index page cache location (pip v23.3+): {pip.http_v2}",
        f"Package index page cache location (older pips): {pip.http}",
        f"Package index page cache size: {pip_format_size(pip.http_bytes)}",
        f"Number of HTTP files: {pip.http_files}",
        f"Locally built wheels location: {pip.wheels}",
        f"Locally built wheels size: {pip_format_size(pip.wheels_bytes)}",
        f"Number of locally built wheels: {pip.wheel_files}",
    ]


# -- list ---------------------------------------------------------------------------------


def render_list(
    entries: Sequence[CacheEntry],
    cache_dir: Path,
    fmt: Format,
    out: TextIO,
    *,
    hint: str = "python -m pip_cache_plus list",
) -> None:
    """``hint``: the user's command line, for the note on unknown URLs."""
    ordered = sorted(entries, key=sort_key)
    if fmt == "json":
        data: ListJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            # Written as produced, in batches (see EntriesJSON): no dict per entry.
            "entries": cast("list[EntryJSON]", EntriesJSON(ordered)),
        }
        dump(data, out)
    elif fmt == "abspath":
        for entry in ordered:
            for stat in entry.raw.files:
                out.write(f"{stat.path}\n")
    elif not ordered:
        out.write("No locally built wheels cached.\n")  # pip's words for an empty list
    else:
        out.write("Cache contents:\n\n")
        out.write("\n".join(describe_all(ordered, cache_dir)) + "\n")
        out.write(f"\n{total_line(ordered)}\n")
        note = unknown_urls_note(ordered, hint)
        if note is not None:
            out.write(f"\n{note}\n")


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
            "entries": cast("list[EntryJSON]", EntriesJSON(ordered)),
            "kept": [entry_json(e) for e in sorted(result.kept, key=sort_key)],
            "changed": [entry_json(e) for e in sorted(result.changed, key=sort_key)],
        }
        dump(data, out)
        return
    if result.kept:
        out.write("Left alone (symbolic links are never followed or removed):\n\n")
        kept = sorted(result.kept, key=sort_key)
        out.write("\n".join(describe_all(kept, cache_dir)) + "\n\n")
    if result.dry_run:
        if ordered:
            out.write("Would remove:\n\n")
            out.write("\n".join(describe_all(ordered, cache_dir)) + "\n\n")
        size = pip_format_size(result.pip_bytes)
        out.write(f"Files that would be removed: {result.pip_files} ({size})\n")
        if result.directories:
            out.write(f"Directories that would be removed: {result.directories}\n")
        return
    if result.changed:
        out.write("Left as a pip just wrote them again:\n\n")
        changed = sorted(result.changed, key=sort_key)
        out.write("\n".join(describe_all(changed, cache_dir)) + "\n\n")
    # The files pip counts (see Removal.pip_files): JSON's files and bytes count them all.
    out.write(f"Files removed: {result.pip_files} ({pip_format_size(result.pip_bytes)})\n")
    out.write(f"Directories removed: {result.directories}\n")  # even 0, as pip 26.3
