"""check: what it says installs does install with real pip from our export, offline;
what it says is missing does not. Then the planner's rules on made-up candidates."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.version import Version

from pip_cache_plus.actions.check import (
    Candidate,
    Request,
    parse_requests,
    plan,
)
from pip_cache_plus.cli.app import main
from pip_cache_plus.format.coremeta import CoreMetadata
from pip_cache_plus.model import CacheEntry, FileStat, RawEntry
from realpip import BuiltCache, PipRunner

pytestmark = pytest.mark.usefixtures("index_env")


def check(
    capsys: pytest.CaptureFixture[str], cache: Path, dest: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--cache-dir", str(cache), "-d", str(dest), "--format", "json", *args])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    data: dict[str, Any] = json.loads(out)
    assert data["ok"] == (code == 0)
    return code, data


def pip_install(pip: PipRunner, install_command: str, target: Path, cwd: Path) -> bool:
    """Run check's install line with real pip, into a throwaway --target, no cache."""
    words = shlex.split(install_command)
    assert words[:4] == ["pip", "install", "--no-index", "--find-links"]
    proc = pip.run(
        "install", *words[2:], "--target", str(target), "--no-cache-dir",
        cache_dir=cwd / "unused-cache", cwd=cwd, check=False,
    )  # fmt: skip
    return proc.returncode == 0


def run_export(capsys: pytest.CaptureFixture[str], export_command: str, cwd: Path) -> None:
    words = shlex.split(export_command)
    assert words[:3] == ["python", "-m", "pip_cache_plus"]
    assert main(words[3:]) == 0, capsys.readouterr().err
    capsys.readouterr()


def installed(target: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in target.glob("*.dist-info")}


CASES = [
    pytest.param(["tiny-pure"], {"tiny-pure", "dotted-pkg"}, id="deps-from-metadata"),
    pytest.param(
        ["tiny-pure==1.0", "Mixed_Case", "platpkg", "sdist_only"],
        {"tiny-pure", "mixed-case", "platpkg", "sdist-only"},
        id="pinned-platform-built",
    ),
    pytest.param(["tiny_pure>=1.1", "sdist-only<1"], {"tiny-pure", "dotted-pkg", "sdist-only"}),
]


@pytest.mark.parametrize(("reqs", "projects"), CASES)
def test_what_check_says_installs_installs_offline(
    capsys: pytest.CaptureFixture[str],
    any_cache: BuiltCache,
    pip_current: PipRunner,
    tmp_path: Path,
    reqs: list[str],
    projects: set[str],
) -> None:
    dest = tmp_path / "wheelhouse"
    code, data = check(capsys, any_cache.path, dest, *reqs)
    assert code == 0, data["needs"]
    assert {n["project"] for n in data["needs"]} == projects
    assert all(n["status"] == "ok" and n["entry"] is not None for n in data["needs"])
    run_export(capsys, data["export_command"], tmp_path)
    assert sorted(p.name for p in dest.iterdir()) == data["files"]
    target = tmp_path / "target"
    assert pip_install(pip_current, data["install_command"], target, tmp_path)
    assert installed(target) == {p.replace("-", "_") for p in projects}
    versions = {n["project"]: n["version"] for n in data["needs"]}
    for dist in target.glob("*.dist-info"):
        name, version = dist.name.removesuffix(".dist-info").split("-")
        assert versions[name.lower().replace("_", "-")] == version


def test_a_requirements_file_with_markers_constraints_and_extras(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, pip_current: PipRunner, tmp_path: Path
) -> None:
    (tmp_path / "constraints.txt").write_text("tiny-pure<1.1\n")
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(
        "-c constraints.txt\n"
        "tiny-pure  # the constraint keeps it at 1.0, which needs nothing\n"
        "mixed-case[fast]\n"
        'platpkg ; python_version < "3"\n'
    )
    dest = tmp_path / "wheelhouse"
    code, data = check(capsys, v2_cache.path, dest, "-r", str(reqs))
    assert code == 0, data["needs"]
    by = {n["project"]: n for n in data["needs"]}
    assert by["tiny-pure"]["version"] == "1.0" and "dotted-pkg" not in by
    assert by["platpkg"]["status"] == "skipped" and by["platpkg"]["entry"] is None
    assert by["mixed-case"]["status"] == "ok" and "no extra fast" in by["mixed-case"]["reason"]
    assert by["tiny-pure"]["requested_by"] == [f"{reqs}:2"]
    assert data["install_command"].endswith(f"-r {reqs}")
    run_export(capsys, data["export_command"], tmp_path)
    target = tmp_path / "target"
    assert pip_install(pip_current, data["install_command"], target, tmp_path)
    assert installed(target) == {"tiny_pure", "mixed_case"}


@pytest.mark.parametrize(
    "reqs",
    [
        pytest.param(["not-cached-anywhere"], id="not-cached"),
        pytest.param(["dotted.pkg<2"], id="no-matching-version"),
        pytest.param(["tiny-pure==1.1", "dotted.pkg<2"], id="dependency-conflict"),
    ],
)
def test_what_check_says_is_missing_does_not_install(
    capsys: pytest.CaptureFixture[str],
    any_cache: BuiltCache,
    pip_current: PipRunner,
    tmp_path: Path,
    reqs: list[str],
) -> None:
    dest = tmp_path / "wheelhouse"
    code, data = check(capsys, any_cache.path, dest, *reqs)
    assert code == 1
    assert any(n["status"] == "missing" for n in data["needs"])
    if data["export_command"] is not None:
        run_export(capsys, data["export_command"], tmp_path)
    else:
        dest.mkdir()
    assert not pip_install(pip_current, data["install_command"], tmp_path / "target", tmp_path)


def test_a_missing_dependency_pip_may_route_around_is_left_to_the_resolver(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, pip_current: PipRunner, tmp_path: Path
) -> None:
    assert main(["remove", "--cache-dir", str(v2_cache.path), "dotted-pkg"]) == 0
    capsys.readouterr()
    dest = tmp_path / "wheelhouse"
    # Pinned: tiny-pure 1.1 needs dotted.pkg, gone: missing, and pip fails.
    code, data = check(capsys, v2_cache.path, dest, "tiny-pure==1.1")
    assert code == 1
    dep = next(n for n in data["needs"] if n["project"] == "dotted-pkg")
    assert dep["status"] == "missing" and dep["requested_by"] == ["tiny-pure 1.1"]
    run_export(capsys, data["export_command"], tmp_path)
    assert not pip_install(pip_current, data["install_command"], tmp_path / "t1", tmp_path)
    # Unpinned: pip backtracks to tiny-pure 1.0; check does not guess, it says so.
    code, data = check(capsys, v2_cache.path, dest, "tiny-pure")
    assert code == 1
    dep = next(n for n in data["needs"] if n["project"] == "dotted-pkg")
    assert dep["status"] == "needs-resolver" and "tiny-pure (1.0)" in dep["reason"]


def test_human_output_names_the_entry_and_the_commands(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    code = main(["check", "--cache-dir", str(v2_cache.path), "tiny-pure", "requests"])
    out, _ = capsys.readouterr()
    assert code == 1
    wheel = "tiny_pure-1.1-py3-none-any.whl"
    assert f" ok       tiny-pure (command line): {wheel} serves it (from http-v2)" in out
    assert " MISSING  requests (command line): nothing of it is cached" in out
    assert "Not proven installable from the cache alone: 1 MISSING." in out
    assert out.rstrip().endswith(
        "  pip install --no-index --find-links wheelhouse tiny-pure requests"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param([], "check needs a requirement", id="none"),
        pytest.param(["requests>=x"], "bad requirement 'requests>=x'", id="bad"),
    ],
)
def test_bad_usage_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--cache-dir", str(tmp_path), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


# -- the planner on made-up candidates ------------------------------------------------------

_TAGS = (Tag("cp311", "cp311", "linux_x86_64"), Tag("py3", "none", "any"))
_ENV = {"python_full_version": "3.11.7", "python_version": "3.11", "sys_platform": "linux"}


def _candidate(project: str, version: str, *, wheel: bool = True) -> Candidate:
    filename = f"{project}-{version}-py3-none-any.whl" if wheel else f"{project}-{version}.tar.gz"
    raw = RawEntry("http-v2", (FileStat(f"/c/{filename}", 1, time.time(), time.time()),))
    entry = CacheEntry(raw, "wheel" if wheel else "sdist", project, version, filename)
    return Candidate(entry, project, Version(version), filename, wheel, 1 if wheel else 2)


def _plan(
    reqs: list[str], files: dict[str, list[str]], **meta: tuple[list[str], str | None]
) -> dict[str, tuple[str, str | None, str]]:
    cands: dict[str, list[Candidate]] = {}
    for project, versions in files.items():
        for v in versions:
            sdist = v.endswith("s")
            cands.setdefault(project, []).append(
                _candidate(project, v.rstrip("s"), wheel=not sdist)
            )

    def metadata(c: Candidate) -> CoreMetadata | str:
        deps, python = meta.get(
            f"{c.project}_{c.version}".replace("-", "_").replace(".", "_"), ([], None)
        )
        return CoreMetadata(c.project, str(c.version), tuple(deps), python, ("x",))

    requests = parse_requests(
        Request(r.removeprefix("-c "), constraint=r.startswith("-c ")) for r in reqs
    )
    needs = plan(requests, cands, metadata, environment=_ENV)
    return {
        n.project: (n.status, str(n.serves.version) if n.serves else None, n.reason) for n in needs
    }


def test_plan_picks_as_pips_finder_does() -> None:
    got = _plan(["a"], {"a": ["1.0", "2.0s", "2.0", "3.0rc1"]})
    assert got["a"][:2] == ("ok", "2.0")  # highest final; the wheel before the sdist
    assert _plan(["a>=3.0rc1"], {"a": ["2.0", "3.0rc1"]})["a"][:2] == ("ok", "3.0rc1")
    assert _plan(["a"], {"a": ["3.0rc1"]})["a"][:2] == ("ok", "3.0rc1")  # nothing else
    got = _plan(["a"], {"a": ["2.0s"]})
    assert got["a"][:2] == ("unproven", "2.0") and "sdist" in got["a"][2]


def test_plan_follows_dependencies_markers_extras_and_requires_python() -> None:
    deps = ["b>=1", 'c; extra == "x"', 'd; python_version < "3"']
    got = _plan(["a"], {"a": ["1.0"], "b": ["1.0", "2.0"], "c": ["1.0"]}, a_1_0=(deps, None))
    assert set(got) == {"a", "b"} and got["b"][:2] == ("ok", "2.0")
    got = _plan(["a[x]"], {"a": ["1.0"], "b": ["1.0"], "c": ["1.0"]}, a_1_0=(deps, None))
    assert set(got) == {"a", "b", "c"}
    # 2.0 wants a newer Python: 1.0 serves.
    got = _plan(["b"], {"b": ["1.0", "2.0"]}, b_2_0=([], ">=3.99"))
    assert got["b"][:2] == ("ok", "1.0")
    got = _plan(["b>=2"], {"b": ["1.0", "2.0"]}, b_2_0=([], ">=3.99"))
    assert got["b"][0] == "missing" and "another Python" in got["b"][2]


def test_plan_leaves_conflicts_to_the_resolver() -> None:
    files = {"a": ["1.0"], "b": ["1.0"], "c": ["1.0", "2.0"]}
    got = _plan(["a", "b"], files, a_1_0=(["c>=2"], None), b_1_0=(["c<2"], None))
    assert got["c"][0] == "needs-resolver" and "backtrack" in got["c"][2]
    # A constraint narrows without asking for anything.
    got = _plan(["a", "-c c<2", "-c zzz"], files, a_1_0=(["c"], None))
    assert got["c"][:2] == ("ok", "1.0") and "zzz" not in got
