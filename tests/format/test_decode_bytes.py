"""``streams.decode_bytes`` (one zlib call for a body in memory) answers as the stream
path ``decode_body`` does: the same bytes, or a refusal, for every body and limit."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.errors import CacheFormatError
from pip_cache_plus.format.streams import decode_body, decode_bytes

PAYLOAD = b'{"meta": {"api-version": "1.1"}, "files": []}' * 50
GZ = gzip.compress(PAYLOAD)


def _outcome(decode: object, data: bytes, encoding: str | None, limit: int) -> object:
    try:
        if decode is decode_body:
            return decode_body(io.BytesIO(data), encoding, limit)
        return decode_bytes(data, encoding, limit)
    except CacheFormatError:
        return CacheFormatError


def _agree(data: bytes, encoding: str | None, limit: int) -> object:
    slow = _outcome(decode_body, data, encoding, limit)
    assert _outcome(decode_bytes, data, encoding, limit) == slow
    return slow


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", " GZIP ", "identity, gzip", None, ""])
@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        pytest.param(GZ, PAYLOAD, id="whole"),
        pytest.param(GZ[:-1], None, id="truncated-trailer"),
        pytest.param(GZ[:20], None, id="truncated"),
        pytest.param(b"", None, id="empty"),
        pytest.param(GZ + b"trailing junk", PAYLOAD, id="trailing-junk"),
        pytest.param(GZ + gzip.compress(b"second"), PAYLOAD, id="two-members"),
        pytest.param(b"\x1f\x8b" + os.urandom(300), None, id="corrupt"),
        pytest.param(PAYLOAD, None, id="not-gzip"),
    ],
)
def test_gzip_bodies(data: bytes, decoded: bytes | None, encoding: str | None) -> None:
    for limit in (len(PAYLOAD), len(PAYLOAD) - 1, 0, 1 << 20):
        _agree(data, encoding, limit)
    if encoding and "gzip" in encoding.lower() and decoded is not None:
        assert decode_bytes(data, encoding, len(PAYLOAD)) == decoded


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        pytest.param("deflate", zlib.compress(PAYLOAD), id="deflate"),
        pytest.param("gzip, gzip", gzip.compress(GZ), id="gzip-twice"),
        pytest.param("gzip, deflate", zlib.compress(GZ), id="two-codings"),
        pytest.param("compress", PAYLOAD, id="unsupported"),
    ],
)
def test_other_codings_take_the_stream_path(encoding: str, data: bytes) -> None:
    for limit in (len(PAYLOAD), len(PAYLOAD) - 1):
        _agree(data, encoding, limit)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=3000),
    st.integers(min_value=0, max_value=len(GZ) + 10),
    st.integers(min_value=0, max_value=len(PAYLOAD) + 10),
)
def test_cut_and_spliced_gzip(junk: bytes, cut: int, limit: int) -> None:
    _agree(GZ[:cut] + junk, "gzip", limit)
    _agree(gzip.compress(junk) + GZ[cut:], "gzip", limit)


def test_a_bomb_is_refused_within_the_limit() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    encoded = compressor.compress(bytes(64 << 20)) + compressor.flush()
    tracemalloc.start()
    try:
        with pytest.raises(CacheFormatError, match="limit"):
            decode_bytes(encoded, "gzip", 1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_a_small_page_reserves_no_big_buffer() -> None:
    tracemalloc.start()
    try:
        data = decode_bytes(GZ, "gzip", 64 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data == PAYLOAD
    assert peak < 1 << 20
