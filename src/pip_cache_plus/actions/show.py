"""``show``: everything about matching entries, answering "where does my cached file come from?".

:func:`freshness` is pure: a ``CachedResponse`` and a time in, whether pip would serve the
response without asking the server out. cachecontrol answers it: its
``CacheController.parse_cache_control`` reads the directives, its header mapping
(``requests``' ``CaseInsensitiveDict``: of two names that differ only in case the last
counts) looks the headers up, and the steps are those of ``CacheController.cached_request``
(what pip really does, not the RFC), which reads ``time.time()`` itself and so cannot take
``now``; ``tests/format/test_cachecontrol_agrees.py`` holds these steps to
``cached_request`` of the declared cachecontrol and of pip's vendored copy:

- 301/308 responses are served forever, whatever their headers say;
- without a ``Date`` header a response is never served without asking;
- the lifetime is the response's ``max-age``, else ``Expires - Date`` (at least 0);
- dates are read with ``parsedate_tz`` and ``timegm`` of the first six fields, so a zone
  offset is ignored, for ``Date`` and ``Expires`` alike;
- fresh means ``lifetime > max(0, now - Date)``;
- ``immutable`` is not a directive cachecontrol knows: it changes nothing, and is only noted.

An unparsable ``Date`` makes cachecontrol raise (an ``assert``; pip's request fails); we
call it stale (``bad-date``). A stale entry with an ``ETag`` is revalidated (a 304 keeps
the cached body); one without is fetched again. Request headers are not modelled: pip <
26.2 asks for index pages with ``max-age=0``, so it revalidates them however fresh they are
(see :attr:`Shown.note`).
"""

from __future__ import annotations

import calendar
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_tz
from typing import TYPE_CHECKING, Literal

from ..errors import CacheFormatError, unreadable
from ..format.records import CachedResponse
from ..fs.fsio import read_all
from ..inventory.responses import read_response
from ..inventory.urls import redact
from ..model import CacheEntry, Source

if TYPE_CHECKING:
    from cachecontrol.controller import CacheController

Basis = Literal[
    "max-age", "expires", "bad-expires", "none", "no-date", "bad-date", "permanent-redirect"
]

#: Which pips read each part of the cache (FORMAT.md, "The directories").
READERS: dict[Source, str] = {
    "http": "pip < 23.3",
    "http-v2": "pip >= 23.3",
    "wheels": "all pips",
}
#: Response headers ``show`` reports, in this order and spelling (servers choose the case).
SHOWN_HEADERS = (
    "ETag",
    "Last-Modified",
    "Cache-Control",
    "Expires",
    "Date",
    "Content-Length",
    "Content-Type",
    "Content-Encoding",
    "Vary",
)
# Keep "until" printable: datetime cannot go past year 9999.
_LATEST = 253402300799.0
_MAX_ORIGIN_JSON = 1024 * 1024
_INDEX_NOTE = "pip < 26.2 revalidates index pages on every use, however fresh they are"


@dataclass(frozen=True, slots=True)
class Freshness:
    """Whether pip would use a cached response without asking the server, and until when."""

    fresh: bool
    basis: Basis  # what decided it
    lifetime: int | None  # seconds from Date it may be served unasked; None: unlimited/unknown
    until: float | None  # when it stops (or stopped) being fresh; None: never, or unknown
    immutable: bool  # Cache-Control says immutable (noted only: cachecontrol ignores it)
    revalidate: bool  # once stale, pip asks with If-None-Match (it has an ETag)


@dataclass(frozen=True, slots=True)
class Origin:
    """A built wheel's ``origin.json`` (PEP 610): the sdist (or VCS) URL it was built from."""

    url: str | None  # redacted
    hash: str | None  # ``sha256=<hex>`` style, as pip records it
    commit: str | None  # VCS commit id, for wheels built from a VCS checkout


@dataclass(frozen=True, slots=True)
class Shown:
    """One entry as ``show`` tells it."""

    entry: CacheEntry
    read_by: str
    freshness: Freshness | None  # None: built wheels (never expire) and unreadable entries
    headers: tuple[tuple[str, str], ...]  # (name from SHOWN_HEADERS, value)
    origin: Origin | None
    note: str | None = None
    problem: str | None = None  # the entry's problem, or why its response cannot be read


def freshness(response: CachedResponse, now: float) -> Freshness:
    """Would cachecontrol serve ``response`` at ``now`` without asking? (See the module doc.)"""
    # Imported here: cachecontrol brings requests (~80 ms), which info and list never need.
    from cachecontrol.controller import PERMANENT_REDIRECT_STATUSES
    from requests.structures import CaseInsensitiveDict

    headers: Mapping[str, str] = CaseInsensitiveDict(dict(response.headers))
    directives = _controller().parse_cache_control(headers)
    immutable = _says_immutable(headers.get("cache-control", ""))
    revalidate = "etag" in headers

    def result(fresh: bool, basis: Basis, lifetime: int | None, until: int | None) -> Freshness:
        # Clamp before float(): max-age may be any integer, even one too big for a float.
        end = None if until is None else float(min(max(until, 0), _LATEST))
        return Freshness(fresh, basis, lifetime, end, immutable, revalidate)

    if response.status in PERMANENT_REDIRECT_STATUSES:
        return result(True, "permanent-redirect", None, None)
    if "date" not in headers:
        return result(False, "no-date", None, None)
    date = http_date(headers["date"])
    if date is None:
        return result(False, "bad-date", None, None)
    basis: Basis
    max_age = directives.get("max-age")
    if max_age is not None:
        basis, lifetime = "max-age", max_age
    elif "expires" in headers:
        expires = http_date(headers["expires"])
        basis = "bad-expires" if expires is None else "expires"
        lifetime = 0 if expires is None else max(0, expires - date)
    else:
        basis, lifetime = "none", 0
    age = max(0.0, now - date)
    return result(lifetime > age, basis, lifetime, date + lifetime)


@functools.cache
def _controller() -> CacheController:
    from cachecontrol.controller import CacheController

    return CacheController()


def cache_control(value: str) -> dict[str, int | None]:
    """A ``Cache-Control`` value's directives, as cachecontrol's ``parse_cache_control``
    keeps them: only those it knows, names case-sensitive, integer ones only with a value
    ``int()`` accepts."""
    return _controller().parse_cache_control({"cache-control": value})


def _says_immutable(value: str) -> bool:
    return any(item.partition("=")[0].strip().lower() == "immutable" for item in value.split(","))


def http_date(value: str) -> int | None:
    """An HTTP date as cachecontrol reads it (zone offset ignored); None if unparsable."""
    try:
        parsed = parsedate_tz(value)
        return None if parsed is None else calendar.timegm(parsed[:6])
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def shown_headers(response: CachedResponse) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, value) for name in SHOWN_HEADERS if (value := response.header(name)) is not None
    )


def show_entry(entry: CacheEntry, now: float) -> Shown:
    """Read what ``show`` tells about one identified entry (headers, origin.json)."""
    read_by = READERS[entry.source]
    if entry.kind == "invalid":
        return Shown(entry, read_by, None, (), None, problem=entry.problem)
    if entry.source == "wheels":
        return Shown(entry, read_by, None, (), read_origin(entry))
    note = _INDEX_NOTE if entry.kind == "index" else None
    try:
        response = read_response(entry.raw).response
    except CacheFormatError as exc:
        return Shown(entry, read_by, None, (), None, note, str(exc))
    except OSError as exc:
        return Shown(entry, read_by, None, (), None, note, unreadable(exc))
    return Shown(entry, read_by, freshness(response, now), shown_headers(response), None, note)


def show_entries(entries: Iterable[CacheEntry], now: float) -> list[Shown]:
    return [show_entry(entry, now) for entry in entries]


def read_origin(entry: CacheEntry) -> Origin | None:
    """A built wheel's ``origin.json``; None if it has none or it cannot be read."""
    raw = entry.raw
    if raw.source != "wheels" or len(raw.files) < 2:
        return None
    try:
        data = json.loads(read_all(raw.files[1].path, _MAX_ORIGIN_JSON))
    except (OSError, ValueError, RecursionError):  # "[[[[...": json recurses per level
        return None
    if not isinstance(data, dict):
        return None
    url = data.get("url")
    return Origin(
        redact(url) if isinstance(url, str) else None, _origin_hash(data), _origin_commit(data)
    )


def _origin_hash(data: dict[str, object]) -> str | None:
    match data.get("archive_info"):
        case {"hashes": {"sha256": str(sha256)}}:
            return f"sha256={sha256}"
        case {"hash": str(legacy_hash)}:
            return legacy_hash
    return None


def _origin_commit(data: dict[str, object]) -> str | None:
    match data.get("vcs_info"):
        case {"commit_id": str(commit)}:
            return commit
    return None
