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
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlparse, urlunparse

from packaging.utils import canonicalize_name

from .errors import CacheFormatError

__all__ = ["IndexFile", "IndexPage", "identify_page", "parse_index_page"]

_WHITESPACE = b"\xef\xbb\xbf \t\r\n"
_SIMPLE_TYPE_PREFIX = "application/vnd.pypi.simple."
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_LINKS_FOR_RE = re.compile(r"links for\s+(\S+)", re.IGNORECASE)
_NAME_RE = re.compile(r"[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]", re.IGNORECASE)  # PEP 508
_DIST_RE = re.compile(r"\.(whl|tar\.gz|zip|tar\.bz2|tar\.xz|tgz|egg)$", re.IGNORECASE)
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_RESERVED_RE = re.compile(r"(@|%2F)", re.IGNORECASE)  # pip keeps these as they are


@dataclass(frozen=True, slots=True)
class IndexFile:
    url: str  # absolute, fragment dropped
    filename: str
    sha256: str | None  # lower-case hex
    has_metadata: bool  # PEP 658/714 metadata advertised (and not false)


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
    if _is_json(data, content_type):
        return _json_page(_load_json(data), page_url)
    return _html_page(_parse_html(data, content_type), page_url)


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


def _json_page(document: Any, page_url: str | None) -> IndexPage:
    match document:
        case {"meta": {"api-version": str()}, "files": list(items)}:
            pass
        case {"meta": {"api-version": str()}, "projects": list()}:
            return IndexPage(None, ())
        case _:
            raise CacheFormatError("the JSON body is not a PEP 691 simple-index page")
    files = []
    for item in items:
        match item:
            case {"filename": str(filename), "url": str(href)}:
                resolved = _resolve(page_url, href)
                if resolved is None:
                    continue
                url, fragment_hash = resolved
                hashes = item.get("hashes")
                sha256 = _sha256(hashes.get("sha256")) if isinstance(hashes, dict) else None
                metadata = item.get("core-metadata")
                if metadata is None:
                    metadata = item.get("dist-info-metadata")
                files.append(
                    IndexFile(url, filename, sha256 or fragment_hash, _has_metadata(metadata))
                )
    return IndexPage(_project(document.get("name")), tuple(files))


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


def _html_page(parser: _PageParser, page_url: str | None) -> IndexPage:
    base = page_url
    if parser.base:
        resolved = _resolve(page_url, parser.base)
        base = resolved[0] if resolved else page_url
    files = []
    for anchor in parser.anchors:
        resolved = _resolve(base, anchor["href"] or "")
        if resolved is None:
            continue
        url, sha256 = resolved
        metadata = anchor.get("data-core-metadata")
        if metadata is None:
            metadata = anchor.get("data-dist-info-metadata")
        files.append(IndexFile(url, _filename(url), sha256, _has_metadata(metadata)))
    return IndexPage(parser.project(), tuple(files))


# --- links -----------------------------------------------------------------------------


def _resolve(base: str | None, href: str) -> tuple[str, str | None] | None:
    """(absolute URL without fragment, sha256 from the fragment); None if unresolvable."""
    try:
        parts = urlparse(urljoin(base, href) if base else href)
        if not parts.scheme:
            return None
        path = _quote_path(parts.path)
        url = urlunparse(parts._replace(path=path, fragment=""))
    except ValueError:  # bad IPv6 netloc, unencodable characters
        return None
    sha256 = None
    for item in parts.fragment.split("&"):
        name, _, value = item.partition("=")
        if name == "sha256":
            sha256 = _sha256(value)
    return url, sha256


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


def _has_metadata(value: object) -> bool:
    """PEP 658/714: a hash dict, ``true`` or ``"true"``/``"sha256=..."``; not false."""
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return isinstance(value, dict) or bool(value)
