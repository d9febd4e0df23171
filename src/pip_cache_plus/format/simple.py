"""Simple-repository index pages (PEP 503 HTML, PEP 691 JSON): project and file URLs.

Pure: bytes in (already decoded from any ``Content-Encoding``; the caller bounds the size),
frozen dataclasses out. File URLs come out as pip requests them (resolved against the page
URL and a ``<base href>``, path quoted as pip quotes it, fragment dropped), so a caller can
hash them, and each one + ``.metadata`` when ``has_metadata``, to recover cache keys.
"""

from __future__ import annotations

import codecs
import json
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlparse, urlunparse

from packaging.utils import canonicalize_name

from ..errors import CacheFormatError

__all__ = [
    "IndexFile",
    "IndexPage",
    "ListedFile",
    "LoadedPage",
    "identify_page",
    "load_page",
    "parse_index_page",
]

_WHITESPACE = b"\xef\xbb\xbf \t\r\n"
_SIMPLE_TYPE_PREFIX = "application/vnd.pypi.simple."
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_LINKS_FOR_RE = re.compile(r"links for\s+(\S+)", re.IGNORECASE)
_NAME_RE = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)  # PEP 508
_DIST_RE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2|tar\.xz|tgz|egg)$", re.IGNORECASE)
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_RESERVED_RE = re.compile(r"(@|%2F)", re.IGNORECASE)  # pip keeps these as they are
# Whether a file is worth building: given its URL and whether it advertises metadata.
Wanted = Callable[[str, bool], bool]
#: An absolute URL that resolving and pip's quoting leave as it is: only characters
#: ``quote`` never touches in the path, no query, no user info.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?/[A-Za-z0-9_.~/-]*(?:#[!-~]*)?")


@dataclass(frozen=True, slots=True)
class IndexFile:
    url: str  # absolute, fragment dropped
    filename: str
    sha256: str | None  # lower-case hex
    has_metadata: bool  # PEP 658/714 metadata advertised (and not false)


@dataclass(frozen=True, slots=True)
class ListedFile:
    """A file as the page lists it, link unresolved: what naming a cached file by the
    page needs when the page's own URL (which resolves relative links) is not known."""

    filename: str
    link: str  # the href (PEP 503) or url (PEP 691) as written, fragment dropped
    sha256: str | None  # lower-case hex
    metadata_sha256: str | None  # of its PEP 658 .metadata, when the page gives one
    has_metadata: bool


@dataclass(frozen=True, slots=True)
class IndexPage:
    project: str | None  # PEP 503 normalized; None for the root index
    files: tuple[IndexFile, ...]


def parse_index_page(data: bytes, *, content_type: str | None, page_url: str | None) -> IndexPage:
    """The project and file links of a simple-index page.

    Relative links are resolved against ``page_url``; without it they are skipped. Links
    that cannot be parsed, and JSON file entries without a ``filename`` and ``url``, are
    skipped. A JSON body that is not a PEP 691 page raises ``CacheFormatError``.
    """
    page = load_page(data, content_type=content_type)
    return IndexPage(page.project, tuple(page.files(page_url)))


class LoadedPage:
    """A page parsed once; its links are resolved when asked, against the page's URL.

    The project name says which URL the page was fetched from, and only that URL resolves
    relative links: the caller finds it between :attr:`project` and :meth:`files`.
    """

    __slots__ = ("_document", "_parser", "project")

    def __init__(self, document: Any, parser: _PageParser | None) -> None:
        self._document = document
        self._parser = parser
        self.project = parser.project() if parser is not None else _json_project(document)

    def files(self, page_url: str | None, wanted: Wanted | None = None) -> Iterator[IndexFile]:
        """The page's files; with ``wanted``, only those it accepts (given the URL and
        whether metadata is advertised): a page lists far more files than anyone caches,
        and the rest are not worth building."""
        if self._parser is not None:
            return _html_files(self._parser, page_url, wanted)
        return _json_files(self._document, page_url, wanted)

    def listed(self) -> Iterator[ListedFile]:
        """Every file with the hashes the page gives for it and its ``.metadata``."""
        if self._parser is not None:
            return _html_listed(self._parser)
        return _json_listed(self._document)

    def resolve(self, page_url: str, link: str) -> str | None:
        """A listed ``link`` as pip requests it when the page came from ``page_url``."""
        base: str | None = page_url
        if self._parser is not None and self._parser.base:
            resolved = _resolve(page_url, self._parser.base)
            base = resolved[0] if resolved else page_url
        found = _resolve(base, link)
        return found[0] if found else None

    def filenames(self) -> Iterator[str]:
        """The names of the files it links, without resolving anything."""
        if self._parser is not None:
            for anchor in self._parser.anchors:
                path = _strip_query(anchor["href"] or "").rstrip("/")
                yield unquote(posixpath.basename(path))
            return
        for item in self._document.get("files", ()):
            if isinstance(item, dict) and isinstance(item.get("filename"), str):
                yield item["filename"]


def load_page(data: bytes, *, content_type: str | None) -> LoadedPage:
    """Parse a page (see :func:`parse_index_page`) without resolving its links yet."""
    if _is_json(data, content_type):
        return LoadedPage(_load_json(data), None)
    return LoadedPage(None, _parse_html(data, content_type))


def identify_page(data: bytes, *, content_type: str | None) -> tuple[bool, str | None]:
    """(is it a simple-index page, its project) for a whole JSON body or an HTML head.

    Invalid JSON is not an index page, unless ``content_type`` says it is one: then it is
    corrupt and raises ``CacheFormatError``.
    """
    if _is_json(data, content_type):
        try:
            document = _load_json(data)
        except CacheFormatError:
            if _is_simple_type(content_type):
                raise
            return False, None
        match document:
            case {"meta": {"api-version": str()}, "files": list()}:
                return True, _project(document.get("name"))
            case {"meta": {"api-version": str()}, "projects": list()}:
                return True, None
        return False, None
    parser = _parse_html(data, content_type)
    return _is_html_index(parser, content_type), parser.project()


def _is_simple_type(content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    return mime.startswith(_SIMPLE_TYPE_PREFIX)


def _is_json(data: bytes, content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime.endswith("json"):
        return True
    return not mime.endswith("html") and data.lstrip(_WHITESPACE)[:1] == b"{"


def _project(name: object) -> str | None:
    if isinstance(name, str) and _NAME_RE.fullmatch(name.strip()):
        return canonicalize_name(name.strip())
    return None


# --- JSON (PEP 691) --------------------------------------------------------------------


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise CacheFormatError(f"the index page is not valid JSON: {e}") from None


def _json_project(document: Any) -> str | None:
    match document:
        case {"meta": {"api-version": str()}, "files": list()}:
            return _project(document.get("name"))
        case {"meta": {"api-version": str()}, "projects": list()}:
            return None
        case _:
            raise CacheFormatError("the JSON body is not a PEP 691 simple-index page")


def _json_files(document: Any, page_url: str | None, wanted: Wanted | None) -> Iterator[IndexFile]:
    items = document.get("files", ())  # a root index lists projects, not files
    for item in items:
        # Plain lookups, not a mapping pattern: pages list up to thousands of files.
        if not isinstance(item, dict):
            continue
        filename, href = item.get("filename"), item.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            continue
        if _PLAIN_URL.fullmatch(href):  # _resolve's shortcut, inline: it runs per file
            url, _, fragment = href.partition("#")
        elif (resolved := _resolve_any(page_url, href)) is not None:
            url, fragment = resolved
        else:
            continue
        metadata = item.get("core-metadata")
        if metadata is None:
            metadata = item.get("dist-info-metadata")
        # pip's Link.from_json: a dict of hashes, or any true value ("false" too).
        has_metadata = isinstance(metadata, dict) or bool(metadata)
        if wanted is not None and not wanted(url, has_metadata):
            continue
        hashes = item.get("hashes")
        sha256 = _sha256(hashes.get("sha256")) if isinstance(hashes, dict) else None
        yield IndexFile(url, filename, sha256 or _fragment_sha256(fragment), has_metadata)


def _json_listed(document: Any) -> Iterator[ListedFile]:
    for item in document.get("files", ()):
        if not isinstance(item, dict):
            continue
        filename, href = item.get("filename"), item.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            continue
        link, _, fragment = href.partition("#")
        metadata = item.get("core-metadata")
        if metadata is None:
            metadata = item.get("dist-info-metadata")
        hashes = item.get("hashes")
        sha256 = _sha256(hashes.get("sha256")) if isinstance(hashes, dict) else None
        metadata_sha256 = _sha256(metadata.get("sha256")) if isinstance(metadata, dict) else None
        has_metadata = isinstance(metadata, dict) or bool(metadata)
        sha256 = sha256 or _fragment_sha256(fragment)
        yield ListedFile(filename, link, sha256, metadata_sha256, has_metadata)


# --- HTML (PEP 503) --------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Collects anchors, the first ``<base href>``, the title and the first ``<h1>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None
        self.repository_version = False
        self.texts: dict[str, list[str]] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.anchors.append(attributes)
        elif tag == "base" and self.base is None and attributes.get("href"):
            self.base = attributes["href"]
        elif tag == "meta" and (attributes.get("name") or "").lower() == "pypi:repository-version":
            self.repository_version = True
        elif tag in ("title", "h1") and tag not in self.texts:
            self._in = tag
            self.texts[tag] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.texts[self._in].append(data)

    def text(self, tag: str) -> str:
        return " ".join("".join(self.texts.get(tag, [])).split())

    def project(self) -> str | None:
        for tag in ("title", "h1"):
            if match := _LINKS_FOR_RE.search(self.text(tag)):
                return _project(match[1])
        return None if self.text("title") else _project(self.text("h1"))


def _parse_html(data: bytes, content_type: str | None) -> _PageParser:
    parser = _PageParser()
    try:
        parser.feed(data.decode(_charset(content_type), "replace"))
        parser.close()
    except (AssertionError, ValueError) as e:  # _markupbase raises these on some junk
        raise CacheFormatError(f"the HTML index page cannot be parsed: {e}") from None
    return parser


def _charset(content_type: str | None) -> str:
    match = _CHARSET_RE.search(content_type or "")
    try:
        return codecs.lookup(match[1]).name if match else "utf-8"
    except LookupError:
        return "utf-8"


def _is_html_index(parser: _PageParser, content_type: str | None) -> bool:
    title = parser.text("title")
    return (
        _is_simple_type(content_type)
        or parser.repository_version
        or any(_LINKS_FOR_RE.search(parser.text(tag)) for tag in ("title", "h1"))
        or title.lower().startswith("simple index")
        or any(_DIST_RE.search(_strip_query(a["href"] or "")) for a in parser.anchors)
    )


def _strip_query(href: str) -> str:
    return href.split("#", 1)[0].split("?", 1)[0]


def _html_files(
    parser: _PageParser, page_url: str | None, wanted: Wanted | None
) -> Iterator[IndexFile]:
    base = page_url
    if parser.base:
        resolved = _resolve(page_url, parser.base)
        base = resolved[0] if resolved else page_url
    for anchor in parser.anchors:
        resolved = _resolve(base, anchor["href"] or "")
        if resolved is None:
            continue
        url, fragment = resolved
        metadata = anchor.get("data-core-metadata")
        if metadata is None:
            metadata = anchor.get("data-dist-info-metadata")
        # pip's Link.from_element: any value at all ("false" too) says the file exists.
        has_metadata = metadata is not None
        if wanted is None or wanted(url, has_metadata):
            yield IndexFile(url, _filename(url), _fragment_sha256(fragment), has_metadata)


def _html_listed(parser: _PageParser) -> Iterator[ListedFile]:
    for anchor in parser.anchors:
        link, _, fragment = (anchor["href"] or "").partition("#")
        path = link.split("?", 1)[0].rstrip("/")
        filename = unquote(posixpath.basename(path))
        if not filename:
            continue
        metadata = anchor.get("data-core-metadata")
        if metadata is None:
            metadata = anchor.get("data-dist-info-metadata")
        metadata_sha256 = _fragment_sha256(metadata) if metadata is not None else None
        has_metadata = metadata is not None
        yield ListedFile(filename, link, _fragment_sha256(fragment), metadata_sha256, has_metadata)


# --- links -----------------------------------------------------------------------------


def _resolve(base: str | None, href: str) -> tuple[str, str] | None:
    """(absolute URL without fragment, the fragment); None if unresolvable."""
    if _PLAIN_URL.fullmatch(href):
        # Already absolute and quoted as pip quotes (PyPI's links): nothing to resolve.
        url, _, fragment = href.partition("#")
        return url, fragment
    return _resolve_any(base, href)


def _resolve_any(base: str | None, href: str) -> tuple[str, str] | None:
    """:func:`_resolve` the long way, for any link."""
    try:
        parts = urlparse(urljoin(base, href) if base else href)
        if not parts.scheme:
            return None
        path = _quote_path(parts.path)
        url = urlunparse(parts._replace(path=path, fragment=""))
    except ValueError:  # bad IPv6 netloc, unencodable characters
        return None
    return url, parts.fragment


def _fragment_sha256(fragment: str) -> str | None:
    sha256 = None
    for item in fragment.split("&"):
        name, _, value = item.partition("=")
        if name == "sha256":
            sha256 = _sha256(value)
    return sha256


def _quote_path(path: str) -> str:
    """Quote a URL path as pip does (``_ensure_quoted_url``): unquote, then quote again."""
    parts = _RESERVED_RE.split(path)
    return "".join(part.upper() if i % 2 else quote(unquote(part)) for i, part in enumerate(parts))


def _filename(url: str) -> str:
    """The last path segment, unquoted, as pip's ``Link.filename``."""
    parts = urlparse(url)
    return unquote(posixpath.basename(parts.path.rstrip("/")) or parts.netloc)


def _sha256(value: object) -> str | None:
    if isinstance(value, str) and _SHA256_RE.fullmatch(value):
        return value.lower()
    return None
