"""pip and pip_cache_plus on one cache at the same time.

- Current pip downloads from the cache while ``remove`` (of other projects and of the same
  one), ``prune`` and ``migrate`` change it: pip succeeds and gets the right bytes (each
  downloaded file's sha256 is the package's).
- Two of our mutating commands at once: the lock makes the second wait (it says so), and
  the end state is the one of running them one after the other; a wait longer than
  ``PIP_CACHE_PLUS_LOCK_TIMEOUT`` ends in exit 1 with one clear line.

To overlap for real, our command runs in a child slowed down by a hook: each file it
deletes waits a moment first (and is logged with the time), and it keeps the lock until
the test lets it go, so it is still at work when pip (or our other command) ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pip_cache_plus
from pip_cache_plus.cli.app import main
from pip_cache_plus.fs.fsio import open_quietly
from pip_cache_plus.fs.lock import LOCK_NAME, TIMEOUT_ENV, cache_lock
from pip_cache_plus.fs.root import CacheRoot
from realpip import BuiltCache, IndexServer, PipRunner

SRC = Path(pip_cache_plus.__file__).resolve().parent.parent
WAITING = "Waiting for another pip_cache_plus command to finish..."
DAY = 86400.0
#: What pip downloads in every test here (``tiny_pure`` 1.1 needs ``dotted.pkg``).
WANTED = ("tiny_pure==1.1", "Mixed_Case", "platpkg")


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


#: Our command, slowed down: ``pace`` seconds after each file it deletes once ``go``
#: exists (logged with the time; after, not before: between its last look at a file and
#: deleting it our command takes no time, and neither must the hook), no deletion after
#: the first until ``go`` exists, and the cache lock kept until ``flag`` exists.
_SLOW_CHILD = r"""
import sys, time
from pathlib import Path
from pip_cache_plus import cli
from pip_cache_plus.fs import lock, root
log, flag, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
pace, argv = float(sys.argv[4]), sys.argv[5:]
real_unlink, real_release = root.CacheRoot.unlink, lock.FileLock.release

def unlink(self, path, *args, **kwargs):
    while log.exists() and not go.exists():
        time.sleep(0.01)
    freed = real_unlink(self, path, *args, **kwargs)
    with log.open("a") as fp:
        fp.write(f"{time.time()} {path}\n")
    if go.exists():  # before the gate opens the gate is the wait: the next deletion
        time.sleep(pace)  # comes right after it, not up to ``pace`` later, after pip
    return freed

def release(self, *args, **kwargs):
    while not flag.exists():
        time.sleep(0.02)
    return real_release(self, *args, **kwargs)

root.CacheRoot.unlink = unlink
lock.FileLock.release = release
sys.exit(cli.main(argv))
"""


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return {**env, **extra}


@dataclass
class Slow:
    """Our command in a slowed-down child."""

    proc: subprocess.Popen[str]
    log: Path
    flag: Path
    go: Path

    @classmethod
    def start(cls, tmp_path: Path, pace: float, *argv: str, gated: bool = False) -> Slow:
        """Started once it holds the lock and has deleted one file; ``gated``: it deletes
        no other until :meth:`carry_on`."""
        log, flag, go = tmp_path / "deleted.log", tmp_path / "let-go", tmp_path / "go-on"
        if not gated:
            go.touch()
        cmd = [sys.executable, "-c", _SLOW_CHILD, str(log), str(flag), str(go), str(pace)]
        cmd += argv
        proc = subprocess.Popen(
            cmd, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        slow = cls(proc, log, flag, go)
        deadline = time.monotonic() + 60
        while not log.exists():  # it holds the lock and has started deleting
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never deleted anything"
            time.sleep(0.01)
        return slow

    def carry_on(self) -> None:
        self.go.touch()

    def deletions(self) -> list[float]:
        return [float(line.split()[0]) for line in self.log.read_text().splitlines()]

    def finish(self) -> tuple[str, str]:
        self.flag.touch()
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return out, err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dry_run_files(capsys: pytest.CaptureFixture[str], cache: Path, *argv: str) -> int:
    """How many files the command would delete."""
    assert main([*argv, "--cache-dir", str(cache), "--dry-run", "--format", "json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return int(data.get("files", data.get("migrated", 0)))


# -- pip while we work ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "served_from_cache"),
    [
        pytest.param(("remove", "sdist_only"), True, id="remove-another-project"),
        pytest.param(("remove", "tiny_pure"), False, id="remove-the-same-project"),
        pytest.param(("prune", "--max-size", "0"), False, id="prune-everything"),
        pytest.param(("migrate",), False, id="migrate"),  # pip never reads http/ itself
    ],
)
def test_pip_gets_the_right_bytes_while_we_change_the_cache(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    pip_current: PipRunner,
    index_server: IndexServer,
    tmp_path: Path,
    argv: tuple[str, ...],
    served_from_cache: bool,
) -> None:
    built: BuiltCache = request.getfixturevalue(
        "legacy_cache" if argv[0] == "migrate" else "v2_cache"
    )
    cache = built.path
    if argv[0] == "prune":
        for path in cache.rglob("*"):
            os.utime(path, (time.time() - 2 * DAY,) * 2, follow_symlinks=False)
    files = dry_run_files(capsys, cache, *argv)
    assert files > 0
    pace = 2.0 / files  # deletions spread over about two seconds: pip's whole run
    slow = Slow.start(tmp_path, pace, *argv, "--cache-dir", str(cache), gated=True)
    mark = index_server.mark()
    pip_start = time.time()
    slow.carry_on()  # its next deletion comes after pip_start, however fast pip is
    pip = pip_current.download(*WANTED, dest=tmp_path / "dl", cache_dir=cache)
    pip_end = time.time()
    assert slow.proc.poll() is None, "our command ended before pip did: no overlap"
    slow.finish()

    assert pip.returncode == 0
    downloaded = sorted((tmp_path / "dl").iterdir())
    assert {p.name.split("-")[0] for p in downloaded} == {
        "tiny_pure",
        "dotted_pkg",
        "mixed_case",
        "platpkg",
    }
    for path in downloaded:
        assert sha256(path) == built.package(path.name).sha256, path.name
    during = [t for t in slow.deletions() if pip_start <= t <= pip_end]
    assert during, "nothing was deleted while pip ran"
    fetched = [r.filename for r in index_server.requests(since=mark) if r.kind == "file"]
    if served_from_cache:
        assert fetched == [], "pip downloaded files the cache held"
    half = [
        p
        for p in (cache / "http-v2").rglob("*")
        if p.is_file() and len(p.name) == 56 and not Path(f"{p}.body").exists()
    ]
    assert half == [], "metadata left without its body"


# -- two of our commands ----------------------------------------------------------------------


def clone(src: Path, dest: Path) -> None:
    """Copy a cache with every file's bytes and times, reading without bumping atimes
    (prune's "last used")."""
    for dirpath, _, names in os.walk(src):
        target = dest / Path(dirpath).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = Path(dirpath, name)
            st = path.lstat()
            with open_quietly(path) as fp:
                (target / name).write_bytes(fp.read())
            os.utime(target / name, ns=(st.st_atime_ns, st.st_mtime_ns))


def state(root: Path) -> dict[str, bytes]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name != LOCK_NAME:
                path = Path(dirpath, name)
                with open_quietly(path) as fp:
                    out[str(path.relative_to(root))] = fp.read()
    return out


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, "no line from the second command in time"
    return proc.stderr.readline()


def age(cache: Path, project_file_prefixes: tuple[str, ...], built: BuiltCache) -> None:
    """Make some entries unused for 60 days: those of files starting with the prefixes
    (both halves of each http entry, and built wheels)."""
    old = time.time() - 60 * DAY
    for url in built.fetched_urls(kinds=["file", "metadata"]):
        if url.rsplit("/", 1)[1].startswith(project_file_prefixes):
            key = hashlib.sha224(url.encode()).hexdigest()
            for source in ("http", "http-v2"):
                for path in cache.joinpath(source, *key[:5]).glob(f"{key}*"):
                    os.utime(path, (old, old))


@pytest.mark.parametrize(
    ("first", "second", "cache_kind"),
    [
        pytest.param(("remove", "tiny_pure"), ("prune", "--older-than", "30d"), "v2",
                     id="remove+prune"),
        pytest.param(("prune", "--older-than", "30d"), ("migrate",), "mixed",
                     id="prune+migrate"),
        pytest.param(("purge", "--legacy"), ("remove", "tiny_pure"), "mixed",
                     id="purge+remove"),
    ],
)  # fmt: skip
def test_the_lock_serialises_our_commands(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    first: tuple[str, ...],
    second: tuple[str, ...],
    cache_kind: str,
) -> None:
    built: BuiltCache = request.getfixturevalue(f"{cache_kind}_cache")
    cache = built.path
    age(cache, ("dotted_pkg", "platpkg", "mixed_case"), built)
    expected_dir = tmp_path / "one-after-the-other"
    clone(cache, expected_dir)

    slow = Slow.start(tmp_path, 0.05, *first, "--cache-dir", str(cache))
    waiting = subprocess.Popen(
        [sys.executable, "-m", "pip_cache_plus", *second, "--cache-dir", str(cache)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(waiting, timeout=30).strip() == WAITING
        time.sleep(0.3)
        assert waiting.poll() is None, "the second command did not wait"
    finally:
        slow.finish()
        _, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err

    for argv in (first, second):
        assert main([*argv, "--cache-dir", str(expected_dir), "--format", "json"]) == 0
    assert state(cache) == state(expected_dir)


def test_a_lock_timeout_is_exit_1_with_one_line(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "http-v2").mkdir(parents=True)
    with cache_lock(cache):
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "pip_cache_plus", "prune", "--cache-dir", str(cache)],
            env=child_env(**{TIMEOUT_ENV: "0.5"}),
            capture_output=True,
            text=True,
            check=False,
        )
        waited = time.monotonic() - start
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == WAITING
    assert len(lines) == 2 and lines[1].startswith("error: another pip_cache_plus command")
    assert (
        f"after 0.5s of waiting; try again when it has finished (or set {TIMEOUT_ENV}" in (lines[1])
    )
    assert 0.5 <= waited < 30
    assert proc.stdout == ""


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    value: str,
) -> None:
    (tmp_path / "http").mkdir()
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(SystemExit) as exc:
        main(["purge", "--cache-dir", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{TIMEOUT_ENV}={value!r}" in err
    assert (tmp_path / "http").is_dir()


def test_an_empty_lock_timeout_means_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(TIMEOUT_ENV, "")
    (tmp_path / "http").mkdir()
    assert main(["purge", "--cache-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "http").exists()


@pytest.mark.parametrize(
    "argv",
    [("remove", "tiny_pure==1.0"), ("prune", "--max-size", "0")],
    ids=["remove", "prune"],
)
def test_an_entry_pip_rewrites_while_we_remove_it_stays_whole(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    argv: tuple[str, ...],
) -> None:
    """The race the test above hits now and then, made certain: right after we delete an
    entry's metadata, a pip (which then misses it) downloads it again and writes body and
    metadata anew. Deleting the body next would leave pip's new metadata without its body;
    the body is checked first, found rewritten, and the new entry stays whole."""
    cache = v2_cache.path
    for path in cache.rglob("*"):
        os.utime(path, (time.time() - 2 * DAY,) * 2, follow_symlinks=False)
    url = next(
        u
        for u in v2_cache.fetched_urls(kinds=["file"])
        if u.endswith("tiny_pure-1.0-py3-none-any.whl")
    )
    key = hashlib.sha224(url.encode()).hexdigest()
    meta = cache.joinpath("http-v2", *key[:5], key)
    body = Path(f"{meta}.body")
    new_meta, new_body = meta.read_bytes(), body.read_bytes()
    real_unlink = CacheRoot.unlink

    def unlink(
        self: CacheRoot, path: str | Path, expect: tuple[int, float] | None = None
    ) -> int | None:
        freed = real_unlink(self, path, expect)
        # What a pip does on its next miss (cachecontrol's _cache_set): metadata, then body.
        if os.fspath(path) == str(meta):
            for target, data in ((meta, new_meta), (body, new_body)):
                tmp = target.with_name(target.name + "abcdefgh.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)
        return freed

    monkeypatch.setattr(CacheRoot, "unlink", unlink)
    code = main([*argv, "--cache-dir", str(cache), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert meta.read_bytes() == new_meta and body.read_bytes() == new_body
    assert str(meta) in {e["path"] for e in data["changed"]}


@pytest.mark.parametrize(
    "command",
    [["purge", "--legacy"], ["remove", "*"], ["prune", "--max-size", "0"], ["migrate"]],
    ids=lambda c: c[0],
)
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache, tmp_path: Path, command: list[str]
) -> None:
    """filelock < 3.20.1 truncated and chmod-ed whatever the lock file linked to."""
    target = tmp_path / "precious"
    target.write_text("keep me")
    target.chmod(0o600)
    (legacy_cache.path / LOCK_NAME).symlink_to(target)
    before = state(legacy_cache.path / "http")
    code = main([*command, "--cache-dir", str(legacy_cache.path)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "is a symbolic link" in err, err
    assert target.read_text() == "keep me" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert state(legacy_cache.path / "http") == before  # nothing changed
