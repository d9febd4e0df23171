"""Exact names with nothing configured: caches real pips filled from an index given only
on pip's command line, whose pages link files relatively (as devpi, pypiserver and Nexus
do), so no page's links resolve and no file URL can be recovered (and no built wheel's
origin.json tells the server either)."""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pip_cache_plus import Cache
from pip_cache_plus.cli.app import main
from pip_cache_plus.model import CacheEntry
from realpip import (
    BuiltCache,
    IndexServer,
    PackageFile,
    PipRunner,
    RequestRecord,
    build_cache,
    cache_entry_path,
    http_dir_for,
    normalize,
)

pytestmark = pytest.mark.realpip

CASES = [
    pytest.param(("legacy", "json"), id="pip-23.2.1-json"),
    pytest.param(("legacy", "html"), id="pip-23.2.1-html"),
    pytest.param(("v2", "json"), id="pip-latest-json"),
    pytest.param(("v2", "html"), id="pip-latest-html"),
]


@pytest.fixture(scope="module", params=CASES)
def relative_cache(
    request: pytest.FixtureRequest,
    packages: tuple[PackageFile, ...],
    pip_legacy: PipRunner,
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BuiltCache]:
    kind, page_format = request.param
    with IndexServer(packages, page_format=page_format, relative_links=True) as server:
        dest = tmp_path_factory.mktemp(f"relative-{kind}-{page_format}")
        built = build_cache(kind, server=server, dest=dest, legacy=pip_legacy, current=pip_current)
    # The built wheel's origin.json names the server, from which the index is proven
    # (inventory/harvest.py, tests/inventory/test_harvest.py): without it no clue is left.
    shutil.rmtree(dest / "wheels")
    yield built


def _truth(built: BuiltCache) -> dict[str, RequestRecord]:
    return {
        cache_entry_path(built.path, r.url, http_dir_for(r.pip_version or "")).name: r
        for r in built.fetches
        if r.pip_version is not None
    }


def _assert_right(built: BuiltCache, entries: list[CacheEntry], *, urls_known: bool) -> None:
    truth = _truth(built)
    http = [e for e in entries if e.source != "wheels"]
    assert len(http) == len(truth)
    for entry in http:
        assert entry.raw.key is not None
        record = truth[entry.raw.key]
        assert entry.url == (record.url if urls_known else None), entry
        if record.kind == "page":
            assert (entry.kind, entry.project) == ("index", normalize(record.url.split("/")[-2]))
            continue
        assert record.filename is not None
        package = built.package(record.filename)
        suffix = ".metadata" if record.kind == "metadata" else ""
        got = (entry.kind, entry.project, entry.version, entry.filename)
        want = (record.kind if suffix else package.kind, package.project, package.version)
        assert got == (*want, package.filename + suffix), entry
        assert entry.naming.filename_from == ("url" if urls_known else "page")
        if not urls_known:
            assert entry.naming.url_unknown == "page-url-unknown"
            assert entry.naming.link == f"../../files/{package.filename}{suffix}"


def _listing(cache: Path, index_urls: list[str], memo: Path | None) -> list[CacheEntry]:
    return sorted(Cache(cache, index_urls=index_urls, memo_dir=memo).entries(), key=_order)


def _order(entry: CacheEntry) -> str:
    return entry.raw.where


def _answers(entries: list[CacheEntry]) -> list[tuple[object, ...]]:
    return [(e.kind, e.project, e.version, e.filename, e.url, e.naming) for e in entries]


def test_nothing_configured_every_file_is_named_exactly(
    relative_cache: BuiltCache, tmp_path: Path
) -> None:
    plain = _listing(relative_cache.path, [], None)
    _assert_right(relative_cache, plain, urls_known=False)
    cold = _listing(relative_cache.path, [], tmp_path / "memo")
    warm = _listing(relative_cache.path, [], tmp_path / "memo")
    assert _answers(cold) == _answers(warm) == _answers(plain)


def test_with_the_index_configured_every_url_is_right(
    relative_cache: BuiltCache, tmp_path: Path
) -> None:
    urls = [relative_cache.index_url]
    _assert_right(relative_cache, _listing(relative_cache.path, urls, None), urls_known=True)
    # A memo of the unconfigured run, then the index: the answers follow it.
    _listing(relative_cache.path, [], tmp_path / "memo")
    remembered = _listing(relative_cache.path, urls, tmp_path / "memo")
    _assert_right(relative_cache, remembered, urls_known=True)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.usefixtures("isolated_pip_env")
def test_the_cli_says_why_urls_are_unknown_and_what_to_pass(
    relative_cache: BuiltCache, capsys: pytest.CaptureFixture[str]
) -> None:
    where = str(relative_cache.path)
    code, out = _run(capsys, "--cache-dir", where, "list", "--format", "json")
    entries = json.loads(out)["entries"]
    http = [e for e in entries if e["source"] != "wheels"]
    assert code == 0 and http and all(e["url"] is None for e in http)
    assert {e["filename_from"] for e in http if e["kind"] != "index"} == {"page"}
    assert {e["url_unknown"] for e in http} == {"page-url-unknown", "index-unknown"}
    code, out = _run(capsys, "--cache-dir", where, "list")
    hint = f"python -m pip_cache_plus --cache-dir {shlex.quote(where)} list --index-url URL"
    assert out.count("URL unknown for") == 1
    assert out.rstrip().endswith(f"pass --index-url URL (the one pip used): {hint}")
    code, out = _run(capsys, "--cache-dir", where, "show", "tiny-pure==1.0", "--kind", "wheel")
    url_lines = [line for line in out.splitlines() if line.lstrip().startswith("URL:")]
    assert url_lines == [
        "  URL:            unknown: the page that lists it is in the cache but its own URL is "
        "not known; pass --index-url URL (the one pip used): python -m pip_cache_plus "
        f"--cache-dir {shlex.quote(where)} show tiny-pure==1.0 --index-url URL"
    ]
    # info opens nothing in the cache: it says what the last listing (the memo) found.
    code, out = _run(capsys, "--cache-dir", where, "info")
    assert out.count("At the last listing: URL unknown for") == 1
    assert out.rstrip().endswith(f"pass --index-url URL (the one pip used): {hint}")
    # The hint does what it says.
    index = relative_cache.index_url
    code, out = _run(capsys, "--cache-dir", where, "list", "--format", "json", "--index-url", index)
    named = [e for e in json.loads(out)["entries"] if e["source"] != "wheels"]
    assert all(e["url"] is not None and e["url_unknown"] is None for e in named)
    assert (
        "URL unknown"
        not in _run(capsys, "--cache-dir", where, "list", "-i", relative_cache.index_url)[1]
    )


@pytest.mark.parametrize("how", ["index", "find-links"])
def test_directory_listings_and_find_links_pages_name_their_files(
    how: str, packages: tuple[PackageFile, ...], pip_current: PipRunner, tmp_path: Path
) -> None:
    """A folder served by http.server, as pip's index or as a --find-links page: its
    pages name no project and link files relatively; with nothing configured they still
    give the exact filename."""
    cache = tmp_path / "cache"
    with IndexServer(packages, page_format="dirlisting") as server:
        pip = pip_current.with_index(server.index_url)
        extra = ["--no-index", "--find-links", f"{server.index_url}tiny-pure/"]
        args = ("tiny_pure==1.0", "--no-deps", *(extra if how == "find-links" else ()))
        pip.download(*args, dest=tmp_path / "dl", cache_dir=cache)
    entries = _listing(cache, [], None)
    pages = [e for e in entries if e.kind == "index"]
    (wheel,) = (e for e in entries if e.kind == "wheel")
    assert pages and all(e.url is None for e in entries)
    assert (wheel.filename, wheel.naming.filename_from) == (
        "tiny_pure-1.0-py3-none-any.whl",
        "page",
    )
    assert wheel.naming.link == "tiny_pure-1.0-py3-none-any.whl"
    assert wheel.naming.page in {page.raw.key for page in pages}
