"""Each case runs through real pip (``python -m pip cache ...``, pip_current: 26.3 unless
``$PCP_PIP_CURRENT`` says otherwise) and through us (``python -m pip_cache_plus ...``),
on identical copies of a cache, with the environment pip's own tests use (a temporary
HOME and XDG_* directories, ``PIP_DISABLE_PIP_VERSION_CHECK``), once with ``--cache-dir``
and once on the default cache. Compared: the exit code, stderr, stdout (exactly, or pip's
lines first then ours where we add some), and the tree left behind.

``PIPS_TEST_CACHE`` names the cases of pip's ``tests/functional/test_cache.py`` (pip 26.3):
each is run here with the fixtures and the command line that test uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from realpip import PipRunner, scrubbed_env

pytestmark = pytest.mark.realpip

Setup = Callable[[Path], None]
StdoutRule = Literal["exact", "pip-first", "list", "none"]
# "note": ours is pip's and then the missing-cache note (pip's test reads stdout only).
StderrRule = Literal["exact", "note", "none"]
LOCK_PREFIX = ".pip_cache_plus"  # our lock files stay (see README): not part of the tree


# pip's fixtures (tests/functional/test_cache.py), on a cache dir ---------------------------


def http_files(cache: Path) -> None:
    """populate_http_cache: three empty files in http-v2/arbitrary/pathname."""
    where = cache / "http-v2" / "arbitrary" / "pathname"
    where.mkdir(parents=True)
    for name in ("aaaaaaaaa", "bbbbbbbbb", "ccccccccc"):
        (where / name).touch()


def wheel_files(cache: Path) -> None:
    """populate_wheel_cache: four empty wheels in wheels/arbitrary/pathname."""
    where = cache / "wheels" / "arbitrary" / "pathname"
    where.mkdir(parents=True)
    for name in ("yyy-1.2.3", "zzz-4.5.6", "zzz-4.5.7", "zzz-7.8.9"):
        (where / f"{name}-py3-none-any.whl").touch()


def both(cache: Path) -> None:
    http_files(cache)
    wheel_files(cache)


def nothing(cache: Path) -> None:
    """empty_wheel_cache (the cache dir may not even exist)."""


def empty_dirs_and_selfcheck(cache: Path) -> None:
    """populate_wheel_cache_with_empty_dirs, populate_http_cache_with_empty_dirs and
    create_selfcheck_json."""
    wheels = cache / "wheels"
    (wheels / "metadata_only").mkdir(parents=True)
    (wheels / "metadata_only" / "metadata.json").touch()
    (wheels / "completely_empty").mkdir()
    (wheels / "nested" / "empty" / "dirs").mkdir(parents=True)
    (cache / "http" / "empty1").mkdir(parents=True)
    (cache / "http" / "empty2" / "nested").mkdir(parents=True)
    (cache / "http-v2" / "empty3" / "nested").mkdir(parents=True)
    state = {"/some/prefix": {"last_check": "2020-01-01T00:00:00", "pypi_version": "20.0.1"}}
    (cache / "selfcheck.json").write_text(json.dumps(state))


def wheels_and_empty_dir(cache: Path) -> None:
    wheel_files(cache)
    (cache / "wheels" / "empty_subdir").mkdir()


# Running both ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    tree: list[str]


@dataclass(frozen=True)
class Case:
    """``args`` after the command name; ``before``: general options before it."""

    setup: Setup
    args: tuple[str, ...]
    before: tuple[str, ...] = ()
    stdout: StdoutRule = "exact"
    stderr: StderrRule = "exact"
    env: dict[str, str] = field(default_factory=dict)


class Sandbox:
    """pip's test environment: a HOME of its own, XDG_* inside it, no PIP_* but ours."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        fake_root = root / "fake-root"
        env = scrubbed_env()
        del env["PIP_CONFIG_FILE"]  # pip's tests let config files load: so do we
        env.update(
            HOME=str(self.home),
            XDG_DATA_HOME=str(self.home / ".local" / "share"),
            XDG_CONFIG_HOME=str(self.home / ".config"),
            XDG_CACHE_HOME=str(self.home / ".cache"),
            XDG_RUNTIME_DIR=str(self.home / ".runtime"),
            XDG_DATA_DIRS=os.pathsep.join(
                [str(fake_root / "usr" / "local" / "share"), str(fake_root / "usr" / "share")]
            ),
            XDG_CONFIG_DIRS=str(fake_root / "etc" / "xdg"),
            PIP_DISABLE_PIP_VERSION_CHECK="true",
            LC_ALL="C.UTF-8",
        )
        for name in ("FORCE_COLOR", "NO_COLOR", "COLUMNS"):
            env.pop(name, None)
        self.env = env
        self.default_cache = self.home / ".cache" / "pip"


def _tree(cache: Path) -> list[str]:
    if not cache.exists():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(cache):
        for name in [*dirnames, *filenames]:
            rel = os.path.relpath(os.path.join(dirpath, name), cache)
            if not rel.startswith(LOCK_PREFIX):
                found.append(rel + ("/" if name in dirnames else ""))
    return sorted(found)


def run_both(pip: PipRunner, case: Case, tmp_path: Path, *, default_cache: bool) -> tuple[Run, Run]:
    """``case`` through pip and through us, each in a sandbox of its own; paths in our
    output are rewritten to pip's sandbox so the texts compare."""
    sandboxes = {who: Sandbox(tmp_path / who) for who in ("pip", "us")}
    caches = {
        who: box.default_cache if default_cache else tmp_path / who / "cache"
        for who, box in sandboxes.items()
    }
    for cache in caches.values():
        case.setup(cache)
    procs = {}
    for who, box in sandboxes.items():
        where = () if default_cache else ("--cache-dir", str(caches[who]))
        env = {**box.env, **case.env}
        if who == "pip":
            cmd = [str(pip.python), "-m", "pip", *case.before, "cache", *where, *case.args]
        else:
            cmd = [sys.executable, "-m", "pip_cache_plus", *case.before, *where, *case.args]
        procs[who] = subprocess.Popen(
            cmd,
            env=env,
            cwd=tmp_path / who,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    runs = {}
    for who, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        if who == "us":
            ours, theirs = str(tmp_path / "us"), str(tmp_path / "pip")
            out, err = out.replace(ours, theirs), err.replace(ours, theirs)
        runs[who] = Run(proc.returncode, out, err, _tree(caches[who]))
    return runs["pip"], runs["us"]


def removed_sorted(text: str) -> str:
    """pip prints ``Removed <path>`` in the order os.walk meets the files; we in the
    order of our walk. The same lines, sorted, in their place."""
    lines = text.splitlines(keepends=True)
    removed = sorted(line for line in lines if line.startswith("Removed "))
    it = iter(removed)
    return "".join(next(it) if line.startswith("Removed ") else line for line in lines)


def list_lines_kept(pip_out: str, our_out: str) -> bool:
    """Each line of pip's ``list`` is ours, in order, where a wheel line `` - NAME (SIZE)``
    is ours as `` - NAME (SIZE, wheel, wheels)``: the entry's size, which counts its
    ``origin.json`` too (README: differences), so only `` - NAME (`` must agree (what
    pip's own test reads)."""
    ours = iter(our_out.splitlines())
    for line in pip_out.splitlines():
        name = line.split(" (")[0] + " (" if line.startswith(" - ") else None
        if not any(o == line or (name and o.startswith(name)) for o in ours):
            return False
    return True


def assert_same(pip: Run, us: Run, case: Case) -> None:
    assert us.code == pip.code, (pip, us)
    if case.stderr == "exact":
        assert us.err == pip.err, (pip, us)
    elif case.stderr == "note":
        assert us.err.startswith(pip.err) and us.err.endswith("treated as empty.\n"), (pip, us)
        assert us.err.count("\n") == pip.err.count("\n") + 1, (pip, us)
    pip_out, our_out = removed_sorted(pip.out), removed_sorted(us.out)
    if case.stdout == "exact":
        assert our_out == pip_out, (pip, us)
    elif case.stdout == "pip-first":
        assert our_out.startswith(pip_out), (pip, us)
    elif case.stdout == "list":
        assert list_lines_kept(pip_out, our_out), (pip, us)
    assert us.tree == pip.tree, (pip, us)


@pytest.fixture(params=["cache-dir", "default"])
def default_cache(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "default")


# Where pips differ we follow the latest (README); under nox's pip_compat (PCP_PIP_CURRENT)
# the cases whose output an older pip words otherwise are skipped, saying why:
# pip 23.2: info's one "Package index page cache location:", "Files removed: N" (no size);
# pip < 26.0: no "Directories removed: N", no empty directories or selfcheck.json removed.
_SINCE_26 = frozenset({"remove", "purge"})


def _older_pip_differs(pip: PipRunner, case: Case) -> str | None:
    major = int(pip.version.split(".")[0])
    words = {*case.args, *case.before}
    if major < 26 and words & _SINCE_26 and "--no-cache-dir" not in words:
        return f"pip {pip.version} predates 26.0's remove/purge output; we follow 26.3"
    return None


def check(pip_current: PipRunner, case: Case, tmp_path: Path, default_cache: bool) -> Run:
    why = _older_pip_differs(pip_current, case)
    if why is not None:
        pytest.skip(why)
    pip, us = run_both(pip_current, case, tmp_path, default_cache=default_cache)
    assert_same(pip, us, case)
    return us


# pip's general options -----------------------------------------------------------------------

NO_OPS = (
    "--no-color",
    "--disable-pip-version-check",
    "--no-input",
    "--debug",
    "--require-virtualenv",
    "--require-venv",
    "--no-proxy-env",
    "--no-python-version-warning",
    "--retries=0",
    "--resume-retries",
    "3",
    "--timeout",
    "5",
    "--default-timeout=5",
    "--proxy",
    "http://127.0.0.1:9",
    "--exists-action",
    "i",
    "--trusted-host",
    "example.org",
    "--cert",
    "/nonexistent.pem",
    "--client-cert",
    "/nonexistent.pem",
    "--keyring-provider",
    "disabled",
    "--use-feature",
    "fast-deps",
    "--use-deprecated",
    "legacy-resolver",
    "--isolated",
)

GENERAL = {
    "dir-verbose": Case(nothing, ("dir", "-v")),
    "dir-quiet": Case(nothing, ("dir", "-q")),
    "dir-too-many-qqq": Case(nothing, ("dir", "aaa", "-qqq")),
    "dir-too-many-qq": Case(nothing, ("dir", "aaa", "-qq")),
    "no-ops-after": Case(both, ("dir", *NO_OPS)),
    "no-ops-before": Case(both, ("dir",), before=NO_OPS),
    "verbose-before": Case(wheel_files, ("remove", "zzz"), before=("-v",)),
    "verbose-after-twice": Case(wheel_files, ("remove", "zzz", "-vv")),
    "verbose-quiet-cancel": Case(wheel_files, ("remove", "zzz", "-v", "-q")),
    "remove-quiet": Case(wheel_files, ("remove", "aaa", "-q")),
    "remove-quieter": Case(wheel_files, ("remove", "aaa", "-qq")),
    "purge-verbose": Case(both, ("purge", "--verbose")),
    "purge-quiet": Case(both, ("purge", "--quiet")),
    "no-cache-dir-last": Case(both, ("info", "--cache-dir", "elsewhere", "--no-cache-dir")),
    "no-cache-dir-then-cache-dir": Case(both, ("dir", "--no-cache-dir", "--cache-dir", "d")),
    "empty-cache-dir": Case(both, ("dir", "--cache-dir=")),
    "no-cache-dir-env": Case(both, ("dir",), env={"PIP_NO_CACHE_DIR": "1"}),
    "isolated-ignores-no-cache-dir-env": Case(
        both, ("dir", "--isolated"), env={"PIP_NO_CACHE_DIR": "1"}
    ),
    "no-color-env": Case(both, ("info",), stdout="pip-first", env={"NO_COLOR": "1"}),
    "bad-int": Case(nothing, ("dir", "--retries", "x"), stdout="none", stderr="none"),
    "bad-choice": Case(nothing, ("dir", "--use-feature", "x"), stdout="none", stderr="none"),
    "verbose-env": Case(wheel_files, ("remove", "zzz"), env={"PIP_VERBOSE": "1"}),
    "verbose-env-yes-and-q": Case(wheel_files, ("remove", "yyy", "-q"), env={"PIP_VERBOSE": "yes"}),
    "quiet-env": Case(wheel_files, ("remove", "zzz"), env={"PIP_QUIET": "1"}),
    "quiet-env-two": Case(wheel_files, ("remove", "zzz"), env={"PIP_QUIET": "2"}),
    "quiet-env-isolated": Case(
        wheel_files, ("remove", "zzz", "--isolated"), env={"PIP_QUIET": "1"}
    ),
    "verbose-env-bad": Case(
        nothing, ("dir",), env={"PIP_VERBOSE": "lots"}, stdout="none", stderr="none"
    ),
    # pip says 'Need an action (...)', we name our commands and the closest: the code agrees.
    "unknown-action": Case(nothing, ("lst",), stdout="none", stderr="none"),
}


@pytest.mark.parametrize("name", list(GENERAL))
def test_general_options(
    pip_current: PipRunner, tmp_path: Path, default_cache: bool, name: str
) -> None:
    check(pip_current, GENERAL[name], tmp_path, default_cache)


def test_isolated_ignores_pip_cache_dir(pip_current: PipRunner, tmp_path: Path) -> None:
    """PIP_CACHE_DIR moves the cache, except under --isolated (default cache only)."""
    elsewhere = str(tmp_path / "elsewhere")
    for args in (("dir",), ("dir", "--isolated")):
        case = Case(nothing, args, env={"PIP_CACHE_DIR": elsewhere})
        pip, us = run_both(pip_current, case, tmp_path / "-".join(args), default_cache=True)
        assert_same(pip, us, case)
    assert us.out.strip().endswith(os.path.join(".cache", "pip"))


@pytest.mark.parametrize("isolated", [(), ("--isolated",)], ids=["plain", "isolated"])
def test_isolated_ignores_the_user_config_file(
    pip_current: PipRunner, tmp_path: Path, isolated: tuple[str, ...]
) -> None:
    """The user's pip.conf moves the cache, except under --isolated."""
    for who in ("pip", "us"):
        conf = tmp_path / who / "home" / ".config" / "pip" / "pip.conf"
        conf.parent.mkdir(parents=True)
        conf.write_text(f"[global]\ncache-dir = {tmp_path / who / 'configured'}\n")
    case = Case(nothing, ("dir", *isolated))
    pip, us = run_both(pip_current, case, tmp_path, default_cache=True)
    assert_same(pip, us, case)
    assert us.out.strip().endswith("configured") == (not isolated)


def test_log_file(pip_current: PipRunner, tmp_path: Path) -> None:
    """--log appends every line, even those -q hides and the Removed lines of -v that
    was not given (pip logs at its debug level), with pip's timestamp."""
    case = Case(wheel_files, ("remove", "zzz", "-q", "--log", "the.log"))
    pip, us = run_both(pip_current, case, tmp_path, default_cache=False)
    assert_same(pip, us, case)

    def lines(who: str) -> list[str]:
        text = (tmp_path / who / "the.log").read_text().replace(str(tmp_path / who), "")
        return sorted(line.split(" ", 1)[1] for line in text.splitlines())

    assert lines("us") == lines("pip")
    assert lines("pip")[:2] == ["Directories removed: 0", "Files removed: 3 (0 bytes)"]
    assert len(lines("pip")) == 5


def test_unusable_log_file(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pip_cache_plus", "dir", "--log", str(tmp_path / "no" / "x")]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the log file ") and proc.stdout == ""


def test_python_option_is_accepted(tmp_path: Path) -> None:
    """pip's --python runs another interpreter's pip; the cache is the same: a no-op."""
    cmd = [sys.executable, "-m", "pip_cache_plus", "--python", "python3", "dir"]
    cmd += ["--cache-dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{tmp_path}\n", "")


# pip's own cases: tests/functional/test_cache.py of pip 26.3, fixture for fixture ---------

PIPS_TEST_CACHE = {
    "test_cache_dir": Case(nothing, ("dir",)),
    "test_cache_dir_too_many_args": Case(nothing, ("dir", "aaa")),
    "test_cache_info": Case(both, ("info",), stdout="pip-first"),
    "test_cache_list": Case(wheel_files, ("list",), stdout="list"),
    "test_cache_list_abspath": Case(wheel_files, ("list", "--format=abspath")),
    "test_cache_list_with_empty_cache": Case(nothing, ("list",), stderr="note"),
    "test_cache_list_with_empty_cache_abspath": Case(
        nothing, ("list", "--format=abspath"), stderr="note"
    ),
    "test_cache_purge_with_empty_cache": Case(nothing, ("purge",)),
    "test_cache_remove_with_bad_pattern": Case(wheel_files, ("remove", "aaa")),
    "test_cache_list_too_many_args": Case(nothing, ("list", "aaa", "bbb")),
    "test_cache_list_name_match": Case(wheel_files, ("list", "zzz", "--verbose"), stdout="list"),
    "test_cache_list_name_match_abspath": Case(
        wheel_files, ("list", "zzz", "--format=abspath", "--verbose")
    ),
    "test_cache_list_name_and_version_match": Case(
        wheel_files, ("list", "zzz-4.5.6", "--verbose"), stdout="list"
    ),
    "test_cache_list_name_and_version_match_abspath": Case(
        wheel_files, ("list", "zzz-4.5.6", "--format=abspath", "--verbose")
    ),
    "test_cache_remove_no_arguments": Case(wheel_files, ("remove",)),
    "test_cache_remove_too_many_args": Case(nothing, ("remove", "aaa", "bbb")),
    "test_cache_remove_name_match": Case(wheel_files, ("remove", "zzz", "--verbose")),
    "test_cache_remove_name_and_version_match": Case(
        wheel_files, ("remove", "zzz-4.5.6", "--verbose")
    ),
    "test_cache_purge": Case(both, ("purge", "--verbose")),
    "test_cache_purge_too_many_args": Case(both, ("purge", "aaa", "--verbose")),
    **{
        f"test_cache_abort_when_no_cache_dir[{command}]": Case(both, (command, "--no-cache-dir"))
        for command in ("info", "list", "remove", "purge")
    },
    "test_cache_purge_removes_empty_dirs_and_legacy_files": Case(
        empty_dirs_and_selfcheck, ("purge", "--verbose")
    ),
    "test_cache_purge_with_mixed_content": Case(wheels_and_empty_dir, ("purge", "--verbose")),
}


def test_all_of_pips_cases_are_here() -> None:
    assert len(PIPS_TEST_CACHE) == 26


@pytest.mark.parametrize("name", list(PIPS_TEST_CACHE))
def test_pips_own_cases(
    pip_current: PipRunner, tmp_path: Path, default_cache: bool, name: str
) -> None:
    check(pip_current, PIPS_TEST_CACHE[name], tmp_path, default_cache)


# On caches real pip wrote ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        pytest.param(("info",), "pip-first", id="info"),
        pytest.param(("list",), "list", id="list"),
        pytest.param(("purge", "-v"), "exact", id="purge-verbose"),
        pytest.param(("purge",), "exact", id="purge"),
    ],
)
@pytest.mark.parametrize("kind", ["legacy", "v2", "mixed"])
def test_on_real_pip_caches(
    request: pytest.FixtureRequest,
    pip_current: PipRunner,
    tmp_path: Path,
    default_cache: bool,
    kind: str,
    args: tuple[str, ...],
    stdout: StdoutRule,
) -> None:
    built = request.getfixturevalue(f"built_{kind}_cache")

    def copy(cache: Path) -> None:
        shutil.copytree(built.path, cache, symlinks=True)

    check(pip_current, Case(copy, args, stdout=stdout), tmp_path, default_cache)
