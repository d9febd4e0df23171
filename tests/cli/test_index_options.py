"""pip's index options on our command line, on caches real pip filled from a loopback
index given only on pip's command line (``pip download --index-url ...``, no config).

"Every URL right" means: every HTTP entry has a URL, and the URL's sha224 is the entry's
key (the proof; nothing else names an entry's URL).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("isolated_pip_env")

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


def assert_every_url_right(entries: list[dict[str, Any]]) -> None:
    wrong = [(e["kind"], e["url"]) for e in http(entries) if not proven(e)]
    assert not wrong
    assert {e["kind"] for e in http(entries)} >= {"index", "wheel", "sdist", "metadata"}


def page_urls(entries: list[dict[str, Any]]) -> list[str | None]:
    return [e["url"] for e in entries if e["kind"] == "index"]


def test_nothing_configured_leaves_page_urls_unknown_never_wrong(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache
) -> None:
    entries = listing(capsys, any_cache.path)
    assert page_urls(entries) and set(page_urls(entries)) == {None}
    assert all(proven(e) for e in http(entries) if e["url"] is not None)


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
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", WRONG)
    assert set(page_urls(listing(capsys, v2_cache.path))) == {None}
    assert_every_url_right(listing(capsys, v2_cache.path, "-i", v2_cache.index_url))


def test_variable_beats_the_config_file(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {v2_cache.index_url}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert_every_url_right(listing(capsys, v2_cache.path))
    monkeypatch.setenv("PIP_INDEX_URL", WRONG)
    assert set(page_urls(listing(capsys, v2_cache.path))) == {None}


def test_no_index_drops_the_configured_index(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", v2_cache.index_url)
    assert set(page_urls(listing(capsys, v2_cache.path, "--no-index"))) == {None}
    # --no-index drops an --index-url given beside it too, as in pip.
    assert set(page_urls(listing(capsys, v2_cache.path, "--no-index", "-i", WRONG))) == {None}


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
