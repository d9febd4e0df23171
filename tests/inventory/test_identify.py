"""identify.py: without index pages, entries are still named by their content."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import zipfile
from pathlib import Path

import fuzzkit
from pip_cache_plus import Cache
from pip_cache_plus.model import CacheEntry
from realpip import BuiltCache, IndexServer, PackageFile, PipRunner


def _entries(cache: Path) -> list[CacheEntry]:
    return list(Cache(cache, index_urls=[]).entries())


def test_without_pages_wheels_and_sdists_are_sniffed(any_cache: BuiltCache) -> None:
    pages = [e for e in _entries(any_cache.path) if e.kind == "index"]
    assert pages
    for page in pages:
        for stat in page.raw.files:
            stat.path.unlink()
    # The built wheel's origin.json names the server: gone too, nothing names a URL.
    shutil.rmtree(any_cache.path / "wheels")
    entries = [e for e in _entries(any_cache.path) if e.source != "wheels"]
    assert entries and all(e.url is None for e in entries)
    for entry in entries:
        assert entry.kind in ("wheel", "sdist", "metadata"), entry
        if entry.kind == "metadata":
            continue  # a .metadata body names project and version, not its file
        assert entry.filename is not None
        package = any_cache.package(entry.filename)
        assert (entry.project, entry.version) == (package.project, package.version)


def _wheel_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "enc_pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: enc-pkg\nVersion: 1.0\n"
        )
        zf.writestr("enc_pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("enc_pkg-1.0.dist-info/RECORD", "")
    return buf.getvalue()


def _write_v2(cache: Path, url: str, headers: dict[str, str], body: bytes) -> None:
    fuzzkit.write_v2(cache, url, body, headers)


def test_content_encoded_wheel_is_decoded_before_sniffing(tmp_path: Path) -> None:
    _write_v2(
        tmp_path,
        "https://example.org/x",
        {"Content-Encoding": "gzip"},
        gzip.compress(_wheel_bytes()),
    )
    (entry,) = _entries(tmp_path)
    assert (entry.kind, entry.project, entry.version, entry.filename) == (
        "wheel",
        "enc-pkg",
        "1.0",
        "enc_pkg-1.0-py3-none-any.whl",
    )


def test_pypi_headers_are_only_a_last_hint(tmp_path: Path) -> None:
    hints = {
        "x-pypi-file-project": "Some_Thing",
        "x-pypi-file-version": "2.0",
        "x-pypi-file-package-type": "bdist_wheel",
    }
    _write_v2(tmp_path, "https://example.org/opaque", hints, b"\x00not a zip")
    _write_v2(tmp_path, "https://example.org/real", hints, _wheel_bytes())
    found = {e.raw.key: e for e in _entries(tmp_path)}
    opaque = found[hashlib.sha224(b"https://example.org/opaque").hexdigest()]
    real = found[hashlib.sha224(b"https://example.org/real").hexdigest()]
    assert (opaque.kind, opaque.project, opaque.version, opaque.filename) == (
        "wheel",
        "some-thing",
        "2.0",
        None,
    )
    assert (real.project, real.version) == ("enc-pkg", "1.0")  # content beats the header


def test_a_directory_listing_index_names_its_files(
    packages: tuple[PackageFile, ...], pip_current: PipRunner, tmp_path: Path
) -> None:
    """A folder of files served by http.server as an index: its pages name no project
    ("Directory listing for /simple/tiny-pure/") and link files relatively; the project
    its files share still tells which URL the page was fetched from."""
    cache = tmp_path / "cache"
    with IndexServer(packages, page_format="dirlisting") as server:
        pip = pip_current.with_index(server.index_url)
        pip.download("tiny_pure==1.0", "--no-deps", dest=tmp_path / "dl", cache_dir=cache)
        fetched = {r.url for r in server.requests() if r.status == 200}
    entries = list(Cache(cache, index_urls=[server.index_url]).entries())
    assert len(entries) >= 2  # the page and the wheel, at least
    by_kind = {e.kind: e for e in entries}
    page_url = f"{server.index_url}tiny-pure/"
    assert (by_kind["index"].project, by_kind["index"].url) == ("tiny-pure", page_url)
    wheel = by_kind["wheel"]
    assert wheel.url == page_url + "tiny_pure-1.0-py3-none-any.whl"
    assert {e.url for e in entries} <= fetched
