"""``verify``: is every entry whole? Reads only; never changes the cache (atimes included).

Always: every entry parses (the walk and identification already flag half entries, links,
leftovers and unreadable metadata), the body is as long as ``Content-Length`` says (the raw
body: with a ``Content-Encoding`` both are the encoded length), and every zip (wheels,
downloaded or built) has a readable central directory whose members each start with a
local header and do not overlap. That reads the zip's tail and 30 bytes per member, never
the whole body.

``deep`` also streams every body: each zip member is decompressed in bounded chunks and its
CRC-32 and size checked; a body with a ``Content-Encoding`` must decode cleanly (gzip has a
CRC too), as must a gzip file (a ``.tar.gz`` sdist); and where a cached index page lists
the file's sha256 the body must hash to it. Bodies verify cannot decode (an encoding or a
zip compression method it does not read with bounded memory) are noted, not failed.

Leftovers a running pip may still finish (a ``.tmp`` file, a ``.body`` whose metadata is
not written yet) are not reported until they are an hour old.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from ..errors import CacheFormatError, unreadable
from ..format import streams
from ..format.records import CachedResponse
from ..format.zipcheck import ZIP_MAGIC, zip_problems
from ..fs.fsio import open_quietly, read_all
from ..inventory.entries import PROBLEM_NO_BODY, PROBLEM_NO_META, PROBLEM_TMP
from ..inventory.responses import (
    ReadResponse,
    body_length_problem,
    is_length_problem,
    open_body,
    read_response,
)
from ..model import CacheEntry, Source

#: "unchecked" is a note, not a problem: a body or zip member verify cannot safely decode.
Check = Literal["entry", "length", "zip", "crc", "encoding", "sha256", "unchecked"]
Progress = Callable[[int, int], None]

#: Leftovers younger than this may belong to a pip that is still writing.
IN_PROGRESS_GRACE = 3600.0
#: A Content-Encoded body may decode to at most this many times its size (+ 1 MiB).
DECODE_MAX_RATIO = streams.DECODE_MAX_RATIO
_CHUNK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_CONTENT_STATUSES = (200, 203)
_MAX_ORIGIN_JSON = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one entry: the file at fault and a one-line reason."""

    path: Path
    source: Source
    check: Check
    message: str
    filename: str | None = None  # what the entry holds, when known ("index page of x")


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``verify`` found. ``ok`` when there are no problems."""

    cache_dir: Path
    deep: bool
    entries: int  # entries looked at
    hashed: int  # bodies compared with an index page's sha256 (deep only)
    zips: int  # zip archives checked
    problems: tuple[Problem, ...]
    in_progress: int  # recent leftovers of a pip that may still be writing: not reported
    notes: tuple[Problem, ...] = ()  # what could not be checked; not problems

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_entries(self) -> int:
        return len({(p.source, p.path) for p in self.problems})


@dataclass(slots=True)
class _Tally:
    hashed: int = 0
    zips: int = 0


def verify_entries(
    entries: Sequence[CacheEntry],
    cache_dir: Path,
    *,
    now: float,
    deep: bool = False,
    on_progress: Progress | None = None,
) -> Verification:
    """Check identified entries (see the module doc); ``on_progress(done, total)`` per entry."""
    found: list[Problem] = []
    tally = _Tally()
    in_progress = 0
    for done, entry in enumerate(entries, 1):
        if _in_progress(entry, now):
            in_progress += 1
        else:
            found.extend(check_entry(entry, deep=deep, tally=tally))
        if on_progress is not None:
            on_progress(done, len(entries))
    problems = tuple(p for p in found if p.check != "unchecked")
    notes = tuple(p for p in found if p.check == "unchecked")
    return Verification(
        cache_dir, deep, len(entries), tally.hashed, tally.zips, problems, in_progress, notes
    )


def _in_progress(entry: CacheEntry, now: float) -> bool:
    recent = now - entry.raw.mtime < IN_PROGRESS_GRACE
    # cachecontrol writes an http-v2 entry's metadata, then its body (so a pip at work
    # leaves metadata alone for a moment); migrate writes the body first.
    return recent and entry.raw.problem in (PROBLEM_TMP, PROBLEM_NO_BODY, PROBLEM_NO_META)


def check_entry(entry: CacheEntry, *, deep: bool, tally: _Tally | None = None) -> list[Problem]:
    """Every problem of one entry (empty when it is whole)."""
    tally = tally if tally is not None else _Tally()
    if entry.kind == "invalid":
        if entry.source != "wheels" and is_length_problem(entry.problem):
            return _check_http(entry, deep, tally)  # which names the body file and size
        return [_problem(entry, entry.raw.path, "entry", entry.problem or "invalid entry")]
    if entry.source == "wheels":
        return _check_built_wheel(entry, deep, tally)
    return _check_http(entry, deep, tally)


def _check_http(entry: CacheEntry, deep: bool, tally: _Tally) -> list[Problem]:
    try:
        return _check_http_files(entry, deep, tally)
    except FileNotFoundError:
        return []  # removed since the walk (pip cache purge?): nothing left to be wrong
    except OSError as exc:  # name the file at fault: the .body, when it is the one
        path = Path(exc.filename) if isinstance(exc.filename, str) else entry.raw.path
        return [_problem(entry, path, "entry", _os_reason(exc))]


def _check_http_files(entry: CacheEntry, deep: bool, tally: _Tally) -> list[Problem]:
    try:
        read = read_response(entry.raw)
    except CacheFormatError as exc:
        return [_problem(entry, entry.raw.path, "entry", str(exc))]
    body_path = entry.raw.body_path or entry.raw.path
    message = length_problem(read.response, read.body.length)
    if message is not None:
        return [_problem(entry, body_path, "length", message)]
    if read.response.status not in _CONTENT_STATUSES:
        return []  # a redirect's body is not the file its URL names
    return _check_http_body(entry, read, body_path, deep, tally)


def length_problem(response: CachedResponse, length: int) -> str | None:
    """Why a raw body of ``length`` bytes does not fit the response's Content-Length."""
    return body_length_problem(response.status, response.header("content-length"), length)


def _check_http_body(
    entry: CacheEntry, read: ReadResponse, path: Path, deep: bool, tally: _Tally
) -> list[Problem]:
    encoding = _encoding(read.response)
    with open_body(read.body) as raw:
        if encoding is None:
            return _check_body(entry, raw, path, deep, tally)
        if not deep:
            return []  # checking a zip inside a Content-Encoding needs the whole body decoded
        limit = _decode_limit(read.body.length)
        try:
            stream = streams.open_decoded(raw, encoding, limit=limit)
        except CacheFormatError as exc:  # an encoding we cannot decode is not an error
            return [_problem(entry, path, "unchecked", str(exc))]
        try:
            decoded = streams.spool(stream, limit=limit)
        except CacheFormatError as exc:
            return [_problem(entry, path, "encoding", f"{encoding} body does not decode: {exc}")]
        with decoded:
            return _check_body(entry, decoded, path, deep, tally)


def _decode_limit(size: int) -> int:
    return streams.decode_limit(size)


def _encoding(response: CachedResponse) -> str | None:
    value = (response.header("content-encoding") or "").strip()
    return None if value.lower() in ("", "identity") else value


def _check_body(
    entry: CacheEntry, body: BinaryIO, path: Path, deep: bool, tally: _Tally
) -> list[Problem]:
    """Zip and hash checks of a plain (decoded) seekable body."""
    problems: list[Problem] = []
    head = body.read(len(ZIP_MAGIC))
    body.seek(0)
    if entry.kind == "wheel" and head != ZIP_MAGIC:
        problems.append(_problem(entry, path, "zip", "a wheel, but not a zip archive"))
    elif head == ZIP_MAGIC:
        tally.zips += 1
        problems += [_problem(entry, path, c, m) for c, m in zip_problems(body, deep=deep)]
    elif deep and head.startswith(_GZIP_MAGIC) and (message := gzip_problem(body)):
        problems.append(_problem(entry, path, "crc", message))
    if deep and entry.sha256 is not None:
        tally.hashed += 1
        body.seek(0)
        actual = _sha256(body)
        if actual != entry.sha256:
            message = f"sha256 is {actual}, the index page says {entry.sha256}"
            problems.append(_problem(entry, path, "sha256", message))
    return problems


def gzip_problem(body: BinaryIO) -> str | None:
    """Why a gzip file (a .tar.gz sdist) does not decode to its end, CRC and size checked."""
    limit = _decode_limit(body.seek(0, io.SEEK_END))
    body.seek(0)
    try:
        stream = streams.open_decoded(body, "gzip", limit=limit)
        while stream.read(_CHUNK):
            pass
    except CacheFormatError as exc:
        return str(exc)
    return None


def _sha256(body: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := body.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _check_built_wheel(entry: CacheEntry, deep: bool, tally: _Tally) -> list[Problem]:
    raw = entry.raw
    problems: list[Problem] = []
    if len(raw.files) > 1 and (message := _origin_problem(raw.files[1].path)) is not None:
        problems.append(_problem(entry, raw.files[1].path, "entry", message))
    try:
        with open_quietly(raw.path) as fp:
            problems += _check_body(entry, fp, raw.path, deep, tally)
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(_problem(entry, raw.path, "entry", _os_reason(exc)))
    return problems


def _origin_problem(path: Path) -> str | None:
    try:
        data = json.loads(read_all(path, _MAX_ORIGIN_JSON))
    except OSError as exc:
        return _os_reason(exc)
    except (ValueError, RecursionError):  # "[[[[...": json recurses per level
        return "origin.json is not valid JSON (or too large)"
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return "origin.json has no url"
    return None


# --- helpers ---------------------------------------------------------------------------


def _problem(entry: CacheEntry, path: Path, check: Check, message: str) -> Problem:
    what = entry.filename
    if what is None and entry.kind == "index":
        what = f"index page of {entry.project}" if entry.project else "index page"
    return Problem(path, entry.source, check, message, what)


def _os_reason(exc: OSError) -> str:
    return unreadable(exc)
