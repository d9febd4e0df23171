"""Sanity tests of the real-pip fixtures: the distributions, the index server, and caches
written by pip 23.2.1 and the latest pip."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import tarfile
import zipfile
from collections.abc import Iterator
from email.parser import BytesParser
from pathlib import Path

import pytest

from realpip import (
    DOWNLOAD_REQUIREMENTS,
    LEGACY_PIP,
    BuiltCache,
    IndexServer,
    PackageFile,
    PipRunner,
    build_packages,
    cache_entry_path,
    http_dir_for,
    new_tag,
    normalize,
    platform_tags,
    scrubbed_env,
)

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
LEGACY_PREFIX = b"cc=4,"


# --------------------------------------------------------------------------------------
# distributions


def _by_name(packages: tuple[PackageFile, ...]) -> dict[str, PackageFile]:
    return {p.filename: p for p in packages}


def test_package_set(packages: tuple[PackageFile, ...]) -> None:
    plat = platform_tags()
    interp = plat[0].split("-")[0]
    plats = ".".join(t.split("-")[2] for t in plat)
    assert set(_by_name(packages)) == {
        "tiny_pure-1.0-py3-none-any.whl",
        "tiny_pure-1.1-py3-none-any.whl",
        "tiny_pure-1.1.tar.gz",
        "dotted_pkg-2.0-py3-none-any.whl",
        "mixed_case-0.2-py3-none-any.whl",
        f"platpkg-0.3-{interp}-{interp}-{plats}.whl",
        "sdist_only-0.5.tar.gz",
    }
    assert {p.project for p in packages} == {
        "tiny-pure",
        "dotted-pkg",
        "mixed-case",
        "platpkg",
        "sdist-only",
    }


def test_packages_are_deterministic(packages: tuple[PackageFile, ...], tmp_path: Path) -> None:
    again = build_packages(tmp_path)
    assert [(p.filename, p.sha256) for p in again] == [(p.filename, p.sha256) for p in packages]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@pytest.mark.parametrize("index", range(7))
def test_package_is_valid(packages: tuple[PackageFile, ...], index: int) -> None:
    p = packages[index]
    data = p.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == p.sha256
    assert len(data) == p.size
    if p.kind == "wheel":
        _check_wheel(p)
    else:
        _check_sdist(p)


def _check_wheel(p: PackageFile) -> None:
    with zipfile.ZipFile(p.path) as zf:
        names = zf.namelist()
        dist_info = f"{p.filename.split('-')[0]}-{p.version}.dist-info"
        metadata = zf.read(f"{dist_info}/METADATA")
        assert metadata == p.core_metadata
        msg = BytesParser().parsebytes(metadata)
        assert normalize(msg["Name"]) == p.project
        assert msg["Version"] == p.version
        wheel = BytesParser().parsebytes(zf.read(f"{dist_info}/WHEEL"))
        tags = wheel.get_all("Tag")
        assert tags
        interp, abi, plats = p.filename.removesuffix(".whl").split("-")[-3:]
        assert sorted(tags) == sorted(f"{interp}-{abi}-{plat}" for plat in plats.split("."))
        rows = zf.read(f"{dist_info}/RECORD").decode().splitlines()
        recorded = {row.split(",")[0]: row.split(",")[1:] for row in rows}
        assert set(recorded) == set(names)
        for name in names:
            if name != f"{dist_info}/RECORD":
                content = zf.read(name)
                assert recorded[name] == [_record_hash(content), str(len(content))]
        assert any(n.endswith(".py") and "/" not in n for n in names)


def _check_sdist(p: PackageFile) -> None:
    base = p.filename.removesuffix(".tar.gz")
    with tarfile.open(p.path) as tar:
        names = tar.getnames()
        assert all(n.startswith(base + "/") for n in names)
        pkg_info = tar.extractfile(f"{base}/PKG-INFO")
        pyproject = tar.extractfile(f"{base}/pyproject.toml")
        assert pkg_info is not None
        assert pyproject is not None
        msg = BytesParser().parsebytes(pkg_info.read())
        assert (normalize(msg["Name"]), msg["Version"]) == (p.project, p.version)
        text = pyproject.read().decode()
        assert "requires = []" in text
        assert 'backend-path = ["."]' in text


# --------------------------------------------------------------------------------------
# index server (plain HTTP, no pip)


@pytest.fixture
def server(packages: tuple[PackageFile, ...]) -> Iterator[IndexServer]:
    with IndexServer(packages) as s:
        yield s


def _get(
    server: IndexServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_json_page(server: IndexServer, packages: tuple[PackageFile, ...]) -> None:
    status, headers, body = _get(server, "/simple/tiny-pure/", {"Accept": PIP_ACCEPT})
    assert status == 200
    assert headers["content-type"] == "application/vnd.pypi.simple.v1+json"
    assert headers["cache-control"] == "max-age=600, public"
    assert headers["vary"] == "Accept, Accept-Encoding"
    assert "etag" in headers
    assert "date" in headers
    doc = json.loads(body)
    assert doc["name"] == "tiny-pure"
    expected = [p for p in packages if p.project == "tiny-pure"]
    assert [f["filename"] for f in doc["files"]] == [p.filename for p in expected]
    for entry, p in zip(doc["files"], expected, strict=True):
        assert entry["url"] == f"http://127.0.0.1:{server.port}/files/{p.filename}"
        assert entry["hashes"] == {"sha256": p.sha256}
        want = {"sha256": p.metadata_sha256} if p.kind == "wheel" else False
        assert entry["core-metadata"] == want


def test_html_page_and_gzip(server: IndexServer, packages: tuple[PackageFile, ...]) -> None:
    status, headers, body = _get(
        server, "/simple/mixed-case/", {"Accept": "text/html", "Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"].startswith("text/html")
    text = gzip.decompress(body).decode()
    (p,) = (p for p in packages if p.project == "mixed-case")
    assert f'href="{server.file_url(p.filename)}#sha256={p.sha256}"' in text
    assert f'data-core-metadata="sha256={p.metadata_sha256}"' in text
    assert f'data-dist-info-metadata="sha256={p.metadata_sha256}"' in text


def test_page_revalidation(server: IndexServer) -> None:
    _, headers, _ = _get(server, "/simple/platpkg/", {"Accept": PIP_ACCEPT})
    status, again, body = _get(
        server, "/simple/platpkg/", {"Accept": PIP_ACCEPT, "If-None-Match": headers["etag"]}
    )
    assert (status, body, again["etag"]) == (304, b"", headers["etag"])


def test_redirects_to_normalized_name(server: IndexServer) -> None:
    status, headers, _ = _get(server, "/simple/Mixed_Case/")
    assert status == 301
    assert headers["location"] == server.page_url("mixed-case")
    assert _get(server, "/simple/no-such-project/")[0] == 404


def test_file_and_metadata(server: IndexServer, packages: tuple[PackageFile, ...]) -> None:
    wheel = next(p for p in packages if p.kind == "wheel" and p.project == "dotted-pkg")
    status, headers, body = _get(server, f"/files/{wheel.filename}")
    assert (status, body) == (200, wheel.path.read_bytes())
    assert headers["cache-control"] == "max-age=365000000, immutable, public"
    assert headers["content-length"] == str(wheel.size)
    assert {"etag", "last-modified", "date", "content-type"} <= set(headers)
    assert headers["x-pypi-file-project"] == "dotted-pkg"
    assert headers["x-pypi-file-version"] == "2.0"
    assert headers["x-pypi-file-package-type"] == "bdist_wheel"
    assert headers["x-pypi-file-python-version"] == "py3"
    status, headers, body = _get(server, f"/files/{wheel.filename}.metadata")
    assert (status, body) == (200, wheel.core_metadata)
    sdist = next(p for p in packages if p.kind == "sdist")
    assert _get(server, f"/files/{sdist.filename}.metadata")[0] == 404


def test_request_counters(server: IndexServer, packages: tuple[PackageFile, ...]) -> None:
    _get(server, "/simple/")
    _get(server, f"/files/{packages[0].filename}")
    _get(server, f"/files/{packages[0].filename}")
    mark = server.mark()
    _get(server, f"/files/{packages[1].filename}")
    assert server.count(kind="page") == 1
    assert server.count(kind="file") == 3
    assert server.count(kind="file", since=mark) == 1
    assert server.counts()[f"/files/{packages[0].filename}"] == 2
    server.reset()
    assert server.count() == 0


def test_scrubbed_env() -> None:
    env = scrubbed_env(
        "t1", {"PIP_FIND_LINKS": "/x", "pip_index_url": "y", "PATH": "/bin", "HTTP_PROXY": "p"}
    )
    assert env == {"PATH": "/bin", "PIP_CONFIG_FILE": "/dev/null", "PIP_USER_AGENT_USER_DATA": "t1"}


# --------------------------------------------------------------------------------------
# caches written by real pip


def _entry_files(http_dir: Path) -> list[Path]:
    if not http_dir.is_dir():
        return []
    return [p for p in http_dir.rglob("*") if p.is_file() and not p.name.endswith(".body")]


def test_pips(pip_legacy: PipRunner, pip_current: PipRunner, tmp_path: Path) -> None:
    assert pip_legacy.version == LEGACY_PIP
    assert pip_legacy.http_dir == "http"
    assert pip_current.http_dir == "http-v2"
    for pip in (pip_legacy, pip_current):
        out = pip.run("--version", cache_dir=tmp_path).stdout
        assert out.startswith(f"pip {pip.version} ")


@pytest.mark.parametrize("which", ["legacy", "current"])
def test_pip_loads_no_config(
    which: str, pip_legacy: PipRunner, pip_current: PipRunner, tmp_path: Path
) -> None:
    pip = pip_legacy if which == "legacy" else pip_current
    assert pip.run("config", "list", cache_dir=tmp_path).stdout == ""
    debug = pip.run("config", "debug", cache_dir=tmp_path).stdout
    assert f"PIP_CONFIG_FILE='{Path('/dev/null')}'" in debug
    # values of a loaded file are listed indented under it: none may appear
    assert not [line for line in debug.splitlines() if line.startswith("    ")]


def test_http_dirs(any_cache: BuiltCache) -> None:
    legacy = _entry_files(any_cache.path / "http")
    v2 = _entry_files(any_cache.path / "http-v2")
    if any_cache.kind == "legacy":
        assert legacy
        assert not (any_cache.path / "http-v2").exists()
    elif any_cache.kind == "v2":
        assert v2
        assert not (any_cache.path / "http").exists()
    else:
        assert legacy
        assert v2
    assert len(legacy) + len(v2) >= len(any_cache.packages)


def test_every_fetch_has_an_entry(any_cache: BuiltCache) -> None:
    fetches = any_cache.fetches
    assert {r.kind for r in fetches} == {"page", "file", "metadata"}
    served = {r.filename for r in fetches if r.kind == "file"}
    assert served == {p.filename for p in any_cache.packages}
    for r in fetches:
        assert r.pip_version in any_cache.pips
        http_dir = http_dir_for(r.pip_version)
        entry = cache_entry_path(any_cache.path, r.url, http_dir)
        assert entry.is_file(), f"no {http_dir} entry for {r.url}"
        assert entry.read_bytes().startswith(LEGACY_PREFIX)
        assert (entry.with_name(entry.name + ".body").is_file()) == (http_dir == "http-v2")


def _served_bytes(cache: BuiltCache, filename: str, kind: str) -> bytes:
    p = cache.package(filename)
    if kind == "metadata":
        assert p.core_metadata is not None
        return p.core_metadata
    return p.path.read_bytes()


@pytest.mark.realpip
@pytest.mark.parametrize("kind", ["v2", "mixed"])
def test_v2_bodies_are_the_served_bytes(kind: str, request: pytest.FixtureRequest) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    fetches = [r for r in cache.fetches if http_dir_for(r.pip_version or "") == "http-v2"]
    assert fetches
    for r in fetches:
        body = cache_entry_path(cache.path, r.url, "http-v2").with_suffix(".body")
        data = body.read_bytes()
        if r.kind == "page":
            # pages are stored as sent: gzip-encoded
            assert r.content_encoding == "gzip"
            assert data[:2] == b"\x1f\x8b"
            assert hashlib.sha256(data).hexdigest() == r.body_sha256
            json.loads(gzip.decompress(data))
        else:
            assert r.filename is not None
            assert data == _served_bytes(cache, r.filename, r.kind)


def test_legacy_entries_hold_the_body(legacy_cache: BuiltCache) -> None:
    for r in legacy_cache.fetches:
        data = cache_entry_path(legacy_cache.path, r.url, "http").read_bytes()
        assert data.startswith(LEGACY_PREFIX)
        if r.kind != "page":
            assert r.filename is not None
            assert _served_bytes(legacy_cache, r.filename, r.kind) in data


def test_mixed_has_both_dirs_for_the_same_urls(mixed_cache: BuiltCache) -> None:
    legacy, current = mixed_cache.pips
    assert legacy == LEGACY_PIP
    urls = mixed_cache.fetched_urls(kinds=("file", "metadata"), pip_version=legacy)
    assert urls
    assert set(urls) == set(
        mixed_cache.fetched_urls(kinds=("file", "metadata"), pip_version=current)
    )
    for url in urls:
        old = cache_entry_path(mixed_cache.path, url, "http")
        new = cache_entry_path(mixed_cache.path, url, "http-v2")
        assert old.is_file()
        assert new.is_file()
        assert old.relative_to(mixed_cache.path / "http") == new.relative_to(
            mixed_cache.path / "http-v2"
        )


def test_wheels_dir(any_cache: BuiltCache) -> None:
    (wheel,) = (any_cache.path / "wheels").rglob("sdist_only-0.5-*.whl")
    origin = json.loads((wheel.parent / "origin.json").read_text())
    sdist = any_cache.package("sdist_only-0.5.tar.gz")
    assert origin["url"] == any_cache.index_url.replace("/simple/", f"/files/{sdist.filename}")
    assert origin["archive_info"]["hashes"] == {"sha256": sdist.sha256}
    with zipfile.ZipFile(wheel) as zf:
        assert "sdist_only.py" in zf.namelist()


def test_current_pip_downloads_again_from_cache(
    v2_cache: BuiltCache, pip_current: PipRunner, index_server: IndexServer, tmp_path: Path
) -> None:
    tag = new_tag("again")
    pip_current.download(
        *DOWNLOAD_REQUIREMENTS, dest=tmp_path / "dl", cache_dir=v2_cache.path, tag=tag
    )
    assert index_server.count(kind="file", tag=tag) == 0
    assert index_server.count(kind="metadata", tag=tag) == 0
    assert len(list((tmp_path / "dl").iterdir())) == len(DOWNLOAD_REQUIREMENTS)


def test_legacy_pip_downloads_again_from_cache(
    legacy_cache: BuiltCache, pip_legacy: PipRunner, index_server: IndexServer, tmp_path: Path
) -> None:
    tag = new_tag("again")
    pip_legacy.download(
        *DOWNLOAD_REQUIREMENTS, dest=tmp_path / "dl", cache_dir=legacy_cache.path, tag=tag
    )
    assert index_server.count(kind="file", tag=tag) == 0
    assert index_server.count(kind="metadata", tag=tag) == 0
    # pip 23.2.1 always revalidates pages (Cache-Control: max-age=0): 304s
    assert index_server.count(kind="page", tag=tag, status=304) == len(
        {p.project for p in legacy_cache.packages}
    )


def test_current_pip_does_not_read_http_dir(
    legacy_cache: BuiltCache, pip_current: PipRunner, index_server: IndexServer, tmp_path: Path
) -> None:
    tag = new_tag("ignores-http")
    pip_current.download("dotted.pkg", dest=tmp_path / "dl", cache_dir=legacy_cache.path, tag=tag)
    assert index_server.count(kind="file", tag=tag, status=200) == 1
