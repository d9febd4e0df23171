"""Exact filenames for entries the URL route did not name, from the file lists of cached
index pages.

Pure: pages come in parsed, and the one thing that needs the disk, the body's sha256, is
asked of a callback, only where names and tags leave more than one candidate or none
(computed once: the caller keeps it). A cached file is looked up on the pages of its
project (from its content): by version and, for a wheel, the full tag set its ``WHEEL``
file declares (``parse_wheel_filename`` of the listed names against the name rebuilt from
those tags); then by the sha256 the page gives for the file, or for its ``.metadata``.
A match gives the exact filename and the link as the page writes it; the URL only when
the page's own URL is known and the resolved link hashes to the entry's key (proof).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from ..format.records import key_digest
from ..format.simple import ListedFile, LoadedPage
from ..model import FilenameFrom, Kind, UrlUnknown
from .names import classify
from .urls import cache_key

__all__ = ["Listing", "Match", "PageFiles", "Unnamed", "match"]

#: The kinds of entry a page's file list can name.
MATCHABLE: frozenset[str] = frozenset({"wheel", "sdist", "metadata"})


@dataclass(frozen=True, slots=True)
class Listing:
    """One file on one cached page."""

    file: ListedFile
    kind: Kind  # wheel or sdist
    version: str  # as the filename writes it
    page: str  # the page entry's key
    page_url: str | None  # the page's own URL, when known
    url: str | None  # the link resolved against it


@dataclass(frozen=True, slots=True)
class Unnamed:
    """What an entry's content says, for matching it against the pages."""

    key: str
    kind: Kind  # one of MATCHABLE
    project: str
    version: str
    content_name: str | None  # wheels: rebuilt from WHEEL; sdists: from the top directory


@dataclass(frozen=True, slots=True)
class Match:
    """What the pages say of an entry (``filename`` None: it fits several, or none)."""

    filename: str | None
    filename_from: FilenameFrom | None
    candidates: tuple[str, ...]
    link: str | None
    page: str | None
    url: str | None
    url_unknown: UrlUnknown | None
    sha256: str | None  # the file's hash as the page lists it (not its .metadata's)


class PageFiles:
    """The files that cached pages list, for the projects asked about only (a page lists
    far more than is cached, and most projects' entries are named by their URLs)."""

    def __init__(self, projects: Collection[str]) -> None:
        self._projects = projects
        self._by_project: dict[str, list[Listing]] = {}
        self._releases: dict[str, dict[str, list[Listing]]] = {}  # built when first asked

    def add(self, page_key: str, page_url: str | None, page: LoadedPage) -> None:
        for file in page.listed():
            parsed = _project_version(file.filename)
            if parsed is None or parsed[0] not in self._projects:
                continue
            project, version, kind = parsed
            url = page.resolve(page_url, file.link) if page_url is not None else None
            listing = Listing(file, kind, version, page_key, page_url, url)
            self._by_project.setdefault(project, []).append(listing)

    def extend(self, other: PageFiles, project: str) -> None:
        """Add what ``other``'s pages list of ``project``."""
        if listed := other.project(project):
            self._by_project.setdefault(project, []).extend(listed)
            self._releases.pop(project, None)

    def release(self, project: str, version: str) -> list[Listing]:
        releases = self._releases.get(project)
        if releases is None:
            releases = self._releases[project] = {}
            for listing in self.project(project):
                releases.setdefault(_normal_version(listing.version), []).append(listing)
        return releases.get(version, [])

    def project(self, project: str) -> list[Listing]:
        return self._by_project.get(project, [])


def _project_version(filename: str) -> tuple[str, str, Kind] | None:
    """(project, version as written, kind) of a listed wheel or sdist, cheaply: a page
    lists several files for each cached one, and packaging's full parse of a wheel name
    (every tag) is left to the few that are candidates."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not all(parts):
            return None
        return canonicalize_name(parts[0]), parts[1], "wheel"
    named = classify(filename)
    if named is None or named.kind != "sdist":
        return None
    assert named.project is not None and named.version is not None
    return named.project, named.version, "sdist"


@functools.lru_cache(maxsize=4096)
def _normal_version(version: str) -> str:
    """As the entries' versions are written (their content's, normalized when valid)."""
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def match(entry: Unnamed, files: PageFiles, body_sha256: Callable[[], str | None]) -> Match:
    """Name ``entry`` from the pages' files; ``body_sha256`` is called at most once."""
    listed = files.project(entry.project)
    if not listed:
        return _unlisted(entry)
    candidates = _by_name(entry, files.release(entry.project, entry.version))
    names = _distinct(candidates)
    if len(names) == 1 and (entry.kind != "metadata" or not _hashed(candidates, entry)):
        return _found(entry, candidates)
    # More than one fits, none does, or a .metadata whose hash the page gives (small:
    # checked rather than trusted): the body's sha256 decides.
    digest = body_sha256()
    if digest is not None:
        by_hash = [listing for listing in listed if _listed_sha256(listing, entry) == digest]
        if by_hash or _hashed(candidates, entry) or not candidates:
            return _of(entry, by_hash)  # none: the pages give hashes, none is this body's
    return _of(entry, candidates)


def _of(entry: Unnamed, listings: list[Listing]) -> Match:
    """The one file ``listings`` name, one of several, or none."""
    if not listings:
        return _unlisted(entry)
    return _found(entry, listings) if len(_distinct(listings)) == 1 else _ambiguous(entry, listings)


def _by_name(entry: Unnamed, release: Iterable[Listing]) -> list[Listing]:
    if entry.kind == "metadata":
        return [listing for listing in release if listing.file.has_metadata]
    same_kind = [listing for listing in release if listing.kind == entry.kind]
    if entry.content_name is None:
        return same_kind
    if entry.kind == "wheel":
        wanted = _wheel_tags(entry.content_name)
        return [listing for listing in same_kind if _wheel_tags(listing.file.filename) == wanted]
    extension = _sdist_extension(entry.content_name)
    return [item for item in same_kind if _sdist_extension(item.file.filename) == extension]


@functools.lru_cache(maxsize=4096)
def _wheel_tags(filename: str) -> tuple[object, frozenset[Tag]] | None:
    """The build tag and the full tag set a wheel's name gives (compressed sets expanded)."""
    try:
        _name, _version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return build, tags


def _sdist_extension(filename: str) -> str:
    lowered = filename.lower()
    for extension in (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tar", ".zip"):
        if lowered.endswith(extension):
            return extension
    return ""


def _listed_sha256(listing: Listing, entry: Unnamed) -> str | None:
    if entry.kind == "metadata":
        return listing.file.metadata_sha256
    return listing.file.sha256


def _hashed(listings: Iterable[Listing], entry: Unnamed) -> bool:
    return any(_listed_sha256(listing, entry) is not None for listing in listings)


def _distinct(listings: Iterable[Listing]) -> list[str]:
    return list(dict.fromkeys(listing.file.filename for listing in listings))


def _suffix(entry: Unnamed) -> str:
    return ".metadata" if entry.kind == "metadata" else ""


def _found(entry: Unnamed, listings: list[Listing]) -> Match:
    suffix = _suffix(entry)
    url = next((u for listing in listings if (u := _proven_url(entry, listing))), None)
    first = listings[0]
    why: UrlUnknown | None = None
    if url is None:
        known = any(listing.page_url is not None for listing in listings)
        why = "link-elsewhere" if known else "page-url-unknown"
    sha256 = first.file.sha256 if entry.kind != "metadata" else None
    return Match(
        first.file.filename + suffix, "page", (), first.file.link + suffix, first.page, url,
        why, sha256,
    )  # fmt: skip


def _ambiguous(entry: Unnamed, listings: list[Listing]) -> Match:
    names = tuple(name + _suffix(entry) for name in _distinct(listings))
    known = any(listing.page_url is not None for listing in listings)
    why: UrlUnknown = "link-elsewhere" if known else "page-url-unknown"
    return Match(None, None, names, None, listings[0].page, None, why, None)


def _unlisted(entry: Unnamed) -> Match:
    kind_from: FilenameFrom | None = "content" if entry.content_name else None
    return Match(entry.content_name, kind_from, (), None, None, None, "not-listed", None)


def _proven_url(entry: Unnamed, listing: Listing) -> str | None:
    """The listing's link resolved against its page's URL, if that is the entry's key."""
    if listing.url is None:
        return None
    url = listing.url + _suffix(entry)
    try:
        return url if key_digest(cache_key(url)) == entry.key else None
    except ValueError:  # a URL urlsplit refuses: pip could not have requested it
        return None
