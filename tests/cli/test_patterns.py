"""Patterns on caches real pip wrote: several, specifiers, bad ones, misses, commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def usage(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    assert exc.value.code == code
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    return err


def names(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> set[tuple[str, str]]:
    code, out, err = run(capsys, "list", "--cache-dir", str(cache), "--format", "json", *args)
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)["entries"]
    return {(e["project"], e["version"]) for e in entries}


def test_specifiers_select_releases(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    cache = mixed_cache.path
    assert names(capsys, cache, "tiny-pure>=1.1") == {("tiny-pure", "1.1")}
    assert names(capsys, cache, "tiny_pure>=1,<1.1") == {("tiny-pure", "1.0")}
    assert names(capsys, cache, "Tiny.Pure==1.*") == {("tiny-pure", "1.0"), ("tiny-pure", "1.1")}
    assert names(capsys, cache, "tiny-pure!=1.0") == {("tiny-pure", "1.1")}
    assert names(capsys, cache, "tiny-pure>=2") == set()


def test_several_patterns_show_du_but_one_for_pips_list_remove(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    cache = str(mixed_cache.path)
    code, out, err = run(
        capsys, "du", "--cache-dir", cache, "--format", "json", "tiny-pure==1.0", "platpkg"
    )
    assert code == 0, err
    assert {p["project"] for p in json.loads(out)["projects"]} == {"tiny-pure", "platpkg"}
    # pip's list and remove take one pattern: two is pip's error (an unquoted '*' the
    # shell expanded, say), and nothing is removed.
    before = names(capsys, mixed_cache.path)
    for command in ("list", "remove"):
        code, out, err = run(capsys, command, "--cache-dir", cache, "tiny-pure==1.0", "platpkg")
        assert (code, out, err) == (1, "", "ERROR: Too many arguments\n")
    assert names(capsys, mixed_cache.path) == before
    code, out, err = run(
        capsys, "show", "--cache-dir", cache, "--format", "json", "tiny-pure==1.0", "platpkg"
    )
    assert code == 0, err
    shown = {(e["project"], e["version"]) for e in json.loads(out)["entries"]}
    assert {p for p, _ in shown} == {"tiny-pure", "platpkg"}
    assert ("tiny-pure", "1.1") not in shown


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        pytest.param("[", "'[' without its ']'", id="bracket"),
        pytest.param("requests>=x", "no PEP 440 version specifier", id="specifier"),
        pytest.param("foo:bar", "':' is in no project or file name", id="char"),
    ],
)
@pytest.mark.parametrize("command", ["list", "show", "remove", "du"])
def test_unparsable_pattern_is_exit_2_saying_why(
    capsys: pytest.CaptureFixture[str],
    mixed_cache: BuiltCache,
    command: str,
    pattern: str,
    why: str,
) -> None:
    err = usage(capsys, command, "--cache-dir", str(mixed_cache.path), pattern)
    assert why in err


@pytest.mark.parametrize("command", ["show", "du"])
def test_a_miss_says_so_and_suggests_a_close_project(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, command: str
) -> None:
    cache = str(mixed_cache.path)
    code, out, err = run(capsys, *command.split(), "--cache-dir", cache, "tiny-pur", "platpkg")
    assert code == 0  # one pattern matched: show found something
    assert err.splitlines() == [
        'No matching entries for pattern "tiny-pur"',
        'Did you mean "tiny-pure"?',
    ]
    assert "platpkg" in out


@pytest.mark.parametrize(
    ("command", "miss"),
    [
        pytest.param("list", 'No matching entries for pattern "tiny-pur"', id="list"),
        pytest.param(
            "remove --dry-run", 'WARNING: No matching packages for pattern "tiny-pur"', id="remove"
        ),
    ],
)
def test_a_miss_of_pips_commands_suggests_a_close_project(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, command: str, miss: str
) -> None:
    cache = str(mixed_cache.path)
    code, _out, err = run(capsys, *command.split(), "--cache-dir", cache, "tiny-pur")
    assert code == 0
    assert err.splitlines() == [miss, 'Did you mean "tiny-pure"?']


def test_a_miss_far_from_any_project_says_only_so(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    code, out, err = run(capsys, "list", "--cache-dir", str(mixed_cache.path), "zzzzzz")
    assert code == 0
    assert err == 'No matching entries for pattern "zzzzzz"\n'
    assert out == "No locally built wheels cached.\n"
    code, out, err = run(capsys, "show", "--cache-dir", str(mixed_cache.path), "zzzzzz")
    assert (code, out, err) == (1, "", 'No matching entries for pattern "zzzzzz"\n')


@pytest.mark.parametrize(
    ("given", "meant"),
    [pytest.param("lst", "list", id="list"), pytest.param("remov", "remove", id="remove")],
)
def test_unknown_command_suggests_the_closest(
    capsys: pytest.CaptureFixture[str], given: str, meant: str
) -> None:
    err = usage(capsys, given, code=1)  # pip's code for an unknown action
    assert f"did you mean '{meant}'?" in err


def test_unknown_command_far_from_any_suggests_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert "did you mean" not in usage(capsys, "xyzzy", code=1)


def test_the_bare_command_prints_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0
    assert out.startswith("usage: ")
    assert "du" in out and "remove" in out
    assert err == ""
