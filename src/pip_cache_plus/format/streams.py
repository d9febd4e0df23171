"""Streams over cached bodies: decoding ``Content-Encoding`` with bounds, spooling, slicing.

Bodies are stored as they came off the wire, so one sent with ``Content-Encoding`` is still
encoded: :func:`open_decoded` decodes it as a stream, every layer bounded (a few hundred
bytes of nested gzip can be a gigabyte). A decoded stream cannot seek, so a zip (wheel)
inside one needs :func:`spool` first::

    with spool(open_decoded(fp, "gzip"), limit=1 << 30) as body:
        sniffed = sniff_body(body)

Corrupt, truncated or oversized data raises ``CacheFormatError`` (one line saying why).
"""

from __future__ import annotations

import bz2
import errno
import importlib
import io
import lzma
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, cast

from ..errors import CacheFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["decode_body", "decode_bytes", "decode_limit", "open_decoded", "read_up_to", "spool"]

XZ_MEMORY_LIMIT = 256 << 20
#: A Content-Encoded body decodes to at most this many times its size (see decode_limit).
DECODE_MAX_RATIO = 1100
CHUNK = 64 << 10


class LimitReachedError(CacheFormatError):
    """A decoded stream grew past its limit."""


class BeforeStartError(OSError):
    """A seek before the start of the body (an OSError, as zipfile expects of files)."""


def read_up_to(fp: BinaryIO, size: int) -> bytes:
    """``size`` bytes, fewer only at the end of ``fp`` (raw streams may read short).

    In chunks: ``read(n)`` allocates ``n`` bytes up front, so one read of a 64 MiB bound
    would reserve 64 MiB for every small page.
    """
    chunks: list[bytes] = []
    total = 0
    while total < size and (chunk := fp.read(min(size - total, CHUNK))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def open_decoded(
    fp: BinaryIO, content_encoding: str | None, *, limit: int | None = None
) -> BinaryIO:
    """A streaming reader of ``fp`` decoded from ``content_encoding`` (gzip, deflate, br).

    Not seekable; each decoded layer raises ``CacheFormatError`` past ``limit`` bytes, on
    corrupt data and on a truncated body. Closing it does not close ``fp``.
    """
    stream = fp
    for coding in reversed(_codings(content_encoding)):
        stream = io.BufferedReader(_DecodingReader(stream, _decompressor(coding), limit))
    return stream


def _codings(content_encoding: str | None) -> list[str]:
    """The layers of ``content_encoding``, outermost last, without no-op ones."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    return [c for c in codings if c not in ("", "identity")]


def decode_limit(encoded_size: int, ratio: int = DECODE_MAX_RATIO) -> int:
    """The most bytes a body of ``encoded_size`` bytes may decode to: ``ratio`` times, plus
    1 MiB. One layer of deflate cannot expand more than ~1032 times; nested encodings can
    (230 bytes of ``gzip, gzip, gzip`` are a gigabyte), and only bombs need them to."""
    return encoded_size * ratio + (1 << 20)


def decode_body(fp: BinaryIO, content_encoding: str | None, limit: int) -> bytes:
    """The whole body of ``fp``, decoded; ``CacheFormatError`` if it is over ``limit``."""
    data = read_up_to(open_decoded(fp, content_encoding, limit=limit), limit + 1)
    if len(data) > limit:
        raise CacheFormatError(f"the decoded body is larger than the {limit}-byte limit")
    return data


def decode_bytes(data: bytes, content_encoding: str | None, limit: int) -> bytes:
    """:func:`decode_body` of a body already in memory: the same bytes, or the same refusal.

    One gzip layer (what index pages come with) is one zlib call instead of a stream of
    reads through two buffered layers: ~40% of reading 2,500 pages went to that machinery.
    """
    codings = _codings(content_encoding)
    if codings not in (["gzip"], ["x-gzip"]):
        return decode_body(io.BytesIO(data), content_encoding, limit)
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as e:
        raise CacheFormatError(f"the compressed body is corrupt: {e}") from e
    if len(out) > limit:
        raise CacheFormatError(f"the decoded body is larger than the {limit}-byte limit")
    if not decompressor.eof:  # what follows the first member is ignored, as when streamed
        raise CacheFormatError("the compressed body ends early (truncated)")
    return out


def spool(stream: BinaryIO, *, limit: int, in_memory: int = 8 << 20) -> BinaryIO:
    """Copy ``stream`` into a seekable temporary file (on disk past ``in_memory`` bytes).

    Raises ``CacheFormatError`` if ``stream`` holds more than ``limit`` bytes. The caller
    closes the result.
    """
    import tempfile  # here: most runs never spool

    out = tempfile.SpooledTemporaryFile(max_size=in_memory)  # noqa: SIM115 (returned)
    try:
        while chunk := stream.read(CHUNK):
            if out.tell() + len(chunk) > limit:
                raise CacheFormatError(f"the body is larger than the {limit}-byte spool limit")
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return cast(BinaryIO, out)


# --- streaming decoders ----------------------------------------------------------------


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


class _Zlib:
    """zlib (gzip, zlib or raw deflate) behind the bz2/lzma decompressor interface."""

    def __init__(self, wbits: int | None) -> None:
        self._wbits = wbits  # None: zlib or raw deflate, told by the first bytes
        self._obj: Any = None
        self._tail = b""
        self._full = False

    @property
    def eof(self) -> bool:
        return bool(self._obj is not None and self._obj.eof)

    @property
    def needs_input(self) -> bool:
        return not self._tail and not self._full

    def decompress(self, data: bytes, max_length: int, /) -> bytes:
        data = self._tail + data
        if self._obj is None:
            wbits = self._wbits
            if wbits is None:
                is_zlib = (
                    data[:1] and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0
                )
                wbits = zlib.MAX_WBITS if is_zlib else -zlib.MAX_WBITS
            self._obj = zlib.decompressobj(wbits)
        out: bytes = self._obj.decompress(data, max_length)
        self._tail, self._full = self._obj.unconsumed_tail, len(out) == max_length
        return out


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._obj = module.Decompressor()
        self._error: type[Exception] = module.error

    @property
    def eof(self) -> bool:
        return bool(self._obj.is_finished())

    @property
    def needs_input(self) -> bool:
        return bool(self._obj.can_accept_more_data())

    def decompress(self, data: bytes, max_length: int, /) -> bytes:
        try:
            return bytes(self._obj.process(data, output_buffer_limit=max_length))
        except self._error as e:
            raise ValueError(str(e) or "brotli error") from e


def _decompressor(coding: str) -> Callable[[], _Decompressor]:
    match coding:
        case "gzip" | "x-gzip":
            return lambda: _Zlib(16 + zlib.MAX_WBITS)
        case "deflate":
            return lambda: _Zlib(None)
        case "bzip2":
            return bz2.BZ2Decompressor
        case "xz":
            return lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=XZ_MEMORY_LIMIT)
        case "br":
            module = _brotli()
            return lambda: _Brotli(module)
        case _:
            raise CacheFormatError(f"the body has an unsupported Content-Encoding {coding!r}")


def _brotli() -> Any:
    try:
        module = importlib.import_module("brotli")
    except ImportError:
        raise CacheFormatError("decoding a br body needs the brotli module") from None
    if not hasattr(module.Decompressor, "can_accept_more_data"):
        raise CacheFormatError("decoding a br body with bounded memory needs brotli >= 1.2")
    return module


class _DecodingReader(io.RawIOBase):
    """Decompress ``fp`` on the fly, with bounded output per read and in total."""

    def __init__(self, fp: BinaryIO, make: Callable[[], _Decompressor], limit: int | None) -> None:
        self._fp, self._decompressor, self._limit = fp, make(), limit
        self._total = 0
        self._extra = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        out = self._extra or self._next(len(view))
        size = min(len(out), len(view))
        view[:size] = out[:size]
        self._extra = out[size:]
        return size

    def _next(self, size: int) -> bytes:
        stalled = False
        while size and not self._decompressor.eof:
            data = b""
            if stalled or self._decompressor.needs_input:
                data = self._fp.read(CHUNK)
                if not data:
                    raise CacheFormatError("the compressed body ends early (truncated)")
            try:
                out = self._decompressor.decompress(data, size)
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as e:
                raise CacheFormatError(f"the compressed body is corrupt: {e}") from e
            if out:
                self._total += len(out)
                if self._limit is not None and self._total > self._limit:
                    raise LimitReachedError(
                        f"the decoded body is over the {self._limit}-byte limit"
                    )
                return out
            stalled = not data
        return b""


class Chain(io.RawIOBase):
    """``prefix`` (bytes already read), then the rest of ``fp``."""

    def __init__(self, prefix: bytes, fp: BinaryIO) -> None:
        self._prefix, self._fp = prefix, fp

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._prefix[: len(view)] or self._fp.read(len(view))
        self._prefix = self._prefix[len(data) :]
        view[: len(data)] = data
        return len(data)


class Slice(io.RawIOBase):
    """``fp`` from its current position on, as a file of its own."""

    def __init__(self, fp: BinaryIO) -> None:
        self._fp = fp
        self._start = fp.tell()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._fp.read(len(view))
        view[: len(data)] = data
        return len(data)

    def tell(self) -> int:
        return self._fp.tell() - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        if whence == io.SEEK_SET:
            base = self._start
        elif whence == io.SEEK_CUR:
            base = self._fp.tell()
        else:
            base = self._fp.seek(0, io.SEEK_END)
        if base + offset < self._start:
            raise BeforeStartError(errno.EINVAL, "seek before the start of the body")
        return self._fp.seek(base + offset, io.SEEK_SET) - self._start
