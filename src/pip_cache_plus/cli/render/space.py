"""du: where the space goes, per project, as a table or JSON; the total line of ``list``."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypedDict

from ...model import KINDS, SOURCES, Kind, Source
from .common import SCHEMA_VERSION, Format, dump, format_size, iso

if TYPE_CHECKING:
    from ...inventory.summary import Origin, Summary, Tally, Usage
    from ...model import CacheEntry


class TallyJSON(TypedDict):
    entries: int
    bytes: int


class UsageJSON(TypedDict):
    project: str | None
    entries: int
    bytes: int
    versions: int
    version_list: list[str]
    last_used: str | None
    kinds: dict[Kind, TallyJSON]
    sources: dict[Source, TallyJSON]
    could_go: dict[Origin, TallyJSON]
    unused: TallyJSON


class SummaryJSON(TypedDict):
    version: int
    cache_dir: str
    sort: str
    unused_before: str
    project_count: int
    projects: list[UsageJSON]
    rest: UsageJSON | None
    total: UsageJSON


def _tally(t: Tally) -> TallyJSON:
    return {"entries": t.entries, "bytes": t.bytes}


def usage_json(u: Usage, *, listed: bool) -> UsageJSON:
    return {
        "project": u.project,
        "entries": u.total.entries,
        "bytes": u.total.bytes,
        "versions": len(u.releases),
        "version_list": u.versions if listed else [],
        "last_used": None if u.last_used is None else iso(u.last_used),
        "kinds": {k: _tally(t) for k, t in u.kinds.items()},
        "sources": {s: _tally(t) for s, t in u.sources.items()},
        "could_go": {o: _tally(t) for o, t in u.origins.items()},
        "unused": _tally(u.unused),
    }


def summary_json(summary: Summary, cache_dir: Path) -> SummaryJSON:
    rest = summary.rest
    return {
        "version": SCHEMA_VERSION,
        "cache_dir": str(cache_dir),
        "sort": summary.sort,
        "unused_before": iso(summary.unused_before),
        "project_count": summary.project_count,
        "projects": [usage_json(u, listed=True) for u in summary.projects],
        "rest": None if rest is None else usage_json(rest, listed=False),
        "total": usage_json(summary.total, listed=False),
    }


def printable(text: str) -> str:
    """Cache-derived text made safe for a terminal: control characters escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


_NO_PROJECT = "(no project)"
_HEADERS = ("PROJECT", "SIZE", "ENTRIES", "VERSIONS", "LAST USED", "HTTP", "BUILT")
_MAX_VERSIONS_SHOWN = 3


def _versions(u: Usage) -> str:
    versions = u.versions
    if not versions:
        return "-"
    if len(versions) <= _MAX_VERSIONS_SHOWN:
        return printable(", ".join(versions))
    return f"{len(versions)}: {printable(versions[0])}..{printable(versions[-1])}"


def _ago(when: float | None, now: float) -> str:
    if when is None:
        return "-"
    days = int(max(0.0, now - when) // 86400)
    date = iso(when)[:10]
    return f"{date} (today)" if days == 0 else f"{date} ({days}d ago)"


def _bytes_or_dash(t: Tally) -> str:
    return format_size(t.bytes) if t.entries else "-"


def _row(u: Usage, label: str, now: float) -> tuple[str, ...]:
    return (
        label,
        format_size(u.total.bytes),
        str(u.total.entries),
        _versions(u) if u.project is not None else str(len(u.releases) or "-"),
        _ago(u.last_used, now),
        _bytes_or_dash(u.origins["redownloadable"]),
        _bytes_or_dash(u.origins["built"]),
        _bytes_or_dash(u.unused),
    )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    numeric = {1, 2, 5, 6, 7}
    lines = []
    for row in rows:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    return lines


def _parts(tallies: Mapping[str, Tally]) -> str:
    shown = [
        f"{name} {format_size(t.bytes)} ({t.entries})" for name, t in tallies.items() if t.entries
    ]
    return ", ".join(shown) or "nothing"


def _footer(summary: Summary, unused_for: str, hint: str) -> list[str]:
    total = summary.total
    kinds: dict[str, Tally] = {k: total.kinds[k] for k in KINDS}
    sources: dict[str, Tally] = {s: total.sources[s] for s in SOURCES}
    go = total.origins
    lines = [
        "",
        f"By source: {_parts(sources)}",
        f"By kind: {_parts(kinds)}",
        "Could go:",
        f"  {_size_in(go['redownloadable'])} downloaded: pip fetches them again when needed",
        f"  {_size_in(go['built'])} built locally: pip builds them again from their sdists",
    ]
    if go["debris"].entries:
        lines.append(
            f"  {_size_in(go['debris'])} debris pip cannot use: '{hint} prune' removes them"
        )
    unused = total.unused
    if unused.entries:
        lines.append(
            f"  {_size_in(unused)} not used for {unused_for}: "
            f"'{hint} prune --older-than {unused_for}' removes them"
        )
    else:
        lines.append(f"  nothing unused for {unused_for}")
    return lines


def _size_in(t: Tally) -> str:
    return f"{format_size(t.bytes)} in {_count(t.entries)}"


def _count(n: int, noun: str = "entry", plural: str = "entries") -> str:
    return f"{n} {noun if n == 1 else plural}"


def render_summary(
    summary: Summary,
    cache_dir: Path,
    fmt: Format,
    out: TextIO,
    *,
    unused_for: str,
    hint: str,
    now: float | None = None,
) -> None:
    """``unused_for``: the AGE the UNUSED column counts, as the user wrote it; ``hint``:
    the command line that reaches this cache, for the suggestions."""
    if fmt == "json":
        dump(summary_json(summary, cache_dir), out)
        return
    if not summary.total.total.entries:
        out.write("No matching entries.\n")
        return
    when = time.time() if now is None else now
    rows: list[tuple[str, ...]] = [(*_HEADERS, f"UNUSED {unused_for}")]
    rows += [_row(u, printable(u.project or _NO_PROJECT), when) for u in summary.projects]
    if summary.rest is not None:
        rest = summary.rest
        cut = summary.project_count - len(summary.projects)
        projects = _count(cut, "project", "projects")
        rows.append(_row(rest, f"(others: {projects})", when))
    rows.append(_row(summary.total, "TOTAL", when))
    lines = _table(rows)
    lines += _footer(summary, unused_for, hint)
    out.write("\n".join(lines) + "\n")


def total_line(entries: Sequence[CacheEntry]) -> str:
    """The last line of a human listing: ``Total: 12 entries, 38 kB``."""
    size = sum(e.raw.size for e in entries)
    return f"Total: {_count(len(entries))}, {format_size(size)}"
