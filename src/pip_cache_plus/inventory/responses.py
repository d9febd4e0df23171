"""Read the response part of an HTTP entry from disk, and open its body as a stream.

The only place that turns entry files into ``CachedResponse`` objects: legacy files are
read as head + tail around the inline body, never whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from ..errors import CacheFormatError
from ..format import streams
from ..format.records import (
    LEGACY_HEAD_SIZE,
    MAX_METADATA_SIZE,
    CachedResponse,
    parse_legacy,
    parse_legacy_head,
    parse_metadata,
)
from ..fs.fsio import open_quietly, read_all, window
from ..model import RawEntry

_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) ([A-Z][a-z]{2}) ([1-9][0-9]{3}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
#: A legacy entry whose fields are out of order is parsed whole only up to this size.
MAX_FULL_PARSE = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyRef:
    """Where an entry's body bytes are: a file slice, or (rarely) bytes already in memory."""

    path: str | Path
    offset: int
    length: int
    inline: bytes | None = None


@dataclass(frozen=True, slots=True)
class ReadResponse:
    response: CachedResponse
    body: BodyRef


def read_response(raw: RawEntry) -> ReadResponse:
    """Parse an entry's metadata. Raises ``CacheFormatError`` (with why) or ``OSError``."""
    if raw.source == "http-v2":
        return _read_v2(raw)
    return _read_legacy(raw.where)  # a str: the BodyRef is held for every entry


def _read_v2(raw: RawEntry) -> ReadResponse:
    body_path = raw.body_where
    assert body_path is not None  # the walk only yields complete http-v2 entries as valid
    try:
        data = read_all(raw.where, MAX_METADATA_SIZE)
    except ValueError:
        raise CacheFormatError("metadata file is too large to be pip's") from None
    # An inline body here would be ignored by pip, which serves the .body file.
    response, _inline = parse_metadata(data)
    return ReadResponse(response, BodyRef(body_path, 0, raw.files[1].size))


def _read_legacy(path: str) -> ReadResponse:
    with open_quietly(path) as fp:
        size = os.fstat(fp.fileno()).st_size
        head = fp.read(LEGACY_HEAD_SIZE)
        layout = parse_legacy_head(head)
        if layout is None:
            return _read_legacy_whole(path, fp, head, size)
        if layout.body_end > size:
            raise CacheFormatError(
                f"truncated: the body needs {layout.body_end} bytes, the file has {size}"
            )
        if size - layout.body_end > MAX_METADATA_SIZE:
            raise CacheFormatError("headers after the body are too large to be pip's")
        fp.seek(layout.body_end)
        tail = fp.read()
    response = parse_legacy(head, tail, layout)
    return ReadResponse(response, BodyRef(path, layout.body_offset, layout.body_length))


def _read_legacy_whole(path: str, fp: BinaryIO, head: bytes, size: int) -> ReadResponse:
    if size > MAX_FULL_PARSE:
        raise CacheFormatError("legacy entry with fields in an unexpected order, too large to read")
    response, body = parse_metadata(head + fp.read())
    return ReadResponse(response, BodyRef(path, 0, len(body), inline=body))


@contextlib.contextmanager
def open_body(ref: BodyRef) -> Iterator[BinaryIO]:
    """The raw body (still Content-Encoded, as on the wire), as a seekable stream."""
    if ref.inline is not None:
        yield io.BytesIO(ref.inline)
        return
    with open_quietly(ref.path) as fp:
        yield window(fp, ref.offset, ref.length)


_CHUNK = 1 << 20


def body_sha256(ref: BodyRef, content_encoding: str | None) -> str | None:
    """The sha256 of the body as the file it is (decoded from any ``Content-Encoding``),
    streamed; None if it cannot be read or decoded."""
    digest = hashlib.sha256()
    try:
        with open_body(ref) as fp:
            limit = streams.decode_limit(ref.length)
            stream = streams.open_decoded(fp, content_encoding, limit=limit)
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except (CacheFormatError, OSError):
        return None
    return digest.hexdigest()


def date_header(response: CachedResponse) -> float | None:
    """The Date header as a POSIX timestamp, or None if missing or unparsable."""
    return parse_http_date(response.header("date"))


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as a POSIX timestamp, or None if missing or unparsable."""
    if value is None:
        return None
    if match := _IMF_FIXDATE.fullmatch(value):
        # What every server sends (RFC 9110's preferred format): no need for the email
        # parser's generality, which is most of the cost on tens of thousands of entries.
        day, month, year, hour, minute, second = match.groups()
        if (number := _MONTHS.get(month)) is None:
            return None
        try:  # datetime checks the fields as the email parser's path does (no 30 Feb)
            when = datetime(int(year), number, int(day), int(hour), int(minute), int(second))
        except ValueError:
            return None
        return when.replace(tzinfo=timezone.utc).timestamp()
    from email.utils import parsedate_to_datetime  # here: ~5 ms, and rarely needed

    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_PERMANENT_REDIRECTS = (301, 308)  # cachecontrol stores these with an empty body
_LENGTH_PROBLEM = "body is "


def body_length_problem(status: int, content_length: str | None, length: int) -> str | None:
    """Why a raw body of ``length`` bytes does not fit a ``content_length`` header: pip
    would serve it, and a truncated wheel then fails to install. None if it fits (or the
    header is absent or junk: cachecontrol does not check it either)."""
    declared = (content_length or "").strip()
    if not declared.isdigit():
        return None
    if status in _PERMANENT_REDIRECTS and length == 0:
        return None
    expected = int(declared)
    if expected == length:
        return None
    hint = " (truncated)" if length < expected else ""
    return f"{_LENGTH_PROBLEM}{length} bytes, Content-Length says {expected}{hint}"


def is_length_problem(problem: str | None) -> bool:
    """Whether an entry's problem is :func:`body_length_problem`'s."""
    return problem is not None and problem.startswith(_LENGTH_PROBLEM)
