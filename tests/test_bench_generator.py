"""The benchmark generator writes what real pip writes (checked against real pip's caches),
and pip_cache_plus identifies every generated entry."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pip_cache_plus.cache import Cache
from realpip import BuiltCache

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import (  # noqa: E402
    INDEX_URL,
    GenEntry,
    Layout,
    Options,
    Result,
    generate,
)

_ENTRIES = 60
_HEX56 = 56


def _load(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    assert data.startswith(b"cc=4,")
    decoded: dict[str, Any] = msgpack.unpackb(data[5:], raw=False)
    return decoded


def _shape(record: dict[str, Any]) -> tuple[object, ...]:
    """Field names in order, value types, and the vary map's keys: what must match pip."""
    response = record["response"]
    return (
        list(record),
        list(response),
        [type(v).__name__ for v in response.values()],
        sorted(record["vary"]),
        {k: v for k, v in response.items() if k not in ("body", "headers")},
    )


def _real_entries(cache: BuiltCache, http_dir: str) -> dict[str, Path]:
    """One real entry per kind ("file": a wheel, "page": a JSON page) from pip's own cache."""
    found: dict[str, Path] = {}
    for path in sorted((cache.path / http_dir).rglob("*")):
        if not path.is_file() or path.name.endswith(".body"):
            continue
        response = _load(path)["response"]
        body_file = path.with_name(path.name + ".body")
        body = response["body"] or (body_file.read_bytes() if body_file.exists() else b"")
        if "json" in response["headers"].get("Content-Type", ""):
            found.setdefault("page", path)
        elif body.startswith(b"PK"):
            found.setdefault("file", path)
    assert set(found) == {"file", "page"}, found
    return found


def _generated(tmp_path: Path, layout: Layout, *, orphans: float = 0.0) -> Result:
    return generate(tmp_path / f"gen-{layout}", Options(_ENTRIES, layout, orphan_ratio=orphans))


def _first(result: Result, kind: str, source: str) -> GenEntry:
    return next(e for e in result.entries if e.kind == kind and e.source == source)


def _check_path(entry: GenEntry) -> None:
    assert entry.url is not None
    digest = hashlib.sha224(entry.url.encode()).hexdigest()
    assert entry.relpath == "/".join((entry.source, *digest[:5], digest))
    assert len(digest) == _HEX56


@pytest.mark.parametrize(("fixture", "source"), [("v2_cache", "http-v2"), ("legacy_cache", "http")])
def test_records_have_pips_shape(
    request: pytest.FixtureRequest, tmp_path: Path, fixture: str, source: Layout
) -> None:
    real: BuiltCache = request.getfixturevalue(fixture)
    reals = _real_entries(real, source)
    result = _generated(tmp_path, source)
    for kind, gen_kind in (("file", "wheel"), ("page", "index")):
        entry = _first(result, gen_kind, source)
        _check_path(entry)
        real_record, gen_record = _load(reals[kind]), _load(result.path / entry.relpath)
        assert _shape(gen_record) == _shape(real_record), kind
        if kind == "page":  # pip stores the request's Accept and Accept-Encoding
            assert gen_record["vary"] == real_record["vary"]
        else:
            assert gen_record["vary"] == real_record["vary"] == {}
        real_headers, gen_headers = (
            real_record["response"]["headers"],
            gen_record["response"]["headers"],
        )
        assert set(real_headers) - {"Server"} <= set(gen_headers), kind
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in gen_headers.items())


def test_v2_bodies_beside_metadata(tmp_path: Path) -> None:
    result = _generated(tmp_path, "http-v2")
    for entry in (e for e in result.entries if e.source == "http-v2"):
        meta = result.path / entry.relpath
        body = meta.with_name(meta.name + ".body").read_bytes()
        assert _load(meta)["response"]["body"] == b""
        assert entry.size == meta.stat().st_size + len(body)
        _check_body(entry, body, result)


def test_legacy_bodies_inline(tmp_path: Path) -> None:
    result = _generated(tmp_path, "http")
    assert not (result.path / "http-v2").exists()
    for entry in (e for e in result.entries if e.source == "http"):
        record = _load(result.path / entry.relpath)
        assert record["response"]["strict"] == 0
        assert entry.size == (result.path / entry.relpath).stat().st_size
        _check_body(entry, record["response"]["body"], result)


def _page_files(result: Result, project: str) -> dict[str, dict[str, Any]]:
    page = next(e for e in result.entries if e.kind == "index" and e.project == project)
    assert page.url == f"{INDEX_URL}{project}/"
    record = _load(result.path / page.relpath)
    body = record["response"]["body"] or (result.path / (page.relpath + ".body")).read_bytes()
    assert record["response"]["headers"]["Content-Encoding"] == "gzip"
    doc = json.loads(gzip.decompress(body))
    assert doc["name"] == project
    return {f["url"]: f for f in doc["files"]}


def _check_body(entry: GenEntry, body: bytes, result: Result) -> None:
    """Bodies are real distributions, and the page lists each with its sha256."""
    if entry.kind == "index":
        return
    assert entry.url is not None
    files = _page_files(result, entry.project)
    if entry.kind == "metadata":
        listed = files[entry.url.removesuffix(".metadata")]
        assert hashlib.sha256(body).hexdigest() == listed["core-metadata"]["sha256"]
        assert body.startswith(b"Metadata-Version: ")
        return
    listed = files[entry.url]
    assert hashlib.sha256(body).hexdigest() == listed["hashes"]["sha256"]
    assert listed["size"] == len(body)
    if entry.kind == "wheel":
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            assert zf.testzip() is None
            names = zf.namelist()
            meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
            assert {meta.replace("METADATA", n) for n in ("WHEEL", "RECORD")} <= set(names)
            assert f"Version: {entry.version}".encode() in zf.read(meta)
    else:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            assert any(m.name.endswith("/PKG-INFO") for m in tar.getmembers())


def test_built_wheels_like_pips(v2_cache: BuiltCache, tmp_path: Path) -> None:
    real = next((v2_cache.path / "wheels").rglob("*.whl"))
    result = generate(tmp_path / "gen", Options(300, "http-v2"))  # ~1 in 60 is a built wheel
    built = [e for e in result.entries if e.source == "wheels"]
    assert built, "the generator made no built wheels"
    gen = result.path / built[0].relpath
    shape = [len(p) for p in real.relative_to(v2_cache.path).parts[1:-1]]
    assert [len(p) for p in gen.relative_to(result.path).parts[1:-1]] == shape
    real_origin = json.loads((real.parent / "origin.json").read_text())
    gen_origin = json.loads((gen.parent / "origin.json").read_text())
    assert list(gen_origin) == list(real_origin)
    assert list(gen_origin["archive_info"]) == list(real_origin["archive_info"])
    assert gen_origin["url"] == built[0].url


def test_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", Options(_ENTRIES, "mixed", workers=1))
    b = generate(tmp_path / "b", Options(_ENTRIES, "mixed", workers=2))
    assert a.entries == b.entries
    for entry in a.entries[:10]:
        assert (a.path / entry.relpath).read_bytes() == (b.path / entry.relpath).read_bytes()


@pytest.mark.parametrize("layout", ["http-v2", "http", "mixed"])
def test_exact_entry_count(tmp_path: Path, layout: Layout) -> None:
    for entries in (1, 2, 3, 7, 41):
        result = generate(tmp_path / f"{layout}-{entries}", Options(entries, layout, workers=1))
        assert len(result.entries) == entries


@pytest.mark.parametrize("layout", ["http-v2", "http", "mixed"])
def test_pip_cache_plus_identifies_every_entry(tmp_path: Path, layout: Layout) -> None:
    result = _generated(tmp_path, layout, orphans=0.5)
    expected = {str(result.path / e.relpath): e for e in result.entries}
    found = list(Cache(result.path, index_urls=[INDEX_URL]).entries())
    assert len(found) == len(expected)
    assert any(not e.listed for e in result.entries), "no orphan: raise orphans"
    for entry in found:
        want = expected[str(entry.raw.path)]
        assert entry.kind == want.kind, entry
        assert (entry.project, entry.version) == (want.project, want.version), entry
        if want.listed:  # the URL is recovered from the page, and names the file
            assert (entry.filename, entry.url) == (want.filename, want.url), entry
