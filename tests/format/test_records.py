"""records.py: bytes of one entry -> CachedResponse, legacy bodies located, never loaded."""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import zlib

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pip_cache_plus.errors import CacheFormatError
from pip_cache_plus.format.records import (
    LEGACY_HEAD_SIZE,
    CachedResponse,
    check_version,
    key_path,
    parse_legacy,
    parse_legacy_head,
    parse_metadata,
    serialize_v2_metadata,
)

HEADERS = {
    "Content-Type": "application/octet-stream",
    "ETag": '"abc"',
    "Cache-Control": "max-age=365000000, immutable, public",
    "Date": "Sun, 22 Nov 2026 02:00:00 GMT",
}


def legacy_bytes(body: bytes, *, headers: dict[str, str] | None = None) -> bytes:
    """What cachecontrol 0.12 (pip <= 23.2) writes: body first, then 6 fields incl. strict."""
    data = {
        "response": {
            "body": body,
            "headers": headers or HEADERS,
            "status": 200,
            "version": 11,
            "reason": "OK",
            "strict": 0,
            "decode_content": False,
        },
        "vary": {"Accept-Encoding": "identity"},
    }
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return b"cc=4," + packed


def v2_bytes(headers: dict[str, str] | None = None) -> bytes:
    data = {
        "response": {
            "body": b"",
            "headers": headers or HEADERS,
            "status": 200,
            "version": 11,
            "reason": "OK",
            "decode_content": False,
        },
        "vary": {},
    }
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return b"cc=4," + packed


def split_legacy(data: bytes) -> tuple[bytes, bytes, int, int]:
    layout = parse_legacy_head(data[:LEGACY_HEAD_SIZE])
    assert layout is not None
    return data[:LEGACY_HEAD_SIZE], data[layout.body_end :], layout.body_offset, layout.body_length


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(0, id="empty-body"),
        pytest.param(5, id="bin8"),
        pytest.param(300, id="bin16"),
        pytest.param(70_000, id="bin32"),
    ],
)
def test_legacy_body_is_located_from_the_head(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    data = legacy_bytes(body)
    head, tail, offset, length = split_legacy(data)
    assert data[offset : offset + length] == body
    response = parse_legacy(head, tail, parse_legacy_head(head))  # type: ignore[arg-type]
    assert response.status == 200
    assert response.strict == 0
    assert response.header("etag") == '"abc"'
    assert response.header("CACHE-CONTROL") == HEADERS["Cache-Control"]
    assert dict(response.vary) == {"Accept-Encoding": "identity"}


def test_legacy_parse_never_sees_the_body() -> None:
    # A body that is not even valid to slice out: parse_legacy only gets head + tail.
    data = legacy_bytes(b"B" * 100_000)
    head, tail, _, _ = split_legacy(data)
    assert len(head) + len(tail) < 1000
    parse_legacy(head, tail, parse_legacy_head(head))  # type: ignore[arg-type]


def test_v2_metadata_round_trip() -> None:
    response, body = parse_metadata(v2_bytes())
    assert body == b""
    assert response.strict is None
    assert serialize_v2_metadata(response) == v2_bytes()


def test_legacy_converted_to_v2_drops_strict_and_body() -> None:
    data = legacy_bytes(b"payload")
    head, tail, _, _ = split_legacy(data)
    response = parse_legacy(head, tail, parse_legacy_head(head))  # type: ignore[arg-type]
    converted, inline = parse_metadata(serialize_v2_metadata(response))
    assert inline == b""
    assert converted.headers == tuple(HEADERS.items())
    assert b"strict" not in serialize_v2_metadata(response)


def test_field_order_other_than_cachecontrols_asks_for_full_parse() -> None:
    data = {"vary": {}, "response": {"body": b"x", "headers": {}}}
    assert parse_legacy_head(b"cc=4," + msgpack.packb(data, use_bin_type=True)) is None
    inner_first = {"response": {"headers": {}, "body": b"x"}, "vary": {}}
    assert parse_legacy_head(b"cc=4," + msgpack.packb(inner_first, use_bin_type=True)) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"cc=1," + pickle.dumps({"a": 1}), "never unpickles", id="pickle-cc1"),
        pytest.param(b"cc=2," + zlib.compress(b"{}"), "cc=2", id="zlib-json-cc2"),
        pytest.param(b"cc=0,xyz", "cc=0", id="cc0"),
        pytest.param(b"cc=3,xyz", "cc=3", id="cc3"),
        pytest.param(b"cc=9,xyz", "cc=9 is unknown", id="cc9"),
        pytest.param(b"hello world", "no cc=N", id="foreign"),
        pytest.param(b"", "no cc=N", id="empty"),
        pytest.param(b"cc=4,\xc1", "corrupt msgpack", id="bad-msgpack"),
        pytest.param(b"cc=4," + msgpack.packb([1, 2]), "no response map", id="list"),
        pytest.param(
            b"cc=4," + msgpack.packb({"response": {"body": b"", "status": "200"}}),
            "no response.body",
            id="wrong-types",
        ),
        pytest.param(v2_bytes()[:-3], "corrupt msgpack", id="truncated"),
        pytest.param(v2_bytes() + b"\x00", "corrupt msgpack", id="trailing-bytes"),
    ],
)
def test_bad_entries_raise_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(CacheFormatError, match=message):
        parse_metadata(data)


def test_pickle_is_never_loaded(tmp_path: object) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, ("raise SystemExit('unpickled!')",))

    with pytest.raises(CacheFormatError, match="pickle"):
        check_version(b"cc=1," + pickle.dumps(Boom()))


def test_key_path_matches_pip_layout() -> None:
    url = "https://files.pythonhosted.org/packages/x/pip-23.3.2-py3-none-any.whl"
    digest = hashlib.sha224(url.encode()).hexdigest()
    assert key_path(url) == (digest[0], digest[1], digest[2], digest[3], digest[4], digest)


def test_header_lookup_is_case_insensitive() -> None:
    response = CachedResponse(200, (("X-PyPI-File-Project", "pip"),), 11, "OK", False, ())
    assert response.header("x-pypi-file-project") == "pip"
    assert response.header("missing") is None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_mutated_entries_parse_or_raise_format_error(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from([v2_bytes(), legacy_bytes(b"body" * 20)]))
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(0, 4))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        mutated[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    blob = bytes(mutated[:cut])
    with contextlib.suppress(CacheFormatError):
        parse_metadata(blob)
    try:
        layout = parse_legacy_head(blob[:LEGACY_HEAD_SIZE])
    except CacheFormatError:
        return
    if layout is not None and layout.body_end <= len(blob):
        with contextlib.suppress(CacheFormatError):
            parse_legacy(blob[:LEGACY_HEAD_SIZE], blob[layout.body_end :], layout)
