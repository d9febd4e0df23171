"""The objects every module passes around: files on disk and cache entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

Source = Literal["http-v2", "http", "wheels"]
Kind = Literal["wheel", "sdist", "metadata", "index", "other", "invalid"]
#: How a filename was established: from the entry's URL, from a cached index page that
#: lists the file (by name, tags or hash), rebuilt from the body's content, or the name of
#: the file itself (a wheel pip built, in ``wheels/``).
FilenameFrom = Literal["url", "page", "content", "file"]
#: Why an entry's URL is not known.
UrlUnknown = Literal[
    "page-url-unknown",  # a cached page lists it, but the page's own URL is not known
    "link-elsewhere",  # the page that lists it links a URL that is not this entry's key
    "not-listed",  # no cached index page lists it
    "index-unknown",  # an index page whose URL is under no known index
    "no-origin",  # a built wheel without origin.json
]

#: What long work is doing, for a progress display: "walking" the tree, "naming" (the
#: index pages read and every entry named), then a command's own phase. "migrating"
#: counts bytes; the others count entries (files for "removing" and "syncing").
Phase = Literal[
    "walking", "naming", "checking", "hashing", "exporting", "migrating", "syncing", "removing"
]
#: Told ``(phase, done, total)`` as work goes; ``total`` is None while it is not known.
#: ``done == total`` ends the phase.
Progress = Callable[[Phase, int, int | None], None]

SOURCES: tuple[Source, ...] = get_args(Source)
KINDS: tuple[Kind, ...] = get_args(Kind)
FILENAME_FROM: tuple[FilenameFrom, ...] = get_args(FilenameFrom)
URL_UNKNOWN: tuple[UrlUnknown, ...] = get_args(UrlUnknown)
#: Directory of each source under the cache dir.
SOURCE_DIRS: dict[Source, str] = {"http-v2": "http-v2", "http": "http", "wheels": "wheels"}


@dataclass(frozen=True, slots=True)
class FileStat:
    """One file of an entry, as ``os.scandir`` saw it (``lstat``: links are not followed).

    The path is kept as the string scandir gave: a ``Path`` per file costs tens of
    thousands of parses on a big cache, and most files are never asked for one.
    """

    where: str
    size: int
    mtime: float
    atime: float

    @property
    def path(self) -> Path:
        return Path(self.where)


@dataclass(frozen=True, slots=True)
class RawEntry:
    """What the walk found: the files of one entry, not yet opened.

    ``files[0]`` is the entry's main file: http-v2 metadata, the legacy ``http/`` file,
    the built ``.whl``, or a stray file. For http-v2 ``files[1]`` is the ``.body``; for
    built wheels it is ``origin.json`` when present.
    """

    source: Source
    files: tuple[FileStat, ...]
    key: str | None = None
    problem: str | None = None
    has_body_file: bool = False

    @property
    def path(self) -> Path:
        return self.files[0].path

    @property
    def where(self) -> str:
        """:attr:`path` as a string (cheaper)."""
        return self.files[0].where

    @property
    def body_path(self) -> Path | None:
        return self.files[1].path if self.has_body_file else None

    @property
    def body_where(self) -> str | None:
        return self.files[1].where if self.has_body_file else None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def last_used(self) -> float:
        """Newest atime or mtime of the entry's files."""
        return max(max(f.atime, f.mtime) for f in self.files)

    @property
    def mtime(self) -> float:
        return max(f.mtime for f in self.files)


@dataclass(frozen=True, slots=True)
class Naming:
    """How an entry was named, and what naming it again needs without reading its body."""

    filename_from: FilenameFrom | None = None  # None: no filename is known
    candidates: tuple[str, ...] = ()  # the files it is one of, when several fit
    link: str | None = None  # the file's link as the page that lists it writes it
    page: str | None = None  # the key of that page's entry
    url_unknown: UrlUnknown | None = None  # why the URL is not known (None: it is)
    body_sha256: str | None = None  # of the (decoded) body, when it had to be hashed
    content_name: str | None = None  # the filename its content gives (wheels: rebuilt)
    redirect: str | None = None  # the Location of a cached redirect, as sent


NO_NAMING = Naming()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """An entry and what it holds. ``kind == "invalid"`` entries carry a ``problem``."""

    raw: RawEntry
    kind: Kind
    project: str | None = None
    version: str | None = None
    filename: str | None = None
    url: str | None = None
    stored: float | None = None  # Date header as a timestamp; None: use the file's mtime
    problem: str | None = None
    sha256: str | None = None  # the file's hash as a cached index page lists it (lower hex)
    naming: Naming = NO_NAMING

    @property
    def source(self) -> Source:
        return self.raw.source

    @property
    def stored_time(self) -> float:
        return self.stored if self.stored is not None else self.raw.mtime

    def with_url(self, url: str | None) -> CacheEntry:
        return replace(self, url=url)

    def with_sha256(self, sha256: str | None) -> CacheEntry:
        return replace(self, sha256=sha256)


def invalid(raw: RawEntry, problem: str) -> CacheEntry:
    return CacheEntry(raw=raw, kind="invalid", problem=problem)
