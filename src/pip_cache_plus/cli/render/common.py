"""Pieces every renderer shares: sizes, times, the ENTRY JSON shape."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO, TypedDict

from ...inventory.urls import redact
from ...model import Source
from .escape import visible
from .naming import name_note

if TYPE_CHECKING:
    from ...model import CacheEntry

SCHEMA_VERSION = 1
Format = Literal["human", "json", "abspath"]


def pip_format_size(size: float) -> str:
    """pip's own ``format_size`` (no GB), for the lines that are pip's word for word."""
    return format_size(size) if size <= 1000 * 1000 * 1000 else f"{size / 1000.0 / 1000:.1f} MB"


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
    seconds = int(timestamp) if 0 <= timestamp < _YEAR_10000 else -1
    # datetime rounds to the microsecond, then drops the fraction: only a fraction that
    # rounds up to the next second (or a time out of this range) needs it.
    if seconds < 0 or timestamp - seconds >= _ROUNDS_UP:
        return _iso(timestamp)
    days, rest = divmod(seconds, 86400)
    day = _DAYS.get(days)
    if day is None:  # one datetime per day seen: two per entry was a tenth of the render
        day = _DAYS[days] = _iso(days * 86400.0)[:11]
    hours, rest = divmod(rest, 3600)
    return f"{day}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


_YEAR_10000 = 253402300800.0
_ROUNDS_UP = 0.9999995
_DAYS: dict[int, str] = {}


def _iso(timestamp: float) -> str:
    when = datetime.fromtimestamp(timestamp, timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


_INDENT = "  "
_WRITE_SIZE = 64 * 1024  # characters per write of dump()
_SCALARS = (str, int, float, bool, type(None))


def dump(data: object, out: TextIO) -> None:
    """Write ``data`` as ``json.dump(data, out, indent=2)`` does, byte for byte, but fast.

    ``indent`` makes the json module fall back to its pure-Python encoder, which is most of
    the time of ``list --format json`` on a big cache. Here every object of scalars (an
    entry) is one call to the C encoder, its separators carrying the indentation. An
    iterator is written as a list, as it yields: the entries of a listing are never all
    in memory as JSON objects at once. Chunks go out joined, ~64 kB per ``write``: with
    ``PYTHONUNBUFFERED=1`` (usual in containers and CI) each one is a system call, two per
    entry otherwise.
    """
    pending: list[str] = []
    size = 0
    for chunk in encode_value(data, ""):
        pending.append(chunk)
        size += len(chunk)
        if size >= _WRITE_SIZE:
            out.write("".join(pending))
            pending.clear()
            size = 0
    pending.append("\n")
    out.write("".join(pending))


def _flat(value: dict[object, object], indent: str) -> str:
    """An object of scalars: one C-encoder call, the separators carrying the indentation."""
    inner = indent + _INDENT
    flat = _flat_encoder(inner)(value)
    return f"{{\n{inner}{flat[1:-1]}\n{indent}}}"


@functools.cache
def _flat_encoder(inner: str) -> Callable[[object], str]:
    # One encoder per depth: json.dumps with separators builds a new one on every call.
    return json.JSONEncoder(separators=(",\n" + inner, ": ")).encode


class Encoded:
    """A value that writes its own JSON text for :func:`dump` (see :mod:`.entryjson`)."""

    def chunks(self, indent: str) -> Iterator[str]:
        raise NotImplementedError


def encode_value(value: object, indent: str) -> Iterator[str]:
    """``value``'s JSON text as :func:`dump` writes it, at ``indent``."""
    inner = indent + _INDENT
    if isinstance(value, Encoded):
        yield from value.chunks(indent)
    elif isinstance(value, dict) and value:
        if all(isinstance(v, _SCALARS) for v in value.values()):
            yield _flat(value, indent)
            return
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield f"{',' if i else ''}\n{inner}{json.dumps(key)}: "
            yield from encode_value(item, inner)
        yield f"\n{indent}}}"
    elif isinstance(value, (list, tuple, Iterator)):
        opened = False
        for item in value:
            yield f",\n{inner}" if opened else f"[\n{inner}"
            opened = True
            if type(item) is dict and item and all(isinstance(v, _SCALARS) for v in item.values()):
                yield _flat(item, inner)  # an entry: no generator per item
            else:
                yield from encode_value(item, inner)
        yield f"\n{indent}]" if opened else "[]"
    else:
        yield json.dumps(value)


class EntryJSON(TypedDict):
    source: Source
    kind: str
    project: str | None
    version: str | None
    filename: str | None
    filename_from: str | None
    candidates: list[str] | None
    link: str | None
    url: str | None
    url_unknown: str | None
    key: str | None
    path: str
    body_path: str | None
    size: int
    stored: str
    last_used: str
    problem: str | None


def entry_json(entry: CacheEntry) -> EntryJSON:
    raw = entry.raw
    naming = entry.naming
    return {
        "source": raw.source,
        "kind": entry.kind,
        "project": entry.project,
        "version": entry.version,
        "filename": entry.filename,
        "filename_from": naming.filename_from,
        # null, not [], when there are none: an entry of scalars is written in one go
        "candidates": list(naming.candidates) if naming.candidates else None,
        "link": redact(naming.link) if naming.link is not None else None,
        "url": entry.url,
        "url_unknown": naming.url_unknown,
        "key": raw.key,
        "path": raw.where,
        "body_path": raw.body_where,
        "size": raw.size,
        "stored": iso(entry.stored_time),
        "last_used": iso(raw.last_used),
        "problem": entry.problem,
    }


def sort_key(entry: CacheEntry) -> tuple[str, str, str, str]:
    return (entry.project or "~", entry.filename or "~", entry.source, entry.raw.where)


def describe_all(entries: Sequence[CacheEntry], cache_dir: Path) -> list[str]:
    """``describe`` each entry; lines that would repeat (built wheels of one name in
    different ``wheels/`` directories) end with the directory that tells them apart."""
    lines = [describe(e, cache_dir) for e in entries]
    counts = Counter(lines)
    return [
        f"{line} in {visible(relative(e.raw.path.parent, cache_dir))}/"
        if counts[line] > 1
        else line
        for line, e in zip(lines, entries, strict=True)
    ]


def describe(entry: CacheEntry, cache_dir: Path) -> str:
    """One human line: `` - tiny_pure-1.0-py3-none-any.whl (1.2 kB, wheel, http-v2)``."""
    size = format_size(entry.raw.size)
    if entry.kind == "invalid":
        where = relative(entry.raw.path, cache_dir)
        problem = visible(entry.problem or "")
        return f" - {visible(where)} ({size}, invalid, {entry.source}): {problem}"
    name = entry.filename
    if name is None:
        version = f" {entry.version}" if entry.version else ""
        subject = entry.project or entry.raw.key or entry.raw.path.name
        name = f"{subject}{version} [{'index page' if entry.kind == 'index' else entry.kind}]"
    note = name_note(entry)
    tail = f"; {note}" if note is not None else ""
    return f" - {visible(name)} ({size}, {entry.kind}, {entry.source}{visible(tail)})"


def relative(path: Path, cache_dir: Path) -> str:
    try:
        return str(path.relative_to(cache_dir))
    except ValueError:
        return str(path)
