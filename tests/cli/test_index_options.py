"""pip's index options on our command line, on caches real pip filled from a loopback
index given only on pip's command line (``pip download --index-url ...``, no config).

"Every URL right" means: every HTTP entry has a URL, and the URL's sha224 is the entry's
key (the proof; nothing else names an entry's URL).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from realpip import DOWNLOAD_REQUIREMENTS, BuiltCache, IndexServer, PackageFile, PipRunner

pytestmark = pytest.mark.usefixtures("isolated_pip_env")

KINDS = frozenset({"index", "wheel", "sdist", "metadata"})
WRONG = "http://127.0.0.1:9/elsewhere/simple/"  # an index that filled nothing here


def listing(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> list[dict[str, Any]]:
    code = main(["list", "--cache-dir", str(cache), "--format", "json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)["entries"]
    return entries


def http(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["source"] != "wheels"]


def proven(entry: dict[str, Any]) -> bool:
    url = entry["url"]
    return url is not None and hashlib.sha224(url.encode()).hexdigest() == entry["key"]


def assert_every_url_right(
    entries: list[dict[str, Any]], kinds: frozenset[str] | set[str] = KINDS
) -> None:
    wrong = [(e["kind"], e["url"]) for e in http(entries) if not proven(e)]
    assert not wrong
    assert {e["kind"] for e in http(entries)} >= kinds


def page_urls(entries: list[dict[str, Any]]) -> list[str | None]:
    return [e["url"] for e in entries if e["kind"] == "index"]


def unknown(entries: list[dict[str, Any]]) -> int:
    """How many HTTP entries have no URL (and none a wrong one)."""
    assert all(proven(e) for e in http(entries) if e["url"] is not None)
    return sum(1 for e in http(entries) if e["url"] is None)


@dataclass(frozen=True)
class Served:
    path: Path
    index_url: str
    fetched: tuple[str, ...]  # the file and .metadata URLs pip fetched (GET, 200)


def _fill(
    packages: tuple[PackageFile, ...],
    pip: PipRunner,
    dest: Path,
    **server_options: Any,
) -> Served:
    """A cache that ``pip download`` filled from a server of its own (built wheels, the
    only other clue, are left out: ``download`` builds none)."""
    with IndexServer(packages, **server_options) as server:
        pip.with_index(server.index_url).download(
            *DOWNLOAD_REQUIREMENTS, dest=dest / "dl", cache_dir=dest / "cache"
        )
        fetched = [
            r.url for r in server.requests() if r.status == 200 and r.kind in ("file", "metadata")
        ]
    return Served(dest / "cache", server.index_url, tuple(dict.fromkeys(fetched)))


@pytest.fixture(scope="module")
def clueless(
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Served:
    """Pages cached, linking files relatively (pypiserver's ``../../packages/...``): the
    cache holds no clue to its index, so only the index options can name its pages."""
    served = _fill(packages, pip_current, tmp_path_factory.mktemp("clueless"), layout="pypiserver")
    assert (served.path / "http-v2").is_dir() and not (served.path / "wheels").exists()
    return served


@pytest.fixture(scope="module")
def pageless_pypiserver(
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Served:
    return _fill(
        packages,
        pip_current,
        tmp_path_factory.mktemp("pypiserver"),
        layout="pypiserver",
        page_cache=False,
    )


@pytest.fixture(scope="module")
def pageless_warehouse(
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Served:
    """Files at PyPI's blake2b paths; only the body's digest says where."""
    return _fill(
        packages,
        pip_current,
        tmp_path_factory.mktemp("warehouse"),
        layout="warehouse",
        page_cache=False,
    )


@pytest.fixture(scope="module")
def pageless_devpi(
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Served:
    """Files at devpi's sha256 paths."""
    return _fill(
        packages, pip_current, tmp_path_factory.mktemp("devpi"), layout="devpi", page_cache=False
    )


def test_nothing_configured_the_cache_itself_proves_the_index(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache
) -> None:
    """Pages link files absolutely here: their directories suggest bases, and
    ``<base><project>/`` of one hashes to each page's key (harvested, proven)."""
    assert_every_url_right(listing(capsys, any_cache.path))


@pytest.mark.parametrize("flag", ["-i", "--index-url", "--pypi-url", "--extra-index-url"])
def test_index_url_on_our_command_line(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache, flag: str
) -> None:
    assert_every_url_right(listing(capsys, any_cache.path, flag, any_cache.index_url))


def test_requirements_file_holding_the_index_url(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    (tmp_path / "inner.txt").write_text(f"--index-url {v2_cache.index_url}\n")
    (tmp_path / "reqs.txt").write_text("tiny_pure==1.0\n-r inner.txt\n")
    entries = listing(capsys, v2_cache.path, "-r", str(tmp_path / "reqs.txt"))
    assert_every_url_right(entries)


def test_pip_index_url_variable(
    capsys: pytest.CaptureFixture[str],
    any_cache: BuiltCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", any_cache.index_url)
    assert_every_url_right(listing(capsys, any_cache.path))


def test_command_line_beats_the_variable(
    capsys: pytest.CaptureFixture[str], clueless: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", WRONG)
    assert unknown(listing(capsys, clueless.path))
    assert_every_url_right(listing(capsys, clueless.path, "-i", clueless.index_url))


def test_variable_beats_the_config_file(
    capsys: pytest.CaptureFixture[str],
    clueless: Served,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {clueless.index_url}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert_every_url_right(listing(capsys, clueless.path))
    monkeypatch.setenv("PIP_INDEX_URL", WRONG)
    assert unknown(listing(capsys, clueless.path))


def test_no_index_drops_the_configured_index(
    capsys: pytest.CaptureFixture[str], clueless: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", clueless.index_url)
    assert_every_url_right(listing(capsys, clueless.path))
    assert unknown(listing(capsys, clueless.path, "--no-index"))
    # --no-index drops an --index-url given beside it too, as in pip.
    assert unknown(listing(capsys, clueless.path, "--no-index", "-i", clueless.index_url))


def test_a_requirements_file_replaces_the_variable(
    capsys: pytest.CaptureFixture[str],
    clueless: Served,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", clueless.index_url)
    assert_every_url_right(listing(capsys, clueless.path))
    # pip: a requirements file's --index-url replaces every index so far, extras too.
    (tmp_path / "reqs.txt").write_text(f"--index-url {WRONG}\n")
    assert unknown(listing(capsys, clueless.path, "-r", str(tmp_path / "reqs.txt")))


# pypiserver: pages sent with no cache headers, so pip cached only the files -----------------


@pytest.mark.parametrize("layout", ["pypiserver", "warehouse", "devpi"])
@pytest.mark.parametrize("how", ["cli", "reqfile", "env"])
def test_files_without_pages_are_named_from_the_index_and_a_layout(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    layout: str,
    how: str,
) -> None:
    served: Served = request.getfixturevalue(f"pageless_{layout}")
    entries = listing(capsys, served.path)
    assert unknown(entries) == len(http(entries))  # nothing known without the index
    assert not [e for e in entries if e["kind"] == "index"]  # no page was cached
    args: list[str] = []
    if how == "cli":
        args = ["--index-url", served.index_url]
    elif how == "reqfile":
        (tmp_path / "reqs.txt").write_text(f"tiny_pure\n-i {served.index_url}\n")
        args = ["-r", str(tmp_path / "reqs.txt")]
    else:
        monkeypatch.setenv("PIP_INDEX_URL", served.index_url)
    entries = listing(capsys, served.path, *args)
    assert not [(e["kind"], e["url"]) for e in http(entries) if not proven(e)]
    assert {e["url"] for e in http(entries)} == set(served.fetched)
    assert {e["filename"] for e in http(entries)} == {u.rsplit("/", 1)[1] for u in served.fetched}
    for wrong in (["--index-url", WRONG], ["--no-index", "-i", served.index_url]):
        assert unknown(listing(capsys, served.path, *wrong)) == len(http(entries))


def test_every_naming_command_takes_them(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    page = f"{v2_cache.index_url}tiny-pure/"
    code = main(["show", "--cache-dir", str(v2_cache.path), "tiny-pure", "--kind", "index",
                 "--format", "json", "-i", v2_cache.index_url])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [s["url"] for s in json.loads(out)["entries"]] == [page]
    for command in ("info", "du", "verify", "prune --dry-run", "remove --dry-run x"):
        code = main([*command.split(), "--cache-dir", str(v2_cache.path), "-i", WRONG])
        capsys.readouterr()
        assert code in (0, 1), command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "missing.txt"], "Could not open requirements file"),
        (["-i"], "expected one argument"),
    ],
)
def test_bad_index_options_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["list", "--cache-dir", str(tmp_path), *args])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_find_links_page_is_matched_at_its_own_url(
    capsys: pytest.CaptureFixture[str],
    packages: tuple[PackageFile, ...],
    pip_current: PipRunner,
    tmp_path: Path,
) -> None:
    """``pip download --no-index -f URL``: pip caches the find-links page under URL as
    given (here with a query, which no base the cache suggests can give)."""
    with IndexServer(packages) as server:
        links = f"{server.index_url}tiny-pure/?from=find-links"
        pip = pip_current.with_index(server.index_url)
        pip.download("--no-index", "-f", links, "tiny_pure==1.0", "--no-deps",
                     dest=tmp_path / "dl", cache_dir=tmp_path / "cache")  # fmt: skip
    cache = tmp_path / "cache"
    assert page_urls(listing(capsys, cache)) == [None]
    entries = listing(capsys, cache, "-f", links)
    assert page_urls(entries) == [links]
    assert_every_url_right(entries, kinds={"index", "wheel", "metadata"})
    assert page_urls(listing(capsys, cache, "--no-index", "--find-links", links)) == [links]


@pytest.mark.parametrize("layout", ["pypiserver", "warehouse"])
def test_the_same_answers_with_the_memo_on_and_off(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    layout: str,
) -> None:
    served: Served = request.getfixturevalue(f"pageless_{layout}")
    args = ["-i", served.index_url]
    monkeypatch.setenv("PIP_CACHE_PLUS_MEMO_DIR", str(tmp_path / "memo"))
    cold, warm = listing(capsys, served.path, *args), listing(capsys, served.path, *args)
    other = listing(capsys, served.path, "-i", WRONG)  # the memo notices the index changed
    monkeypatch.setenv("PIP_CACHE_PLUS_MEMO_DIR", "")
    assert cold == warm == listing(capsys, served.path, *args)
    assert other == listing(capsys, served.path, "-i", WRONG) != cold
    assert unknown(other) == len(http(other))


def test_isolated_ignores_the_variable_not_the_command_line(
    capsys: pytest.CaptureFixture[str], clueless: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", clueless.index_url)
    assert_every_url_right(listing(capsys, clueless.path))
    assert unknown(listing(capsys, clueless.path, "--isolated"))
    assert_every_url_right(listing(capsys, clueless.path, "--isolated", "-i", clueless.index_url))
