"""PURE: the bytes of one cachecontrol entry -> a ``CachedResponse``. No filesystem here.

Formats (see FORMAT.md): ``cc=4,`` + msgpack of ``{"response": {...}, "vary": {...}}``.
``http-v2`` metadata carries ``body=b""`` (the body is in ``<key>.body``); legacy ``http/``
entries carry the whole body inline as the first field of ``response``. We never hand a
legacy body to msgpack: the body's offset is found from the first bytes of the file, and
only the bytes after the body (the headers) are decoded.

cachecontrol writes (``Serializer``) and places (``FileCache._fn``) entries; reading stays
ours, for streaming and for errors that say why (``Serializer.loads`` says ``None``), and
``tests/format/test_cachecontrol_agrees.py`` holds it to ``Serializer.loads``. cachecontrol
is imported only where it answers: it brings requests, which ``info`` and ``list`` never
need.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import msgpack

from ..errors import CacheFormatError

if TYPE_CHECKING:
    from cachecontrol.caches.file_cache import SeparateBodyFileCache
    from cachecontrol.serialize import Serializer

_PREFIX_V4 = b"cc=4,"
_VERSION_RE = re.compile(rb"cc=(\d+),")
# What each serialisation version was; none but 4 is read by cachecontrol >= 0.14.
_OLD_VERSIONS = {
    b"0": "cc=0 is not a format any cachecontrol wrote",
    b"1": "cc=1 (pip 6.0) is a pickle; pip_cache_plus never unpickles",
    b"2": "cc=2 (pip 6.1 to 9) is unsupported",
    b"3": "cc=3 is not a format any cachecontrol wrote",
}
#: Bytes to read from the start of a legacy file to find its body's offset.
LEGACY_HEAD_SIZE = 64
#: Metadata (headers) bigger than this is not something pip wrote.
MAX_METADATA_SIZE = 4 * 1024 * 1024

# msgpack type bytes we navigate by hand (msgpack spec).
_FIXMAP_MASK, _FIXMAP = 0xF0, 0x80
_MAP16, _MAP32 = 0xDE, 0xDF
_FIXSTR_MASK, _FIXSTR = 0xE0, 0xA0
_STR8, _STR16, _STR32 = 0xD9, 0xDA, 0xDB
_BIN8, _BIN16, _BIN32 = 0xC4, 0xC5, 0xC6
_EMPTY_BIN = bytes([_BIN8, 0])

KEY_RE = re.compile(r"[0-9a-f]{56}")


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """The response fields of one entry; the body itself stays on disk."""

    status: int
    headers: tuple[tuple[str, str], ...]
    version: int
    reason: str
    decode_content: bool
    vary: tuple[tuple[str, str | None], ...]
    strict: int | None = None

    def header(self, name: str) -> str | None:
        """Header value by case-insensitive name (servers choose the case)."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class LegacyLayout:
    """Where the inline body sits inside a legacy ``http/`` file."""

    body_offset: int
    body_length: int
    bin_header_offset: int  # where the msgpack bin header of the body starts

    @property
    def body_end(self) -> int:
        return self.body_offset + self.body_length


def key_path(key: str) -> tuple[str, ...]:
    """Relative path parts of an HTTP entry for a cache key (a URL): cachecontrol's
    ``FileCache._fn``, the layout of ``http/`` and ``http-v2/`` alike."""
    return PurePath(_file_cache()._fn(key)).parts


def key_digest(key: str) -> str:
    """The entry's file name for ``key``: what cachecontrol's ``FileCache.encode`` says.

    Ours, not a call to it: URL recovery hashes thousands of candidates during ``list``,
    which must not import cachecontrol (and requests with it) to start; the property test
    in ``tests/format/test_cachecontrol_agrees.py`` holds the two together.
    """
    return key_hash(key).hexdigest()


def key_hash(key: str) -> hashlib._Hash:
    """The hash whose hex digest :func:`key_digest` is, open: URL recovery extends it with
    a suffix (``.metadata``) instead of hashing the whole longer key again."""
    return hashlib.sha224(key.encode())


@functools.cache
def _file_cache() -> SeparateBodyFileCache:
    from cachecontrol.caches.file_cache import SeparateBodyFileCache

    # The constructor only stores its arguments: nothing is created or opened.
    return SeparateBodyFileCache("")


def check_version(data: bytes) -> None:
    """Raise ``CacheFormatError`` unless ``data`` starts with the ``cc=4,`` prefix."""
    if data.startswith(_PREFIX_V4):
        return
    match = _VERSION_RE.match(data)
    if match is None:
        raise CacheFormatError("not a pip cache entry (no cc=N, prefix)")
    reason = _OLD_VERSIONS.get(match.group(1), f"cc={match.group(1).decode()} is unknown")
    raise CacheFormatError(f"unsupported cache format: {reason}")


def parse_metadata(data: bytes) -> tuple[CachedResponse, bytes]:
    """Parse a whole entry (http-v2 metadata, or a small legacy file).

    Returns the response and the inline body (``b""`` for http-v2 metadata).
    """
    check_version(data)
    decoded = _unpack(data[len(_PREFIX_V4) :])
    return _validate(decoded)


def parse_legacy_head(head: bytes) -> LegacyLayout | None:
    """Find the inline body of a legacy entry from its first bytes.

    ``None`` means the fields are not in the order cachecontrol writes them
    (``response`` first, ``body`` first inside it); the caller then needs a full parse.
    """
    check_version(head)
    pos = len(_PREFIX_V4)
    try:
        pos = _skip_map_header(head, pos)
        key, pos = _read_str(head, pos)
        if key != "response":
            return None
        pos = _skip_map_header(head, pos)
        key, pos = _read_str(head, pos)
        if key != "body":
            return None
        bin_header = pos
        length, pos = _read_bin_header(head, pos)
    except _NotHere:
        return None
    return LegacyLayout(body_offset=pos, body_length=length, bin_header_offset=bin_header)


def parse_legacy(head: bytes, tail: bytes, layout: LegacyLayout) -> CachedResponse:
    """Parse a legacy entry from the bytes before its body and the bytes after it.

    The body is replaced by an empty ``bin`` so msgpack never sees it.
    """
    stitched = head[len(_PREFIX_V4) : layout.bin_header_offset] + _EMPTY_BIN + tail
    response, _ = _validate(_unpack(stitched))
    return response


def serialize_v2_metadata(response: CachedResponse) -> bytes:
    """The http-v2 metadata bytes pip >= 23.3 writes for ``response`` (empty body).

    Written by cachecontrol's own ``Serializer.dumps``, from the response and the request
    its ``vary`` map tells of, wherever that gives back the same fields. Where it does not
    (header names that differ only in case, which urllib3 folds into one; a ``vary`` map its
    ``Vary`` header does not give), the fields are kept as they are, packed by the same
    ``Serializer``'s msgpack step: migrating loses nothing.
    """
    dumped = _dumps(response)
    if dumped is not None and _reads_back(dumped, response):
        return dumped
    data = {
        "response": {
            "body": b"",
            "headers": dict(response.headers),
            "status": response.status,
            "version": response.version,
            "reason": response.reason,
            "decode_content": response.decode_content,
        },
        "vary": dict(response.vary),
    }
    return _PREFIX_V4 + _serializer().serialize(data)


def _reads_back(data: bytes, response: CachedResponse) -> bool:
    """Whether ``data`` holds the fields of ``response`` (``strict`` aside: http-v2 has none)."""
    try:
        return parse_metadata(data) == (replace(response, strict=None), b"")
    except CacheFormatError:  # a serialisation version other than cc=4
        return False


@functools.cache
def _serializer() -> Serializer:
    # Imported here: cachecontrol brings requests (~80 ms), which only migrate needs.
    from cachecontrol.serialize import Serializer

    return Serializer()


def _dumps(response: CachedResponse) -> bytes | None:
    """``Serializer.dumps`` of the response and the request that stored it (headers only);
    None if urllib3 refuses the headers (Content-Length values that disagree)."""
    from requests import PreparedRequest
    from requests.structures import CaseInsensitiveDict
    from urllib3 import HTTPResponse
    from urllib3.exceptions import HTTPError

    request = PreparedRequest()
    # Set, not prepared: a value requests would refuse is still the one the entry names.
    request.headers = CaseInsensitiveDict({k: v for k, v in response.vary if v is not None})
    try:
        http = HTTPResponse(
            body=b"",
            headers=dict(response.headers),
            status=response.status,
            version=response.version,
            reason=response.reason,
            decode_content=response.decode_content,
            preload_content=False,
        )
    except HTTPError:
        return None
    return _serializer().dumps(request, http, b"")


_STR: frozenset[type] = frozenset({str})
_STR_OR_NONE: frozenset[type] = frozenset({str, type(None)})


def _types(values: Iterable[object]) -> set[type]:
    return set(map(type, values))


class _NotHere(Exception):
    """The head does not have the expected msgpack item at this position."""


def _need(buf: bytes, pos: int, size: int) -> None:
    if pos + size > len(buf):
        raise _NotHere


def _skip_map_header(buf: bytes, pos: int) -> int:
    _need(buf, pos, 1)
    tag = buf[pos]
    if tag & _FIXMAP_MASK == _FIXMAP:
        return pos + 1
    if tag == _MAP16:
        return pos + 3
    if tag == _MAP32:
        return pos + 5
    raise _NotHere


def _read_str(buf: bytes, pos: int) -> tuple[str, int]:
    _need(buf, pos, 1)
    tag = buf[pos]
    if tag & _FIXSTR_MASK == _FIXSTR:
        length, pos = tag & ~_FIXSTR_MASK, pos + 1
    elif tag == _STR8:
        _need(buf, pos, 2)
        length, pos = buf[pos + 1], pos + 2
    else:
        raise _NotHere
    _need(buf, pos, length)
    return buf[pos : pos + length].decode("utf-8", "replace"), pos + length


def _read_bin_header(buf: bytes, pos: int) -> tuple[int, int]:
    _need(buf, pos, 1)
    width = {_BIN8: 1, _BIN16: 2, _BIN32: 4}.get(buf[pos])
    if width is None:
        raise _NotHere
    _need(buf, pos + 1, width)
    return int.from_bytes(buf[pos + 1 : pos + 1 + width], "big"), pos + 1 + width


def _unpack(payload: bytes) -> Any:
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=False)
    except (ValueError, TypeError, OverflowError) as exc:
        # msgpack's own errors (ExtraData, FormatError, StackError) are ValueErrors;
        # TypeError is an unhashable map key.
        raise CacheFormatError(f"corrupt msgpack payload ({_short(exc)})") from None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:80]


def _validate(decoded: Any) -> tuple[CachedResponse, bytes]:
    match decoded:
        case {"response": dict() as resp}:
            vary = decoded.get("vary", {})
        case _:
            raise CacheFormatError("entry has no response map")
    match resp:
        case {
            "body": bytes() as body,
            "headers": dict() as headers,
            "status": int() as status,
            "version": int() as version,
            "reason": str() as reason,
            "decode_content": bool() as decode_content,
        }:
            pass
        case _:
            raise CacheFormatError("entry has no response.body/headers/status/version/reason")
    # Type sets, not a loop of isinstance: msgpack makes exact types, and this runs over
    # every header of tens of thousands of entries.
    if not (_types(headers.keys()) | _types(headers.values())) <= _STR:
        raise CacheFormatError("entry headers are not all strings")
    if not isinstance(vary, dict) or not (
        _types(vary.keys()) <= _STR and _types(vary.values()) <= _STR_OR_NONE
    ):
        raise CacheFormatError("entry vary map is malformed")
    strict = resp.get("strict")
    response = CachedResponse(
        status=status,
        headers=tuple(headers.items()),
        version=version,
        reason=reason,
        decode_content=decode_content,
        vary=tuple(vary.items()),
        strict=strict if isinstance(strict, int) else None,
    )
    return response, body
