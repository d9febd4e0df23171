"""What each entry holds: kind, project, version, filename and, where it can be found, URL.

Nothing on disk names an HTTP entry's URL; the key is ``sha224(url)``. Cached index pages
list file URLs, so hashing those (and each + ``.metadata``, PEP 658) against the keys we
have recovers most URLs, and the filename in the URL then says what the entry is without
opening its body. Entries left over are identified by sniffing their (decoded) bodies;
PyPI's ``x-pypi-file-*`` headers are only a last hint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from . import simple, sniff
from .errors import CacheFormatError, unreadable
from .fsio import read_all
from .model import CacheEntry, RawEntry, invalid
from .names import classify
from .records import key_digest
from .responses import ReadResponse, date_header, open_body, read_response
from .urls import cache_key, redact, url_filename

#: Decoded index pages bigger than this are not read for URL recovery.
MAX_PAGE_SIZE = 64 * 1024 * 1024
_MAX_ORIGIN_JSON = 1024 * 1024
#: An encoded body is decoded to a temporary file for sniffing only up to this size.
MAX_SPOOL = 256 * 1024 * 1024
#: Index pages compress 3 to 10 times (their sha256s are random): one decoding to more than
#: this many times its cached size is a bomb, not a page.
PAGE_MAX_RATIO = 100
_PAGE_MEDIA = ("html", "json")
_HINT_KINDS: dict[str, sniff.Kind] = {"bdist_wheel": "wheel", "sdist": "sdist"}


@dataclass(frozen=True, slots=True)
class _Page:
    project: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class _Recovered:
    urls: dict[str, str]  # entry key -> URL
    pages: dict[str, _Page]  # entry key of a page -> what it is
    hashes: dict[str, str]  # entry key of a file -> sha256 the page gives for it


def identify_all(raws: Iterable[RawEntry], index_urls: Sequence[str]) -> Iterator[CacheEntry]:
    """Identify every entry; yields them in the order given."""
    pending: list[tuple[RawEntry, ReadResponse | CacheEntry]] = []
    pages: list[tuple[RawEntry, ReadResponse]] = []
    for raw in raws:
        first = _first_pass(raw)
        pending.append((raw, first))
        if isinstance(first, ReadResponse) and _looks_like_page(first):
            pages.append((raw, first))
    recovered = recover(pages, index_urls)
    for raw, first in pending:
        if isinstance(first, CacheEntry):
            yield first
        else:
            yield _identify_http(raw, first, recovered)


def _first_pass(raw: RawEntry) -> ReadResponse | CacheEntry:
    if raw.problem is not None:
        return invalid(raw, raw.problem)
    if raw.source == "wheels":
        return identify_built_wheel(raw)
    try:
        return read_response(raw)
    except CacheFormatError as exc:
        return invalid(raw, str(exc))
    except OSError as exc:
        return invalid(raw, unreadable(exc))


def _looks_like_page(read: ReadResponse) -> bool:
    ctype = (read.response.header("content-type") or "").lower()
    return read.response.status == 200 and any(m in ctype for m in _PAGE_MEDIA)


def recover(
    pages: Sequence[tuple[RawEntry, ReadResponse]], index_urls: Sequence[str]
) -> _Recovered:
    """Map entry keys to URLs from the file lists of cached index pages."""
    urls: dict[str, str] = {}
    found: dict[str, _Page] = {}
    hashes: dict[str, str] = {}
    for raw, read in pages:
        assert raw.key is not None
        page = _read_page(read, raw.key, index_urls)
        if page is None:
            continue
        found[raw.key] = _Page(page[0].project, page[1])
        if page[1] is not None:
            urls[raw.key] = page[1]
        for file in page[0].files:
            for url in (file.url, file.url + ".metadata"):
                urls.setdefault(key_digest(cache_key(url)), url)
            if file.sha256 is not None:  # the file's hash, not its .metadata's
                hashes.setdefault(key_digest(cache_key(file.url)), file.sha256)
    return _Recovered(urls, found, hashes)


def _read_page(
    read: ReadResponse, key: str, index_urls: Sequence[str]
) -> tuple[simple.IndexPage, str | None] | None:
    ctype = read.response.header("content-type")
    try:
        with open_body(read.body) as fp:
            limit = min(MAX_PAGE_SIZE, sniff.decode_limit(read.body.length, PAGE_MAX_RATIO))
            data = sniff.decode_body(fp, read.response.header("content-encoding"), limit)
        page = simple.parse_index_page(data, content_type=ctype, page_url=None)
    except CacheFormatError:
        return None
    page_url = _page_url(key, page.project, index_urls)
    if page_url is not None:
        # Parse again against its real URL so relative links resolve.
        page = simple.parse_index_page(data, content_type=ctype, page_url=page_url)
    return page, page_url


def _page_url(key: str, project: str | None, index_urls: Sequence[str]) -> str | None:
    for index_url in index_urls:
        base = index_url.rstrip("/") + "/"
        candidates = [base] if project is None else [f"{base}{project}/", base]
        for candidate in candidates:
            try:
                if key_digest(cache_key(candidate)) == key:
                    return candidate
            except ValueError:  # a configured URL urlsplit refuses: pip could not use it
                break
    return None


def _identify_http(raw: RawEntry, read: ReadResponse, recovered: _Recovered) -> CacheEntry:
    assert raw.key is not None
    response = read.response
    stored = date_header(response)
    url = recovered.urls.get(raw.key)
    shown_url = redact(url) if url is not None else None
    page = recovered.pages.get(raw.key)
    if page is not None:
        return CacheEntry(raw, "index", page.project, None, None, shown_url, stored)
    if url is not None and (named := classify(url_filename(url))) is not None:
        sha256 = recovered.hashes.get(raw.key)  # checked by export and verify --deep
        return CacheEntry(
            raw, named.kind, named.project, named.version, named.filename, shown_url, stored
        ).with_sha256(sha256)
    found = _sniff(read)
    if found.kind == "other" and (hinted := _hinted(read)) is not None:
        found = hinted
    return CacheEntry(
        raw, found.kind, found.project, found.version, found.filename, shown_url, stored
    )


def _sniff(read: ReadResponse) -> sniff.Sniffed:
    response = read.response
    if response.status != 200:
        return sniff.Sniffed("other", None, None, None)
    ctype, encoding = response.header("content-type"), response.header("content-encoding")
    try:
        with open_body(read.body) as fp:
            if encoding is None or encoding.strip().lower() in ("", "identity"):
                return sniff.sniff_body(fp, content_type=ctype)
            # A decoded stream cannot seek and zip sniffing must: spool it, bounded.
            with (
                sniff.open_decoded(fp, encoding) as decoded,
                sniff.spool(decoded, limit=_spool_limit(read)) as body,
            ):
                return sniff.sniff_body(body, content_type=ctype)
    except (CacheFormatError, OSError):
        return sniff.Sniffed("other", None, None, None)


def _spool_limit(read: ReadResponse) -> int:
    # Bounded by the body's size too: a few bytes of nested gzip must not cost a
    # 256 MiB temporary file each time the cache is listed.
    return min(MAX_SPOOL, sniff.decode_limit(read.body.length))


def _hinted(read: ReadResponse) -> sniff.Sniffed | None:
    """PyPI's own headers; other indexes do not send them, so they are a last resort."""
    header = read.response.header
    kind = _HINT_KINDS.get(header("x-pypi-file-package-type") or "")
    project = header("x-pypi-file-project")
    if kind is None or project is None:
        return None
    return sniff.Sniffed(kind, canonicalize_name(project), header("x-pypi-file-version"), None)


def identify_built_wheel(raw: RawEntry) -> CacheEntry:
    """A wheel pip built: its filename says it all; origin.json names the sdist URL."""
    named = classify(raw.path.name)
    if named is None or named.kind != "wheel":
        return invalid(raw, "wheel with an invalid filename")
    url = _origin_url(raw)
    return CacheEntry(
        raw,
        "wheel",
        named.project,
        named.version,
        named.filename,
        redact(url) if url is not None else None,
        None,
    )


def _origin_url(raw: RawEntry) -> str | None:
    if len(raw.files) < 2:
        return None
    try:
        data = json.loads(read_all(raw.files[1].path, _MAX_ORIGIN_JSON))
    except (OSError, ValueError, RecursionError):  # "[[[[...": json recurses per level
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None
