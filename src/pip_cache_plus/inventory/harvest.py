"""Index base URLs found in the cache itself, and file URLs built from them: each proven.

When no configured index names a cached page, the cache still holds clues to where it
came from: the absolute links of pages whose own URL is unknown, the ``url`` of each
built wheel's ``origin.json``, and the ``Location`` of cached redirects. Each clue's
directories, and those with ``simple/`` or ``+simple/`` added, are *candidate* bases. A
candidate counts only when a URL built from it hashes (sha224, the entry's name) to the
key of an entry that exists: a page's ``<base><project>/``, or a file's URL. That is a
proof; a candidate that names nothing is rejected, never shown.

Where a server's pages are not cached at all (pypiserver sends no cache headers for them,
so pip keeps only the files), file URLs are built from a known base and the filename the
body's content gives, in the layouts common servers use (:func:`file_urls`): pypiserver's
``<root>/packages/<file>``, Nexus's ``<root>/packages/<project>/<version>/<file>``, and
layouts that embed a digest of the file, computed from the body (streamed, and only when
the layouts without one prove nothing): warehouse's (PyPI) ``/packages/<b2>/<b2>/<rest>/``
of the blake2b-256, devpi's ``+f/<sha256[:3]>/<sha256[3:16]>/`` and GitLab's
``files/<sha256>/``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from typing import TypeVar
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from ..errors import CacheFormatError
from ..format import streams
from ..format.records import key_digest
from ..model import CacheEntry, Naming, RawEntry
from .names import classify
from .responses import BodyRef, open_body, read_response
from .urls import cache_key, redact, url_filename

__all__ = [
    "REDIRECT_STATUSES",
    "Digests",
    "Harvest",
    "body_digests",
    "candidate_bases",
    "clues",
    "file_urls",
    "location_of",
    "prove",
]

#: Statuses whose cached response says where it points (its Location).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The index under a server root, as servers name it (devpi's is "+simple/").
_INDEX_DIRS = ("simple/", "+simple/")
_INDEX_SUFFIXES = tuple("/" + name for name in _INDEX_DIRS)
#: Clue links read from one page: a page's files share one or two directories.
LINKS_PER_PAGE = 8
_PIP_RESERVED = re.compile("(@|%2F)", re.IGNORECASE)  # pip's _reserved_chars_re
_MAX_DEPTH = 16  # directories of a clue's path tried, from the root
_PYPI_HOSTS = frozenset({"pypi.org", "pypi.python.org"})
_PYPI_FILES = "https://files.pythonhosted.org/"
_CHUNK = 1 << 20
#: The kinds whose URL a layout can give (a .metadata entry's comes from its file's).
_LAYOUT_KINDS = frozenset({"wheel", "sdist"})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Harvest:
    """Candidate bases found in the cache: those a cached page proved, the others."""

    proven: tuple[str, ...]
    rejected: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Digests:
    """Digests of a body (the file as served, after any Content-Encoding), lower hex."""

    sha256: str
    blake2b_256: str


def clue_sources(firsts: Iterable[tuple[RawEntry, T]]) -> list[tuple[RawEntry, T]]:
    """The few entries :func:`clues` reads: built wheels that name an origin, redirects."""
    return [
        (raw, first)
        for raw, first in firsts
        if (isinstance(first, CacheEntry) and first.source == "wheels" and first.url)
        or getattr(first, "status", None) in REDIRECT_STATUSES
    ]


def clues(firsts: Iterable[tuple[RawEntry, object]]) -> Iterator[str]:
    """The URLs that entries already read give away: built wheels' origin URLs, and the
    Location of each cached redirect (``firsts``: an entry and its answer, or anything
    with the ``status`` of its response); read lazily, when a page needs them."""
    for raw, first in firsts:
        if isinstance(first, CacheEntry):
            if first.source == "wheels" and first.url is not None:
                yield first.url
        elif getattr(first, "status", None) in REDIRECT_STATUSES:
            location = location_of(raw)
            if location is not None:
                yield location


def location_of(raw: RawEntry) -> str | None:
    """The Location of a cached redirect, or None (not a redirect, or unreadable)."""
    try:
        response = read_response(raw).response
    except (CacheFormatError, OSError):
        return None
    if response.status not in REDIRECT_STATUSES:
        return None
    return response.header("location")


def candidate_bases(clues: Iterable[str]) -> list[str]:
    """The bases the clue URLs suggest, nearest first: each directory of a clue's path
    (``/a/b/c.whl``: ``/a/b/``, ``/a/``, ``/``), and each with ``simple/`` and
    ``+simple/`` added. Relative clues (a redirect's ``/simple/x/``) are joined to the
    servers the absolute ones name."""
    absolute: dict[str, None] = {}
    relative: dict[str, None] = {}
    for clue in clues:
        parts = _split(clue)
        if parts is None:
            continue
        scheme, netloc, path = parts
        if scheme and netloc:
            absolute[urlunsplit((scheme, netloc, path, "", ""))] = None
        elif path.startswith("/"):
            relative[path] = None
    servers = {urlunsplit((*urlsplit(url)[:2], "/", "", "")) for url in absolute}
    for path in relative:
        absolute.update((urljoin(server, path), None) for server in sorted(servers))
    bases: dict[str, None] = {}
    for url in absolute:
        for directory in _directories(url):
            bases[directory] = None
            bases.update((directory + name, None) for name in _INDEX_DIRS)
    return list(bases)


def _split(url: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(url)
    except ValueError:  # a broken IPv6 host: no URL can be built from it
        return None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        return None
    return parts.scheme.lower(), parts.netloc, parts.path or "/"


def _directories(url: str) -> Iterator[str]:
    head, _, path = url.partition("://")
    host, slash, rest = path.partition("/")
    # The last one is a file (or "" after a "/"); a server's paths are a few levels deep,
    # and a clue from the cache (untrusted) must not cost its length squared.
    segments = rest.split("/", _MAX_DEPTH + 1)[:-1][:_MAX_DEPTH]
    for end in range(len(segments), -1, -1):
        yield f"{head}://{host}{slash or '/'}" + "".join(s + "/" for s in segments[:end])


def prove(
    bases: Iterable[str], attempt: Callable[[str], bool], *, known: Collection[str] = ()
) -> Harvest:
    """Split ``bases`` into the proven (``attempt(base)`` names an entry) and the
    rejected; bases in ``known`` (PyPI's, the configured ones) are not tried again."""
    proven: list[str] = []
    rejected: list[str] = []
    for base in bases:
        if base in known:
            continue
        (proven if attempt(base) else rejected).append(base)
    return Harvest(tuple(proven), tuple(rejected))


def proves(url: str, key: str) -> bool:
    """Whether ``url`` is the URL of the entry named ``key`` (its cache key's sha224)."""
    try:
        return key_digest(cache_key(url)) == key
    except ValueError:  # urlsplit refuses it: pip could not have fetched it
        return False


# File URLs in the layouts servers use ------------------------------------------------------


def file_urls(
    base: str,
    filename: str,
    project: str | None,
    version: str | None,
    digests: Digests | None,
) -> Iterator[str]:
    """URLs the file ``filename`` may have under the index ``base``, in the layouts
    common servers use; with ``digests``, only the layouts that embed one. Each is
    quoted as pip quotes a link before fetching it (devpi's ``+f`` becomes ``%2Bf``)."""
    return (_as_pip_fetches(url) for url in _layouts(base, filename, project, version, digests))


def _layouts(
    base: str,
    name: str,
    project: str | None,
    version: str | None,
    digests: Digests | None,
) -> Iterator[str]:
    root = _root(base)
    if digests is None:
        yield f"{root}packages/{name}"  # pypiserver
        yield f"{root}files/{name}"
        yield f"{base.rstrip('/')}/{name}"  # a flat directory served as the index
        if project is not None and version is not None:
            yield f"{root}packages/{project}/{version}/{name}"  # Nexus
        return
    b2, sha = digests.blake2b_256, digests.sha256
    warehouse = f"packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{name}"
    if urlsplit(base).hostname in _PYPI_HOSTS:
        yield _PYPI_FILES + warehouse  # PyPI serves its files from another host
    yield root + warehouse  # warehouse itself, proxies that mirror its paths
    yield f"{root}packages/{warehouse}"  # Artifactory's PyPI remotes
    yield f"{root}+f/{sha[:3]}/{sha[3:16]}/{name}"  # devpi
    yield f"{root}files/{sha}/{name}"  # GitLab


def _as_pip_fetches(url: str) -> str:
    """pip's ``_clean_link``: each part of the path between ``@`` and ``%2F`` unquoted
    and quoted again (so ``+`` is ``%2B``), those two kept (``%2F`` upper-cased)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pieces = _PIP_RESERVED.split(parts.path)
    path = "".join(
        quote(unquote(piece)) if i % 2 == 0 else piece.upper() for i, piece in enumerate(pieces)
    )
    return urlunsplit(parts._replace(path=path))


def _root(base: str) -> str:
    """The server directory an index lives in: ``http://h/x/simple/`` -> ``http://h/x/``."""
    base = base.rstrip("/") + "/"
    for name in _INDEX_DIRS:
        if base.endswith("/" + name):
            return base[: -len(name)]
    return base


def body_digests(body: BodyRef, content_encoding: str | None) -> Digests | None:
    """sha256 and blake2b-256 of the body as the file it is, in one streamed pass; None if
    it cannot be read or decoded."""
    sha256, blake2b = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    try:
        with open_body(body) as fp:
            stream = streams.open_decoded(
                fp, content_encoding, limit=streams.decode_limit(body.length)
            )
            while chunk := stream.read(_CHUNK):
                sha256.update(chunk)
                blake2b.update(chunk)
    except (CacheFormatError, OSError):
        return None
    return Digests(sha256.hexdigest(), blake2b.hexdigest())


# Naming entries by layout ------------------------------------------------------------------


def by_layout(
    answers: list[CacheEntry],
    index_urls: Iterable[str],
    harvest: Harvest | None,
    clue_urls: Iterable[str],
    keys: Collection[str],
) -> list[CacheEntry]:
    """``answers``, with the URL of each wheel or sdist that has none proven from a layout
    (:func:`file_urls`) under a known base: PyPI's (the first of ``index_urls``), those
    the harvest proved, and for the layouts without a digest also the directories the
    ``clue_urls`` share most; then the rest of ``index_urls`` (the configured ones, whose
    loading imports pip: only if an entry is still unnamed). A file so named also names
    its ``.metadata`` entry, when that is cached."""
    todo = [i for i, entry in enumerate(answers) if _unnamed(entry)]
    if not todo:
        return answers
    given = iter(index_urls)
    first = [*islice(given, 1), *(harvest.proven if harvest else ())]
    clue_dirs = _shared_directories(clue_urls)
    rest: list[str] | None = None
    by_key = {e.raw.key: i for i, e in enumerate(answers) if e.raw.key is not None}
    for i in todo:
        entry = answers[i]
        digests: list[Digests | None] = []  # computed at most once, when a layout needs it
        url = _layout_url(entry, [*first, *clue_dirs], first, digests)
        if url is None:
            rest = [u for u in given if u not in first] if rest is None else rest
            url = _layout_url(entry, rest, rest, digests)
        if url is None or (named := classify(url_filename(url))) is None:
            continue
        sha256 = digests[0].sha256 if digests and digests[0] else entry.naming.body_sha256
        answers[i] = replace(
            entry, kind=named.kind, project=named.project, version=named.version,
            filename=named.filename, url=redact(url), naming=_named_by_url(entry, sha256),
        )  # fmt: skip
        j = by_key.get(key_digest(cache_key(url + ".metadata")))
        if j is not None and answers[j].kind == "metadata" and answers[j].url is None:
            answers[j] = replace(
                answers[j], project=named.project, version=named.version,
                filename=named.filename + ".metadata", url=redact(url + ".metadata"),
                naming=_named_by_url(answers[j], answers[j].naming.body_sha256),
            )  # fmt: skip
    return answers


#: Clue directories tried for the layouts without a digest: each costs a few hashes per
#: unnamed entry, and a digest layout's directories (one per file) name no other file.
SHARED_DIRECTORIES = 16


def _shared_directories(clue_urls: Iterable[str]) -> list[str]:
    """The directories of the clues (bare, no index name added), those most clues share
    first: a server's files directory and its root, not one file's digest directory."""
    counts: dict[str, int] = {}
    for clue in clue_urls:
        for directory in candidate_bases([clue]):
            if not directory.endswith(_INDEX_SUFFIXES):
                counts[directory] = counts.get(directory, 0) + 1
    ranked = sorted(counts, key=lambda d: -counts[d])  # stable: nearest first among equals
    return ranked[:SHARED_DIRECTORIES]


def _named_by_url(entry: CacheEntry, body_sha256: str | None) -> Naming:
    """The naming of an entry whose URL a layout proved: its filename is the URL's."""
    return Naming("url", body_sha256=body_sha256, content_name=entry.naming.content_name)


def _names(entry: CacheEntry) -> list[str]:
    """The filenames the entry may have: the one given, the one its content gives, and
    those of the files it is one of (each is tried; only a proven URL counts)."""
    naming = entry.naming
    given = [entry.filename, naming.content_name, *naming.candidates]
    return [name for name in dict.fromkeys(given) if name is not None]


def _unnamed(entry: CacheEntry) -> bool:
    return (
        entry.url is None
        and entry.kind in _LAYOUT_KINDS
        and entry.raw.key is not None
        and entry.source != "wheels"
        and bool(_names(entry))
    )


def _layout_url(
    entry: CacheEntry, plain: list[str], hashed: list[str], digests: list[Digests | None]
) -> str | None:
    """The first URL that proves itself: layouts without a digest under ``plain``, then
    (the body hashed only now, once: ``digests`` keeps it) those with one under
    ``hashed``."""
    assert entry.raw.key is not None
    key, names = entry.raw.key, _names(entry)
    for base in plain:
        for name in names:
            for url in file_urls(base, name, entry.project, entry.version, None):
                if proves(url, key):
                    return url
    if not hashed:
        return None
    if not digests:
        digests.append(_digests_of(entry.raw))
    if digests[0] is None:
        return None
    for base in hashed:
        for name in names:
            for url in file_urls(base, name, entry.project, entry.version, digests[0]):
                if proves(url, key):
                    return url
    return None


def _digests_of(raw: RawEntry) -> Digests | None:
    try:
        read = read_response(raw)
    except (CacheFormatError, OSError):
        return None
    return body_digests(read.body, read.response.header("content-encoding"))
