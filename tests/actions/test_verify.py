"""verify: catches truncation and half entries; --deep catches a flipped byte. Reads only."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import pathlib
import pickle
import struct
import time
import zipfile
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pip_cache_plus.actions.verify import length_problem
from pip_cache_plus.cli.app import main
from pip_cache_plus.format.records import CachedResponse, parse_metadata, serialize_v2_metadata
from pip_cache_plus.format.zipcheck import zip_problems
from realpip import BuiltCache, cache_entry_path

WHEEL = "tiny_pure-1.0-py3-none-any.whl"
HOUR = 3600


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def verify(
    capsys: pytest.CaptureFixture[str], cache: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    code = main(["verify", "--cache-dir", str(cache), "--format", "json", *args])
    out, _ = capsys.readouterr()
    data: dict[str, Any] = json.loads(out)
    assert (data["version"], data["cache_dir"]) == (1, str(cache))
    assert data["ok"] is (code == 0)
    return code, data


def problems(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p["path"], p["check"]) for p in data["problems"]}


def entry_file(cache: BuiltCache, filename: str, source: str) -> Path:
    """The metadata (http-v2) or whole (http) file of a cached download."""
    url = next(u for u in cache.fetched_urls() if u.endswith("/" + filename))
    return cache_entry_path(cache.path, url, source)


def wheel_body(cache: BuiltCache, source: str) -> tuple[Path, int]:
    """(file holding the wheel's bytes, offset of the wheel in it)."""
    meta = entry_file(cache, WHEEL, source)
    if source == "http-v2":
        return meta.with_name(meta.name + ".body"), 0
    offset = meta.read_bytes().find(cache.package(WHEEL).path.read_bytes())
    assert offset > 0
    return meta, offset


def inside_member_data(wheel: bytes) -> int:
    """An offset in the middle of the compressed data of the wheel's biggest member."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    name_length, extra_length = struct.unpack_from("<HH", wheel, info.header_offset + 26)
    start: int = info.header_offset + 30 + name_length + extra_length
    return start + info.compress_size // 2


def flip(path: Path, offset: int) -> None:
    """Change one byte, keeping the length and the file's times."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


# -- real caches ------------------------------------------------------------------------


@pytest.mark.parametrize("deep", [False, True], ids=["shallow", "deep"])
def test_fresh_cache_verifies(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache, deep: bool
) -> None:
    code, data = verify(capsys, any_cache.path, *(["--deep"] if deep else []))
    assert code == 0, data["problems"]
    assert data["problems"] == data["notes"] == []
    assert data["entries"] > 10
    zips_per_http_dir = 5  # wheels pip downloaded: tiny_pure x2, dotted.pkg, Mixed_Case, platpkg
    assert data["zips"] == 1 + zips_per_http_dir * len(any_cache.http_dirs)
    # With --deep, every wheel and sdist listed on a cached page is hashed.
    assert data["hashed"] == (7 * len(any_cache.http_dirs) if deep else 0)


def test_human_output_when_all_is_well(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    assert main(["verify", "--cache-dir", str(v2_cache.path), "--deep"]) == 0
    out, err = capsys.readouterr()
    assert out.endswith(": no problems found.\n")
    assert out.startswith("Checked ")
    assert err == ""  # no progress bar: stderr is not a terminal


def test_verify_changes_no_times(capsys: pytest.CaptureFixture[str], any_cache: BuiltCache) -> None:
    old = time.time_ns() - 30 * 86400 * 10**9
    files = [p for p in any_cache.path.rglob("*") if p.is_file()]
    for path in files:
        os.utime(path, ns=(old, path.stat().st_mtime_ns))  # relatime would bump these
    before = {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in files}
    assert verify(capsys, any_cache.path, "--deep")[0] == 0
    assert {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in files} == before


def test_truncated_legacy_file(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    path, offset = wheel_body(legacy_cache, "http")
    with path.open("r+b") as fp:
        fp.truncate(offset + 100)
    code, data = verify(capsys, legacy_cache.path)
    assert code == 1
    assert problems(data) == {(str(path), "entry")}
    assert "truncated" in data["problems"][0]["problem"]


def test_legacy_body_shorter_than_content_length(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    """A well-formed entry whose inline body lost its tail: only the length tells."""
    path, _ = wheel_body(legacy_cache, "http")
    data = msgpack.unpackb(path.read_bytes()[len(b"cc=4,") :], raw=False)
    data["response"]["body"] = data["response"]["body"][:-10]
    path.write_bytes(b"cc=4," + msgpack.packb(data, use_bin_type=True))
    code, result = verify(capsys, legacy_cache.path)
    assert code == 1
    assert problems(result) == {(str(path), "length")}
    size = legacy_cache.package(WHEEL).size
    expected = f"body is {size - 10} bytes, Content-Length says {size} (truncated)"
    assert result["problems"][0]["problem"] == expected
    assert result["problems"][0]["filename"] == WHEEL


def test_truncated_v2_body(capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache) -> None:
    body, _ = wheel_body(v2_cache, "http-v2")
    with body.open("r+b") as fp:
        fp.truncate(500)
    assert main(["verify", "--cache-dir", str(v2_cache.path)]) == 1
    out, _ = capsys.readouterr()
    relative = body.relative_to(v2_cache.path)
    size = v2_cache.package(WHEEL).size
    line = f" - {relative} ({WHEEL}): body is 500 bytes, Content-Length says {size} (truncated)"
    assert line in out.splitlines()
    assert out.endswith(": 1 with problems.\n")


@pytest.mark.parametrize("source", ["http", "http-v2"])
def test_flipped_byte_in_a_downloaded_wheel_needs_deep(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    cache: BuiltCache = request.getfixturevalue("legacy_cache" if source == "http" else "v2_cache")
    path, offset = wheel_body(cache, source)
    flip(path, offset + inside_member_data(cache.package(WHEEL).path.read_bytes()))
    assert verify(capsys, cache.path)[0] == 0  # the zip directory is intact
    code, data = verify(capsys, cache.path, "--deep")
    assert code == 1
    assert problems(data) == {(str(path), "crc"), (str(path), "sha256")}
    assert data["bad_entries"] == 1
    sha = next(p["problem"] for p in data["problems"] if p["check"] == "sha256")
    assert sha.endswith(f"the index page says {cache.package(WHEEL).sha256}")


def test_flipped_byte_in_a_built_wheel(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    (wheel,) = (v2_cache.path / "wheels").rglob("sdist_only-0.5-*.whl")
    flip(wheel, inside_member_data(wheel.read_bytes()))
    assert verify(capsys, v2_cache.path)[0] == 0
    code, data = verify(capsys, v2_cache.path, "--deep")
    assert code == 1
    assert problems(data) == {(str(wheel), "crc")}  # no index lists a built wheel's hash


def test_flipped_byte_in_an_sdist_needs_deep(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    sdist = v2_cache.package("sdist_only-0.5.tar.gz")
    meta = entry_file(v2_cache, sdist.filename, "http-v2")
    body = meta.with_name(meta.name + ".body")
    flip(body, sdist.size // 2)
    assert verify(capsys, v2_cache.path)[0] == 0
    code, data = verify(capsys, v2_cache.path, "--deep")
    assert code == 1
    assert problems(data) == {(str(body), "crc"), (str(body), "sha256")}  # gzip has a CRC


def test_encoding_verify_cannot_decode_is_a_note(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    meta = entry_file(v2_cache, WHEEL, "http-v2")
    response, _ = parse_metadata(meta.read_bytes())
    headers = (*response.headers, ("Content-Encoding", "compress"))
    meta.write_bytes(serialize_v2_metadata(dataclasses.replace(response, headers=headers)))
    assert verify(capsys, v2_cache.path)[0] == 0
    code, data = verify(capsys, v2_cache.path, "--deep")
    assert (code, data["problems"]) == (0, [])
    assert [(n["path"], n["check"]) for n in data["notes"]] == [(str(meta) + ".body", "unchecked")]
    assert "unsupported Content-Encoding 'compress'" in data["notes"][0]["problem"]


def test_wheel_body_that_is_not_a_zip(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    body, _ = wheel_body(v2_cache, "http-v2")
    body.write_bytes(bytes(body.stat().st_size))
    code, data = verify(capsys, v2_cache.path)
    assert code == 1
    assert problems(data) == {(str(body), "zip")}


def test_truncated_zip_directory(capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache) -> None:
    (wheel,) = (v2_cache.path / "wheels").rglob("sdist_only-0.5-*.whl")
    with wheel.open("r+b") as fp:
        fp.truncate(wheel.stat().st_size - 30)
    code, data = verify(capsys, v2_cache.path)
    assert code == 1
    assert problems(data) == {(str(wheel), "zip")}
    assert "end of central directory" in data["problems"][0]["problem"]


def test_corrupt_gzip_page_needs_deep(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    meta = cache_entry_path(v2_cache.path, f"{v2_cache.index_url}dotted-pkg/", "http-v2")
    body = meta.with_name(meta.name + ".body")
    assert body.read_bytes()[:2] == b"\x1f\x8b"  # the server sent it gzip-encoded
    flip(body, body.stat().st_size // 2)
    assert verify(capsys, v2_cache.path)[0] == 0
    code, data = verify(capsys, v2_cache.path, "--deep")
    assert code == 1
    assert problems(data) == {(str(body), "encoding")}


def test_corrupt_metadata(capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache) -> None:
    meta = entry_file(v2_cache, WHEEL, "http-v2")
    meta.write_bytes(b"cc=4,\xc1\xc1 not msgpack")
    code, data = verify(capsys, v2_cache.path)
    assert code == 1
    assert problems(data) == {(str(meta), "entry")}
    assert "corrupt msgpack" in data["problems"][0]["problem"]


class _Trap:
    """Unpickling this creates ``path``: proof that nothing unpickled the entry."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return pathlib.Path.touch, (self.path,)


def test_pickle_entry_is_reported_never_unpickled(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache, tmp_path: Path
) -> None:
    sentinel = tmp_path / "unpickled"
    key = hashlib.sha224(b"https://example.invalid/old.whl").hexdigest()
    path = legacy_cache.path.joinpath("http", *key[:5], key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"cc=1," + pickle.dumps(_Trap(sentinel)))
    code, data = verify(capsys, legacy_cache.path, "--deep")
    assert code == 1
    assert problems(data) == {(str(path), "entry")}
    assert "pickle" in data["problems"][0]["problem"]
    assert not sentinel.exists()


def test_metadata_without_body(capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache) -> None:
    meta = entry_file(v2_cache, WHEEL, "http-v2")
    meta.with_name(meta.name + ".body").unlink()
    age(meta, 2 * HOUR)  # younger, it may be a pip at work (see below)
    code, data = verify(capsys, v2_cache.path)
    assert code == 1
    assert problems(data) == {(str(meta), "entry")}
    assert "without its .body" in data["problems"][0]["problem"]


@pytest.mark.parametrize(
    ("make", "old"),
    [
        pytest.param("tmp", False, id="recent-tmp"),
        pytest.param("tmp", True, id="old-tmp"),
        pytest.param("lone-body", False, id="recent-lone-body"),
        pytest.param("lone-body", True, id="old-lone-body"),
        pytest.param("lone-meta", False, id="recent-lone-metadata"),
        pytest.param("lone-meta", True, id="old-lone-metadata"),
    ],
)
def test_leftovers_of_a_running_pip_get_an_hour(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, make: str, old: bool
) -> None:
    meta = entry_file(v2_cache, WHEEL, "http-v2")
    if make == "tmp":
        path = meta.with_name(meta.name + "x8k2.tmp")
        path.write_bytes(b"partial")
    elif make == "lone-body":  # migrate renames the body first
        meta.unlink()
        path = meta.with_name(meta.name + ".body")
    else:  # pip (cachecontrol's _cache_set, pip 26's download) writes the metadata first
        meta.with_name(meta.name + ".body").unlink()
        path = meta
    if old:
        age(path, 2 * HOUR)
    code, data = verify(capsys, v2_cache.path)
    assert (code, problems(data), data["in_progress"]) == (
        (1, {(str(path), "entry")}, 0) if old else (0, set(), 1)
    )


# -- pure parts -------------------------------------------------------------------------


def response(status: int = 200, /, **headers: str) -> CachedResponse:
    named = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    return CachedResponse(status, named, 11, "OK", False, ())


@pytest.mark.parametrize(
    ("resp", "length", "expected"),
    [
        pytest.param(response(content_length="10"), 10, None, id="equal"),
        pytest.param(response(content_length=" 10 "), 10, None, id="spaces"),
        pytest.param(
            response(content_length="10"),
            4,
            "body is 4 bytes, Content-Length says 10 (truncated)",
            id="short",
        ),
        pytest.param(
            response(content_length="10"), 12, "body is 12 bytes, Content-Length says 10", id="long"
        ),
        pytest.param(response(), 12, None, id="absent"),
        pytest.param(response(content_length="ten"), 12, None, id="junk"),
        pytest.param(response(content_length="-1"), 12, None, id="negative"),
        # cachecontrol stores permanent redirects with no body at all.
        pytest.param(response(301, content_length="162"), 0, None, id="redirect"),
        pytest.param(
            response(302, content_length="162"),
            0,
            "body is 0 bytes, Content-Length says 162 (truncated)",
            id="temporary-redirect",
        ),
        # Content-Length counts the encoded bytes, which is what the cache stores.
        pytest.param(
            response(content_length="300", content_encoding="gzip"), 300, None, id="encoded"
        ),
    ],
)
def test_length_problem(resp: CachedResponse, length: int, expected: str | None) -> None:
    assert length_problem(resp, length) == expected


def make_zip(*members: tuple[str, bytes, int]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data, method in members:
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, method)
    return out.getvalue()


def patch_directory(data: bytes, name: str, field: int, fmt: str, value: int) -> bytes:
    """Set one field of ``name``'s central directory record."""
    at = data.index(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(name)] != name.encode():
        at = data.index(b"PK\x01\x02", at + 1)
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at + field, value)
    return bytes(patched)


_UNCOMPRESSED_SIZE, _HEADER_OFFSET = 24, 42  # central directory record fields
GOOD = make_zip(("a.py", b"a" * 5000, zipfile.ZIP_DEFLATED), ("b.txt", b"bee", zipfile.ZIP_STORED))


@pytest.mark.parametrize(
    ("data", "shallow", "deep"),
    [
        pytest.param(GOOD, [], [], id="good"),
        pytest.param(GOOD[:-10], ["zip"], ["zip"], id="truncated"),
        pytest.param(
            patch_directory(GOOD, "b.txt", _HEADER_OFFSET, "<L", 0),
            ["zip"],
            ["zip"],
            id="overlapping-members",
        ),
        pytest.param(
            patch_directory(GOOD, "a.py", _UNCOMPRESSED_SIZE, "<L", 2**32 - 1),
            [],
            ["crc"],
            id="declares-more-than-deflate-gives",
        ),
        pytest.param(
            patch_directory(GOOD, "a.py", _UNCOMPRESSED_SIZE, "<L", 4000),
            [],
            ["crc"],
            id="declares-less",
        ),
        pytest.param(
            patch_directory(GOOD, "b.txt", _UNCOMPRESSED_SIZE, "<L", 4),
            [],
            ["crc"],
            id="stored-sizes-differ",
        ),
        pytest.param(
            make_zip(("a.py", b"a" * 5000, zipfile.ZIP_BZIP2)),
            [],
            ["unchecked"],
            id="bzip2-not-decompressed",
        ),
        pytest.param(b"PK\x03\x04" + bytes(100), ["zip"], ["zip"], id="no-directory"),
    ],
)
def test_zip_problems(data: bytes, shallow: list[str], deep: list[str]) -> None:
    assert [check for check, _ in zip_problems(io.BytesIO(data), deep=False)] == shallow
    assert [check for check, _ in zip_problems(io.BytesIO(data), deep=True)] == deep
