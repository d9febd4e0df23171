"""Read the response part of an HTTP entry from disk, and open its body as a stream.

The only place that turns entry files into ``CachedResponse`` objects: legacy files are
read as head + tail around the inline body, never whole.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO

from .errors import CacheFormatError
from .fsio import open_quietly, read_all, window
from .model import RawEntry
from .records import (
    LEGACY_HEAD_SIZE,
    MAX_METADATA_SIZE,
    CachedResponse,
    parse_legacy,
    parse_legacy_head,
    parse_metadata,
)

#: A legacy entry whose fields are out of order is parsed whole only up to this size.
MAX_FULL_PARSE = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BodyRef:
    """Where an entry's body bytes are: a file slice, or (rarely) bytes already in memory."""

    path: Path
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
    return _read_legacy(raw.path)


def _read_v2(raw: RawEntry) -> ReadResponse:
    body_path = raw.body_path
    assert body_path is not None  # the walk only yields complete http-v2 entries as valid
    try:
        data = read_all(raw.path, MAX_METADATA_SIZE)
    except ValueError:
        raise CacheFormatError("metadata file is too large to be pip's") from None
    # An inline body here would be ignored by pip, which serves the .body file.
    response, _inline = parse_metadata(data)
    return ReadResponse(response, BodyRef(body_path, 0, raw.files[1].size))


def _read_legacy(path: Path) -> ReadResponse:
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


def _read_legacy_whole(path: Path, fp: BinaryIO, head: bytes, size: int) -> ReadResponse:
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


def date_header(response: CachedResponse) -> float | None:
    """The Date header as a POSIX timestamp, or None if missing or unparsable."""
    value = response.header("date")
    if value is None:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
