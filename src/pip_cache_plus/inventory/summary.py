"""PURE: where the space goes. Identified entries -> per-project totals and a grand total.

Every figure is a sum over entries, and an entry's size is the sum of its files' sizes
(``lstat``), so a project's size is exactly what ``du -b`` says of the same files. "What
could go" sorts the bytes by what it costs to get them back: an HTTP entry pip downloads
again, a built wheel costs a build, an invalid entry is debris pip cannot use.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from ..model import KINDS, SOURCES, CacheEntry, Kind, Source

if TYPE_CHECKING:
    from packaging.version import Version

SortKey = Literal["size", "name", "used"]
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)
#: Where an entry's bytes come back from, if it goes.
Origin = Literal["redownloadable", "built", "debris"]


@dataclass(slots=True)
class Tally:
    """A count of entries and their bytes."""

    entries: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.entries += 1
        self.bytes += size


def _kinds() -> dict[Kind, Tally]:
    return {kind: Tally() for kind in KINDS}


def _sources() -> dict[Source, Tally]:
    return {source: Tally() for source in SOURCES}


def _origins() -> dict[Origin, Tally]:
    return {origin: Tally() for origin in get_args(Origin)}


@dataclass(slots=True)
class Usage:
    """The totals of one project (``project`` None: entries that name no project), or of
    the whole selection. ``unused``: entries last used before the summary's cutoff."""

    project: str | None
    total: Tally = field(default_factory=Tally)
    #: (project, version) pairs: the total counts releases, not distinct version strings.
    releases: set[tuple[str | None, str]] = field(default_factory=set)
    kinds: dict[Kind, Tally] = field(default_factory=_kinds)
    sources: dict[Source, Tally] = field(default_factory=_sources)
    origins: dict[Origin, Tally] = field(default_factory=_origins)
    unused: Tally = field(default_factory=Tally)
    last_used: float | None = None

    @property
    def versions(self) -> list[str]:
        """The versions seen, oldest first where they parse (as text where not)."""
        return sorted({v for _, v in self.releases}, key=_version_key)

    def add(self, entry: CacheEntry, unused_before: float) -> None:
        raw = entry.raw
        size = raw.size
        self.total.add(size)
        if entry.version is not None:
            self.releases.add((entry.project, entry.version))
        self.kinds[entry.kind].add(size)
        self.sources[raw.source].add(size)
        self.origins[origin_of(entry)].add(size)
        used = raw.last_used
        if used < unused_before:
            self.unused.add(size)
        if self.last_used is None or used > self.last_used:
            self.last_used = used


def _version_key(text: str) -> tuple[bool, Version, str]:
    from packaging.version import InvalidVersion, Version

    try:
        return (False, Version(text), text)
    except InvalidVersion:
        return (True, Version("0"), text)


def origin_of(entry: CacheEntry) -> Origin:
    if entry.kind == "invalid":
        return "debris"
    return "built" if entry.source == "wheels" else "redownloadable"


@dataclass(frozen=True, slots=True)
class Summary:
    """``projects``: the rows asked for (sorted, cut to ``top``); ``rest``: the totals of
    the rows cut; ``total``: of every entry selected, whatever ``top`` is."""

    projects: tuple[Usage, ...]
    rest: Usage | None
    total: Usage
    unused_before: float
    sort: SortKey
    project_count: int  # rows before the cut (entries naming no project are one row)


def summarize(
    entries: Iterable[CacheEntry],
    *,
    unused_before: float,
    sort: SortKey = "size",
    top: int | None = None,
) -> Summary:
    """Per-project totals of ``entries``; ``sort``: ``size`` (largest first), ``name``
    (A to Z, unnamed last) or ``used`` (least recently used first, as prune removes)."""
    rows: dict[str | None, Usage] = {}
    total = Usage(project=None)
    for entry in entries:
        row = rows.get(entry.project)
        if row is None:
            row = rows[entry.project] = Usage(project=entry.project)
        row.add(entry, unused_before)
        total.add(entry, unused_before)
    ordered = sorted(rows.values(), key=_SORTS[sort])
    cut = ordered if top is None else ordered[:top]
    rest = None
    if len(cut) < len(ordered):
        rest = Usage(project=None)
        for row in ordered[len(cut) :]:
            _merge(rest, row)
    return Summary(tuple(cut), rest, total, unused_before, sort, len(ordered))


def _merge(into: Usage, row: Usage) -> None:
    _add_tally(into.total, row.total)
    into.releases |= row.releases
    for kind, tally in row.kinds.items():
        _add_tally(into.kinds[kind], tally)
    for source, part in row.sources.items():
        _add_tally(into.sources[source], part)
    for origin, part in row.origins.items():
        _add_tally(into.origins[origin], part)
    _add_tally(into.unused, row.unused)
    if row.last_used is not None and (into.last_used is None or row.last_used > into.last_used):
        into.last_used = row.last_used


def _add_tally(into: Tally, other: Tally) -> None:
    into.entries += other.entries
    into.bytes += other.bytes


def _by_size(row: Usage) -> tuple[int, str]:
    return (-row.total.bytes, row.project or "~")


def _by_name(row: Usage) -> tuple[bool, str]:
    return (row.project is None, row.project or "")


def _by_use(row: Usage) -> tuple[float, str]:
    return (row.last_used or 0.0, row.project or "~")


_SORTS = {"size": _by_size, "name": _by_name, "used": _by_use}
