"""URLs of cached entries, found in the file lists of cached index pages.

Nothing on disk names an HTTP entry's URL; the key is ``sha224(url)``. A cached index page
lists file URLs: hashing each (and each + ``.metadata``, PEP 658, when the page offers it,
as pip asks for it only then) and looking the digest up among the walked keys names the
entries those URLs were cached under. A page lists far more files than anyone caches
(~6 for each cached one on PyPI-like pages), so this runs on every listed file: the
per-file test is kept small (see :func:`_cached_in`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from typing import Protocol

from ..errors import CacheFormatError
from ..format import simple, streams
from ..format.records import key_digest, key_hash
from ..locate.compat import PYPI_SIMPLE_URL
from .harvest import LINKS_PER_PAGE, Harvest, candidate_bases, prove
from .memo import urls_digest
from .names import classify
from .responses import BodyRef, open_body
from .urls import cache_key

__all__ = ["Candidates", "IndexUrls", "Page", "PageSource", "Recovered", "read_page", "recover"]

#: Decoded index pages bigger than this are not read for URL recovery.
MAX_PAGE_SIZE = 64 * 1024 * 1024
#: Index pages compress 3 to 10 times (their sha256s are random): one decoding to more than
#: this many times its cached size is a bomb, not a page.
PAGE_MAX_RATIO = 100
#: A page body up to this size (as cached, still encoded) is read into memory at once.
_WHOLE_BODY = 4 * 1024 * 1024


class PageSource(Protocol):
    """What reading a cached page needs from its entry's response."""

    @property
    def content_type(self) -> str | None: ...
    @property
    def content_encoding(self) -> str | None: ...
    @property
    def body(self) -> BodyRef: ...


@dataclass(frozen=True, slots=True)
class Page:
    project: str | None
    url: str | None


@dataclass(slots=True)
class Recovered:
    urls: dict[str, str]  # entry key -> URL
    pages: dict[str, Page]  # entry key of a page -> what it is
    hashes: dict[str, str]  # entry key of a file -> sha256 the page gives for it
    harvest: Harvest | None = None  # bases the cache suggested, if a page needed them


#: Where pages may come from besides PyPI (or a function that gives them: reading pip's
#: configuration is slow).
IndexUrls = Sequence[str] | Callable[[], Sequence[str]]


class Candidates:
    """Base URLs a page may have been fetched from: PyPI's, then the configured ones,
    which are only looked up when a page is not PyPI's."""

    def __init__(self, index_urls: IndexUrls) -> None:
        self._given = index_urls
        self._loaded: Sequence[str] | None = None

    def __iter__(self) -> Iterator[str]:
        yield PYPI_SIMPLE_URL
        yield from (url for url in self.configured() if url != PYPI_SIMPLE_URL)

    def configured(self) -> Sequence[str]:
        if self._loaded is None:
            self._loaded = self._given() if callable(self._given) else self._given
        return self._loaded

    def used(self) -> str | None:
        """Digest of the configured URLs, if they were looked up (answers may depend on
        them then), for the memo."""
        return None if self._loaded is None else urls_digest(self._loaded)


def recover(
    pages: Sequence[tuple[str, PageSource]],
    index_urls: Iterable[str],
    keys: Collection[str],
    clues: Iterable[str] = (),
) -> Recovered:
    """Map the entry ``keys`` to URLs from the file lists of cached index pages.

    Each listed file URL (and its ``.metadata``, PEP 658) is hashed into a key, but only
    the URLs of entries in ``keys`` are kept: a page lists far more files than are cached.
    A page that no index URL names gets a second chance from the bases the cache itself
    suggests (its absolute links, and ``clues``: origin.json URLs, redirect Locations; see
    :mod:`.harvest`), each proven by a page's key.
    """
    found = Recovered({}, {}, {})
    wanted = _cached_in(keys)
    unknown: list[tuple[str, simple.LoadedPage]] = []
    for key, head in pages:
        page = read_page(head)
        if page is None:
            continue
        if not _take(found, key, page, index_urls, keys=keys, wanted=wanted):
            unknown.append((key, page))
    if unknown:
        _second_chance(found, unknown, list(index_urls), clues, keys=keys, wanted=wanted)
    return found


def _take(
    found: Recovered,
    key: str,
    page: simple.LoadedPage,
    index_urls: Iterable[str],
    *,
    keys: Collection[str],
    wanted: simple.Wanted,
    or_nothing: bool = False,
) -> bool:
    """Record what ``page`` names; whether its own URL was found (``or_nothing``: record
    nothing unless it was)."""
    project, page_url = page.project, _page_url(key, page.project, index_urls)
    if page_url is None and project is None:
        project, page_url = _page_of_its_files(key, page, index_urls)
    if page_url is None and or_nothing:
        return False
    found.pages[key] = Page(project, page_url)
    if page_url is not None:
        found.urls[key] = page_url
    for file in page.files(page_url, wanted):
        file_key = key_digest(cache_key(file.url))
        if file_key in keys:
            found.urls.setdefault(file_key, file.url)
            if file.sha256 is not None:  # the file's hash, not its .metadata's
                found.hashes.setdefault(file_key, file.sha256)
        if not file.has_metadata:
            continue  # pip asks for <url>.metadata only when the page offers it
        metadata_key = key_digest(cache_key(file.url + ".metadata"))
        if metadata_key in keys:
            found.urls.setdefault(metadata_key, file.url + ".metadata")
    return page_url is not None


def _second_chance(
    found: Recovered,
    unknown: list[tuple[str, simple.LoadedPage]],
    index_urls: list[str],
    clues: Iterable[str],
    *,
    keys: Collection[str],
    wanted: simple.Wanted,
) -> None:
    links = (f.url for _, page in unknown for f in islice(page.files(None), LINKS_PER_PAGE))
    bases = candidate_bases(chain(clues, links))
    todo = dict(unknown)

    def attempt(base: str) -> bool:
        named = [
            k
            for k, page in todo.items()
            if _take(found, k, page, [base], keys=keys, wanted=wanted, or_nothing=True)
        ]
        for k in named:
            del todo[k]
        return bool(named)

    found.harvest = prove(bases, attempt, known=[*index_urls, PYPI_SIMPLE_URL])


def _cached_in(keys: Collection[str]) -> simple.Wanted:
    """Whether a listed file, or its ``.metadata``, is among the entry ``keys``.

    The same test as :func:`recover` makes: it runs on every file every page lists (~6
    for each cached one on PyPI-like pages), so it skips ``cache_key`` of the
    ``.metadata`` URL when the file's own key needed no change.
    """

    def wanted(url: str, has_metadata: bool) -> bool:
        key = cache_key(url)
        digest = key_hash(key)
        if digest.hexdigest() in keys:
            return True
        if not has_metadata:
            return False
        if key == url:  # a plain key (its own URL) stays plain with a suffix: hash it on
            digest.update(b".metadata")
            return digest.hexdigest() in keys
        return key_digest(cache_key(url + ".metadata")) in keys

    return wanted


def read_page(head: PageSource) -> simple.LoadedPage | None:
    body = head.body
    limit = min(MAX_PAGE_SIZE, streams.decode_limit(body.length, PAGE_MAX_RATIO))
    try:
        with open_body(body) as fp:
            if body.length > _WHOLE_BODY:
                data = streams.decode_body(fp, head.content_encoding, limit)
            else:  # read at once and decoded in one call: most pages are a few kB of gzip
                raw = streams.read_up_to(fp, body.length)
                data = streams.decode_bytes(raw, head.content_encoding, limit)
        return simple.load_page(data, content_type=head.content_type)
    except CacheFormatError:
        return None


def _page_of_its_files(
    key: str, page: simple.LoadedPage, index_urls: Iterable[str]
) -> tuple[str | None, str | None]:
    """(project, URL) of a page that names no project (a directory listing served as an
    index, ``python -m http.server``): the project its files all share, if the page was
    fetched from that project's URL under a known index."""
    projects = {named.project for name in page.filenames() if (named := classify(name))}
    if len(projects) != 1:
        return None, None
    (project,) = projects
    for index_url in index_urls:
        candidate = f"{index_url.rstrip('/')}/{project}/"
        try:
            if key_digest(cache_key(candidate)) == key:
                return project, candidate
        except ValueError:  # a configured URL urlsplit refuses
            continue
    return None, None


def _page_url(key: str, project: str | None, index_urls: Iterable[str]) -> str | None:
    for index_url in index_urls:
        base = index_url.rstrip("/") + "/"
        candidates = [base] if project is None else [f"{base}{project}/", base]
        if index_url != base:  # a find-links page is fetched from its URL as given
            candidates.append(index_url)
        for candidate in candidates:
            try:
                if key_digest(cache_key(candidate)) == key:
                    return candidate
            except ValueError:  # a configured URL urlsplit refuses: pip could not use it
                break
    return None
