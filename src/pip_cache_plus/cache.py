"""The library's front door: a located cache and what can be asked of it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .inventory.entries import walk
from .model import SOURCE_DIRS, SOURCES, CacheEntry, Kind, Phase, Progress, RawEntry, Source

if TYPE_CHECKING:
    # Command modules load when their method runs: start-up stays small.
    from .actions.check import CheckResult, Request
    from .actions.clean import Removal
    from .actions.export import ExportResult
    from .actions.migrate import Migration
    from .actions.prune import PruneOptions, PruneResult
    from .actions.show import Shown
    from .actions.verify import Verification
    from .inventory.filters import Filter
    from .inventory.identify import FirstPass
    from .locate.indexes import IndexOptions


@dataclass(frozen=True, slots=True)
class SourceInfo:
    source: Source
    path: Path
    entries: int
    bytes: int


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: Path
    sources: dict[Source, SourceInfo]


_HTTP_SOURCES: tuple[Source, ...] = ("http-v2", "http")


def _only_below(tops: tuple[str, ...], report: Callable[[str], None]) -> Callable[[str], None]:
    def only_below(directory: str) -> None:
        if directory.startswith(tops):
            report(directory)

    return only_below


class Cache:
    """pip's cache directory. Reading never changes it; ``remove``/``purge`` take a lock."""

    def __init__(
        self,
        path: Path | str,
        *,
        index_urls: Sequence[str] | None = None,
        memo_dir: Path | None = None,
        index_options: IndexOptions | None = None,
    ) -> None:
        """``index_urls``: where pages may come from besides PyPI (default: what pip's
        configuration and ``index_options``, pip's index options, say, by pip's rules);
        ``memo_dir``: where answers are remembered between runs (see :mod:`.memo`);
        None: identify every entry from its files each time.

        :attr:`progress`, when set, is told what long work is doing (see
        :data:`~pip_cache_plus.model.Progress`): the walk, the naming, each command's own
        phase."""
        self.path = Path(path)
        self._index_urls = list(index_urls) if index_urls is not None else None
        self._index_options = index_options
        self.memo_dir = memo_dir
        self.progress: Progress | None = None

    @classmethod
    def locate(
        cls,
        cache_dir: str | None = None,
        *,
        no_cache_dir: bool = False,
        environ: Mapping[str, str] | None = None,
        memo: bool = False,
        index_options: IndexOptions | None = None,
        isolated: bool = False,
    ) -> Cache:
        """The cache pip would use, by pip's rules (``--cache-dir``, env, config, default);
        ``memo``: with the default memo directory (``$PIP_CACHE_PLUS_MEMO_DIR``...);
        ``isolated``: as pip's ``--isolated`` (no ``PIP_*`` variables, no user config)."""
        from .inventory.memo import default_dir
        from .locate.cachedir import find_cache

        found = find_cache(cache_dir, no_cache_dir=no_cache_dir, environ=environ, isolated=isolated)
        memo_dir = default_dir(os.environ if environ is None else environ) if memo else None
        return cls(found.path, memo_dir=memo_dir, index_options=index_options)

    @property
    def index_urls(self) -> list[str]:
        """Index URLs whose cached pages are used to recover entry URLs."""
        if self._index_urls is None:
            from .locate.indexes import IndexOptions, index_urls

            self._index_urls = index_urls(self._index_options or IndexOptions(), os.environ)
        return self._index_urls

    def walk(
        self,
        sources: Iterable[Source] = SOURCES,
        *,
        on_empty_dir: Callable[[str], None] | None = None,
    ) -> Iterator[RawEntry]:
        """Entries from stat data alone: fast, nothing opened; ``on_empty_dir`` is told
        of each empty directory below a source dir."""
        return walk(self.path, sources, on_empty_dir=on_empty_dir)

    def entries(
        self,
        sources: Iterable[Source] = SOURCES,
        *,
        on_empty_dir: Callable[[str], None] | None = None,
    ) -> Iterator[CacheEntry]:
        """Every entry of ``sources``, identified (kind, project, version, filename, URL);
        see :meth:`walk` for ``on_empty_dir``.

        An HTTP entry is named with the pages of both HTTP dirs, whichever ``sources``
        are asked for: its answer is the cache's, not the listing's (pip <= 23.2 and
        pip >= 23.3 fetch the same URLs, so a page in ``http/`` names entries in
        ``http-v2/``). The other HTTP dir is walked too, then."""
        from .inventory.identify import identify_first_passes
        from .inventory.memo import Memo
        from .inventory.shards import first_passes

        wanted = tuple(sources)
        walked = wanted
        if set(wanted) & set(_HTTP_SOURCES):
            walked = tuple(s for s in SOURCES if s in wanted or s in _HTTP_SOURCES)
        memo = None
        if self.memo_dir is not None:
            memo = Memo.load(self.memo_dir, self.path, [self.path / SOURCE_DIRS[s] for s in walked])
        report = on_empty_dir
        if on_empty_dir is not None and walked != wanted:
            tops = tuple(os.path.join(self.path, SOURCE_DIRS[s], "") for s in wanted)
            report = _only_below(tops, on_empty_dir)
        # pip's configuration is read only if a page is not PyPI's: it is slow to load.
        firsts = first_passes(self.path, walked, memo, on_empty_dir=report)
        if self.progress is None:
            found = identify_first_passes(firsts, lambda: self.index_urls, memo)
        else:
            count = _Count()
            counted = _walking(firsts, self.progress, count)
            found = identify_first_passes(counted, lambda: self.index_urls, memo)
            found = _naming(found, self.progress, count)
        if walked == wanted:
            return found
        return (entry for entry in found if entry.source in wanted)

    def info(self) -> CacheInfo:
        found: dict[Source, SourceInfo] = {}
        walked = 0
        for source in SOURCES:
            count = size = 0
            for raw in self.walk((source,)):
                count += 1
                size += raw.size
                if self.progress is not None and not (walked + count) & _EVERY:
                    self.progress("walking", walked + count, None)
            walked += count
            found[source] = SourceInfo(source, self.path / SOURCE_DIRS[source], count, size)
        if self.progress is not None:
            self.progress("walking", walked, walked)
        return CacheInfo(self.path, found)

    def select(self, filt: Filter, sources: Iterable[Source] = SOURCES) -> list[CacheEntry]:
        """Identified entries matching ``filt``."""
        return filt.select(self.entries(sources))

    def show(
        self,
        filt: Filter,
        sources: Iterable[Source] = SOURCES,
        *,
        now: float | None = None,
    ) -> list[Shown]:
        """Every entry that ``filt`` matches, told in full (headers, freshness, origin)."""
        from .actions.show import show_entries

        return show_entries(self.select(filt, sources), time.time() if now is None else now)

    def verify(
        self,
        *,
        deep: bool = False,
        now: float | None = None,
    ) -> Verification:
        """Check every entry (see :mod:`.actions.verify`). Changes nothing."""
        from .actions.verify import verify_entries

        when = time.time() if now is None else now
        entries = list(self.entries())
        told = self._told("hashing" if deep else "checking")
        return verify_entries(entries, self.path, now=when, deep=deep, on_progress=told)

    def remove(
        self,
        filt: Filter,
        sources: Iterable[Source] = SOURCES,
        *,
        dry_run: bool = False,
        on_wait: Callable[[], None] | None = None,
        on_removed: Callable[[str], None] | None = None,
    ) -> Removal:
        """Remove whole matching entries, then directories left empty (``on_removed`` is
        told of each file and directory removed)."""
        from .actions.clean import remove_as_pip
        from .fs.lock import cache_lock

        if dry_run:
            return self._dry_removal(tuple(sources), filt.select)
        with cache_lock(self.path, on_wait=on_wait):
            sources = tuple(sources)
            selected = self.select(filt, sources)
            return remove_as_pip(self.path, selected, tuple(sources), on_removed=on_removed)

    def purge(
        self,
        *,
        legacy_only: bool = False,
        dry_run: bool = False,
        on_wait: Callable[[], None] | None = None,
        on_removed: Callable[[str], None] | None = None,
    ) -> Removal:
        """Everything pip's purge removes (``legacy_only``: only ``http/``)."""
        from .actions.clean import purge_sources
        from .fs.lock import cache_lock

        sources: tuple[Source, ...] = ("http",) if legacy_only else SOURCES
        if dry_run:
            return self._dry_removal(sources, list)
        with cache_lock(self.path, on_wait=on_wait):
            entries = list(self.entries(sources))
            return purge_sources(self.path, entries, sources, dry_run=False, on_removed=on_removed)

    def _dry_removal(
        self,
        sources: tuple[Source, ...],
        select: Callable[[list[CacheEntry]], list[CacheEntry]],
    ) -> Removal:
        """What remove (or purge) would do, with the directories it would leave empty and
        remove: those of the files it removes, every empty directory and the source dirs
        themselves once empty (pip 26.3's remove and purge leave none behind)."""
        from .actions.clean import dirs_left_empty, listable_dir, remove_entries

        empty: list[str] = []
        everything = list(self.entries(sources, on_empty_dir=empty.append))
        result = remove_entries(self.path, select(everything), dry_run=True)
        files = (f.where for e in everything for f in e.raw.files)
        gone = {f.where for e in result.entries for f in e.raw.files}
        tops = [self.path / SOURCE_DIRS[s] for s in sources]
        old = [*empty, *(str(top) for top in tops if listable_dir(top))]
        result.directories = dirs_left_empty(files, gone, old, [], [self.path])
        return result

    def prune(
        self,
        options: PruneOptions,
        *,
        now: float | None = None,
        dry_run: bool = False,
        on_wait: Callable[[], None] | None = None,
    ) -> PruneResult:
        """Remove debris older than an hour, entries unused since ``options.unused_since``,
        then the least recently used until the cache is at most ``options.max_size``."""
        from .fs.lock import cache_lock

        when = time.time() if now is None else now
        if dry_run:
            return self._prune(when, options, dry_run=True)
        with cache_lock(self.path, on_wait=on_wait):
            return self._prune(when, options, dry_run=False)

    def _prune(self, now: float, options: PruneOptions, *, dry_run: bool) -> PruneResult:
        from .actions.prune import prune_cache

        empty: list[str] = []  # filled by the walk, which prune_cache runs to its end first
        entries = self.entries(on_empty_dir=empty.append)
        return prune_cache(self.path, entries, empty, now, options, dry_run=dry_run)

    def export(
        self,
        filt: Filter,
        dest: Path,
        sources: Iterable[Source] = SOURCES,
    ) -> ExportResult:
        """Write the matching wheels and sdists into ``dest`` under their real filenames."""
        from .actions.export import export_entries
        from .inventory.filters import EXPORT_KINDS

        # Invalid entries come along so that links among them can be reported.
        kinds = EXPORT_KINDS if filt.kinds is None else filt.kinds
        entries = self.select(replace(filt, kinds=kinds | {"invalid"}), sources)
        told = self._told("exporting")
        return export_entries(entries, dest, cache_dir=self.path, on_progress=told)

    def _told(self, phase: Phase) -> Callable[[int, int], None] | None:
        """An action's ``on_progress(done, total)``: :attr:`progress` told ``phase``."""
        progress = self.progress
        if progress is None:
            return None
        return lambda done, total: progress(phase, done, total)

    def check(
        self, requests: Sequence[Request], sources: Iterable[Source] = SOURCES
    ) -> CheckResult:
        """Whether the cache alone can install ``requests`` for this interpreter (see
        :mod:`pip_cache_plus.actions.check`)."""
        from .actions.check import check
        from .inventory.filters import Filter

        kinds: frozenset[Kind] = frozenset(("wheel", "sdist", "metadata"))
        return check(requests, self.select(Filter(kinds=kinds), sources))

    def migrate(
        self,
        *,
        dry_run: bool = False,
        keep_legacy: bool = False,
        on_wait: Callable[[], None] | None = None,
    ) -> Migration:
        """Move the legacy ``http/`` entries into ``http-v2/``, where pip >= 23.3 reads;
        takes the lock unless ``dry_run`` (see :mod:`pip_cache_plus.actions.migrate`).
        :attr:`progress` is told the bytes "migrating", and "syncing" at each commit."""
        from .actions.migrate import migrate

        return migrate(
            self.path,
            dry_run=dry_run,
            keep_legacy=keep_legacy,
            on_wait=on_wait,
            progress=self.progress,
        )


#: A walk tells progress every ``_EVERY + 1`` entries (a mask: 64).
_EVERY = 63


class _Count:
    """How many entries the walk gave, once it has ended."""

    value = 0


def _walking(firsts: Iterable[FirstPass], progress: Progress, count: _Count) -> Iterator[FirstPass]:
    """``firsts`` as they pass, counted to ``progress``; then "naming" begins (the pages
    are read and the entries named before the first answer comes)."""
    done = 0
    for first in firsts:
        done += 1
        if not done & _EVERY:
            progress("walking", done, None)
        yield first
    count.value = done
    progress("naming", done, None)


def _naming(found: Iterator[CacheEntry], progress: Progress, count: _Count) -> Iterator[CacheEntry]:
    """``found``, with the naming phase ended at the first answer (output follows)."""
    ended = False
    for entry in found:
        if not ended:
            progress("naming", count.value, count.value)
            ended = True
        yield entry
    if not ended:
        progress("naming", count.value, count.value)
