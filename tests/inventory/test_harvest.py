"""harvest.py: bases the cache suggests, proven by a key or rejected; file URL layouts."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import fuzzkit
from pip_cache_plus.cli.app import main
from pip_cache_plus.inventory import identify
from pip_cache_plus.inventory.entries import walk
from pip_cache_plus.inventory.harvest import (
    Digests,
    body_digests,
    candidate_bases,
    clue_sources,
    clues,
    file_urls,
)
from pip_cache_plus.inventory.recover import recover
from pip_cache_plus.inventory.responses import BodyRef
from pip_cache_plus.model import SOURCES
from realpip import DOWNLOAD_REQUIREMENTS, BuiltCache, IndexServer, PackageFile, PipRunner

pytestmark = pytest.mark.usefixtures("isolated_pip_env")


def test_candidate_bases_are_each_directory_and_its_index() -> None:
    bases = candidate_bases(["http://h:1/a/files/x.whl"])
    assert bases == [
        "http://h:1/a/files/", "http://h:1/a/files/simple/", "http://h:1/a/files/+simple/",
        "http://h:1/a/", "http://h:1/a/simple/", "http://h:1/a/+simple/",
        "http://h:1/", "http://h:1/simple/", "http://h:1/+simple/",
    ]  # fmt: skip


def test_relative_clues_join_the_servers_absolute_ones_name() -> None:
    bases = candidate_bases(["/root/pypi/+simple/foo/", "https://h/x.whl", "http://g/y.whl"])
    assert "https://h/root/pypi/+simple/" in bases
    assert "http://g/root/pypi/+simple/" in bases


@pytest.mark.parametrize(
    "clue", ["file:///srv/x.whl", "git+https://h/repo", "http://[::1/x.whl", "relative/x.whl"]
)
def test_clues_that_name_no_http_server_give_nothing(clue: str) -> None:
    assert candidate_bases([clue]) == []


DIGESTS = Digests("ab" * 32, "cd" * 32)


def test_layouts_without_a_digest() -> None:
    urls = list(file_urls("http://h/simple/", "a-1.tar.gz", "a", "1", None))
    assert urls == [
        "http://h/packages/a-1.tar.gz",  # pypiserver
        "http://h/files/a-1.tar.gz",
        "http://h/simple/a-1.tar.gz",
        "http://h/packages/a/1/a-1.tar.gz",  # Nexus
    ]


def test_layouts_with_a_digest() -> None:
    b2, sha = DIGESTS.blake2b_256, DIGESTS.sha256
    pypi = list(file_urls("https://pypi.org/simple", "a-1.tar.gz", "a", "1", DIGESTS))
    assert pypi[0] == f"https://files.pythonhosted.org/packages/cd/cd/{b2[4:]}/a-1.tar.gz"
    devpi = list(file_urls("http://d/root/pypi/+simple/", "a-1.tar.gz", "a", "1", DIGESTS))
    assert f"http://d/root/pypi/%2Bf/{sha[:3]}/{sha[3:16]}/a-1.tar.gz" in devpi  # as pip asks
    gitlab = "https://g/api/v4/projects/7/packages/pypi/simple/"
    assert f"https://g/api/v4/projects/7/packages/pypi/files/{sha}/a-1.tar.gz" in list(
        file_urls(gitlab, "a-1.tar.gz", "a", "1", DIGESTS)
    )


@pytest.mark.parametrize(
    "filename", ["a-1.0+cpu-py3-none-any.whl", "a b-1.tar.gz", "a%2Fb@1-1.tar.gz", "a%7e-1.zip"]
)
def test_built_urls_are_quoted_as_pip_quotes_links(filename: str) -> None:
    """pip quotes a link's path before fetching it (models/link.py); the key is of that."""
    from pip._internal.models.link import _ensure_quoted_url

    for digests in (None, DIGESTS):
        for url in file_urls("http://d/root/+simple/", filename, "a", "1.0+cpu", digests):
            assert url == _ensure_quoted_url(url.replace("%2B", "+"))


@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_body_digests_are_of_the_file_as_served(tmp_path: Path, encoding: str | None) -> None:
    data = b"PK\x03\x04 a wheel, say" * 1000
    stored = gzip.compress(data) if encoding else data
    (tmp_path / "body").write_bytes(stored)
    digests = body_digests(BodyRef(tmp_path / "body", 0, len(stored)), encoding)
    assert digests == Digests(
        hashlib.sha256(data).hexdigest(), hashlib.blake2b(data, digest_size=32).hexdigest()
    )
    broken = BodyRef(tmp_path / "body", 0, len(stored))
    assert body_digests(broken, "br") is None  # not brotli: unreadable, no digest


def _harvest(cache: Path, index_urls: list[str]) -> Any:
    raws = list(walk(cache, SOURCES))
    firsts = [(raw, identify._first_pass(raw)) for raw in raws]
    pages = [(r.key, f) for r, f in firsts if isinstance(f, identify._Head) and f.is_page and r.key]
    keys = {r.key for r in raws if r.key is not None}
    return recover(pages, index_urls, keys, clues(clue_sources(firsts)))


def test_a_harvested_base_is_proven_and_the_others_rejected(v2_cache: BuiltCache) -> None:
    """Pages link ``http://127.0.0.1:PORT/files/...``: of the bases that suggests, only
    ``/simple/`` names the cached pages (``<base><project>/`` hashes to their keys)."""
    found = _harvest(v2_cache.path, [])
    server = v2_cache.index_url.removesuffix("simple/")
    assert found.harvest.proven == (v2_cache.index_url,)
    assert {server, f"{server}files/", f"{server}+simple/"} <= set(found.harvest.rejected)
    pages = [p for p in found.pages.values() if p.project is not None]
    assert pages and all(p.url == f"{v2_cache.index_url}{p.project}/" for p in pages)
    assert _harvest(v2_cache.path, [v2_cache.index_url]).harvest is None  # none needed


# origin.json as the only clue -----------------------------------------------------------------


def _listing(capsys: pytest.CaptureFixture[str], cache: Path) -> list[dict[str, Any]]:
    assert main(["list", "--cache-dir", str(cache), "--format", "json"]) == 0
    entries: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["entries"]
    return entries


def _with_origin(tmp: Path, relative: Path, built: BuiltCache, url: str) -> Path:
    """A copy of the relatively linked cache, plus the built wheel of ``built`` whose
    origin.json now says ``url``."""
    cache = tmp / "with-origin"
    shutil.copytree(relative, cache)
    shutil.copytree(built.path / "wheels", cache / "wheels")
    (origin,) = (cache / "wheels").rglob("origin.json")
    data = json.loads(origin.read_text())
    origin.write_text(json.dumps({**data, "url": url}))
    return cache


@pytest.fixture(scope="module")
def relative_cache(
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str]:
    """Pages that link files relatively (pypiserver's layout): no link names the server."""
    dest = tmp_path_factory.mktemp("relative")
    with IndexServer(packages, layout="pypiserver") as server:
        pip = pip_current.with_index(server.index_url)
        pip.download(*DOWNLOAD_REQUIREMENTS, dest=dest / "dl", cache_dir=dest / "cache")
    return dest / "cache", server.index_url


@pytest.mark.parametrize(
    ("origin", "named"),
    [
        pytest.param("{server}packages/sdist_only-0.5.tar.gz", True, id="proven"),
        pytest.param("{server}elsewhere/sdist_only-0.5.tar.gz", True, id="proven-above"),
        pytest.param("http://127.0.0.1:9/simple/sdist_only-0.5.tar.gz", False, id="rejected"),
    ],
)
def test_a_built_wheels_origin_suggests_the_base(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    relative_cache: tuple[Path, str],
    v2_cache: BuiltCache,
    origin: str,
    named: bool,
) -> None:
    path, index_url = relative_cache
    server = index_url.removesuffix("simple/")
    cache = _with_origin(tmp_path, path, v2_cache, origin.format(server=server))
    pages = [e for e in _listing(capsys, cache) if e["kind"] == "index"]
    assert pages
    for page in pages:  # right, or unknown: never a wrong URL
        assert page["url"] == (f"{index_url}{page['project']}/" if named else None)


def test_a_deep_clue_costs_its_first_directories_only() -> None:
    bases = candidate_bases(["http://h/" + "a/" * 200_000 + "x.whl"])
    assert len(bases) == 3 * 17  # the root and 16 levels, each bare, simple/, +simple/
    assert bases[-3:] == ["http://h/", "http://h/simple/", "http://h/+simple/"]


def _write_redirect(cache: Path, url: str, location: str) -> None:
    """A cached 301 as pip's http-v2 cache holds one (empty body)."""
    headers = {"Location": location, "Content-Length": "0"}
    fuzzkit.write_v2(cache, url, b"", headers, status=301, reason="Moved Permanently")


@pytest.mark.parametrize(
    ("location", "named"),
    [
        pytest.param("{index}tiny-pure/", True, id="absolute"),
        pytest.param("/simple/tiny-pure/", False, id="relative-no-server-known"),
        pytest.param("http://127.0.0.1:9/simple/tiny-pure/", False, id="elsewhere"),
    ],
)
def test_a_cached_redirect_suggests_the_base(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    relative_cache: tuple[Path, str],
    location: str,
    named: bool,
) -> None:
    path, index_url = relative_cache
    cache = tmp_path / "with-redirect"
    shutil.copytree(path, cache)
    _write_redirect(cache, f"{index_url}Tiny_Pure/", location.format(index=index_url))
    pages = [e for e in _listing(capsys, cache) if e["kind"] == "index"]
    assert pages
    for page in pages:
        assert page["url"] == (f"{index_url}{page['project']}/" if named else None)
