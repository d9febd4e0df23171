"""kill -9 during ``remove``, ``prune`` and ``export``: nothing pip needs is lost, nothing
half-written is served, and a rerun finishes the job.

Each command runs many times on one cache and is killed each time, either at a random
instant or just before the n-th call of a chosen ``os`` function (between a temp file's
fsync and its link, between an entry's metadata and its body...), then the next run goes
on from what the last one left. After every kill:

- every http-v2 entry is whole (metadata and body, byte-identical) or has no metadata (pip
  then treats it as absent); entries the command did not select are byte-identical;
- ``export``'s directory holds only complete files under real names, and temp names;
- then a run that is not killed exits 0, finishes the job, and leaves no temp file.

The commands run in children forked from one process that has already imported everything
(a "zygote"), so a round costs the command, not an interpreter start. ``PCP_CRASH_ROUNDS``
sets the rounds per test (default 14; CI keeps the default, run more by hand).
``migrate`` has its own kill test in ``test_migrate.py``.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import pip_cache_plus
from pip_cache_plus.fs import fsops
from pip_cache_plus.fs.fsio import open_quietly
from realpip import scrubbed_env

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import INDEX_URL, Options, generate  # noqa: E402

SRC = Path(pip_cache_plus.__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("PCP_CRASH_ROUNDS", "14"))
LOCK_NAME = ".pip_cache_plus.fs.lock"
#: ``.<filename>.<8 hex>.tmp``: the only names export may leave besides real files.
EXPORT_TMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")

#: Forks one child per job (a JSON line on stdin) and answers ``<wait status> <seconds>``.
#: How a child dies: just before its ``when``-th call of ``os.<point>``; or ``delay``
#: seconds after it starts; or, with ``arm``, ``delay`` seconds after its first call of
#: ``os.<arm>`` (a random instant once the command has started changing things). Always
#: SIGKILL: nothing of ours runs after it.
_ZYGOTE = r"""
import json, os, signal, sys, time
from pip_cache_plus import cli
from pip_cache_plus.actions import clean, export, journal, migrate, prune
from pip_cache_plus.cli import render
from pip_cache_plus.format import simple, sniff, streams
from pip_cache_plus.fs import fsops
from pip_cache_plus.inventory import identify

def die(*_):
    os.kill(os.getpid(), signal.SIGKILL)

def hook(name, action):
    real = getattr(os, name)
    def hooked(*args, **kwargs):
        action()
        return real(*args, **kwargs)
    setattr(os, name, hooked)

def child(job):
    fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if job["point"]:
        calls = [0]
        def count():
            calls[0] += 1
            if calls[0] == job["when"]:
                die()
        hook(job["point"], count)
    if job["arm"]:
        signal.signal(signal.SIGALRM, die)
        armed = []
        def arm():
            if not armed:
                armed.append(signal.setitimer(signal.ITIMER_REAL, job["delay"]))
        hook(job["arm"], arm)
    elif job["delay"] is not None:
        signal.signal(signal.SIGALRM, die)
        signal.setitimer(signal.ITIMER_REAL, job["delay"])
    try:
        code = cli.main(job["argv"])
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

for line in sys.stdin:
    job = json.loads(line)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        child(job)
    _, status = os.waitpid(pid, 0)
    print(status, time.monotonic() - start, flush=True)
"""


class Zygote:
    def __init__(self, logs: Path) -> None:
        env = scrubbed_env()  # no PIP_* of this machine, no pip config file
        env["PIP_INDEX_URL"] = INDEX_URL  # the generator's pages are PyPI's
        env["PIP_CACHE_PLUS_MEMO_DIR"] = str(logs / "memo")  # made before any test's own
        env["PYTHONPATH"] = str(SRC)
        self.logs = logs
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.count = 0

    def run(
        self,
        argv: list[str],
        *,
        point: str | None = None,
        when: int = 0,
        delay: float | None = None,
        arm: str | None = None,
    ) -> Run:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.count += 1
        log = self.logs / f"run-{self.count}.log"
        job = {"argv": argv, "point": point, "when": when, "delay": delay, "arm": arm}
        self.proc.stdin.write(json.dumps({**job, "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        status, seconds = self.proc.stdout.readline().split()
        return Run(os.waitstatus_to_exitcode(int(status)), float(seconds), log.read_text())

    def close(self) -> None:
        self.proc.communicate(timeout=30)  # closes stdin (the zygote ends) and stdout


@dataclass(frozen=True)
class Run:
    code: int  # -9: killed
    seconds: float
    output: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.output)
        return data


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fast_root() -> Iterator[Path]:
    """A tmpfs directory where there is one (kills land among cheap syscalls; fsync is
    free): many rounds in a few seconds. Elsewhere: a temp dir."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="pcp-crash-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def template(fast_root: Path) -> Path:
    """A mixed cache (http/, http-v2/, wheels/ with pages, wheels, sdists, metadata)."""
    path = fast_root / "template"
    generate(path, Options(entries=240, layout="mixed", seed=11, median_size=3000, workers=1))
    return path


@pytest.fixture(scope="module")
def zygote(fast_root: Path) -> Iterator[Zygote]:
    logs = fast_root / "logs"
    logs.mkdir()
    z = Zygote(logs)
    yield z
    z.close()


@pytest.fixture
def cache(template: Path, fast_root: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    path = fast_root / f"cache-{request.node.name}"
    copy_cache(template, path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# -- the invariants ---------------------------------------------------------------------------


def snapshot(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` (our lock file aside), with its bytes; read without
    touching atimes, which are prune's "last used"."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name != LOCK_NAME:
                path = Path(dirpath, name)
                with open_quietly(path) as fp:
                    out[path] = fp.read()
    return out


def copy_cache(src: Path, dest: Path) -> None:
    """A copy with each file's atime and mtime as in ``src`` (copying reads ``src``, and
    with relatime that bumps the atimes a plain ``copy2`` would then copy)."""
    shutil.copytree(src, dest, symlinks=True, copy_function=shutil.copyfile)
    for dirpath, _, names in os.walk(src):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            target = dest / Path(dirpath, name).relative_to(src)
            os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)


def selected_files(entries: list[dict[str, Any]]) -> dict[Path, list[Path]]:
    """Main file -> every file of each entry a command's JSON lists."""
    out = {}
    for entry in entries:
        main = Path(entry["path"])
        files = [main]
        if entry["body_path"]:
            files.append(Path(entry["body_path"]))
        if entry["source"] == "wheels":
            files.append(main.with_name("origin.json"))
        out[main] = files
    return out


def check_cache(
    root: Path, before: dict[Path, bytes], selected: dict[Path, list[Path]], label: str
) -> dict[Path, bytes]:
    """Nothing pip needs is lost, nothing appears; returns the files left."""
    now = snapshot(root)
    assert set(now) <= set(before), f"{label}: files appeared: {set(now) - set(before)}"
    for path, data in now.items():
        assert data == before[path], f"{label}: {path} changed"
    chosen = {f for files in selected.values() for f in files}
    lost = [p for p in before if p not in now and p not in chosen]
    assert lost == [], f"{label}: files of entries not selected are gone"
    for main, files in selected.items():
        if main not in now:
            continue
        if main.name.endswith(".whl"):  # a built wheel goes before its origin.json
            assert all(f in now for f in files if f in before), f"{label}: {main} half gone"
        elif len(files) == 2:  # http-v2: the body goes after the metadata
            assert files[1] in now, f"{label}: {main} is served without its body"
    return now


# -- the rounds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    name: str
    most: int  # the kill lands before the n-th call, n in 1..most


@dataclass
class Game:
    """Kill a command again and again; whenever a run finishes, check the job is done and
    start over from a fresh copy."""

    zygote: Zygote
    argv: list[str]
    points: tuple[Point, ...]  # the first one also arms the random instants "in the act"
    check: Callable[[str], object]  # after every run: nothing lost, nothing half-written
    done: Callable[[Run, str], None]  # after a run that finished: the job is done
    restart: Callable[[], None]
    run_time: float  # how long a whole run takes
    act: float = 0.02  # how long its deletions (or writes) last, about

    def play(self, seed: int) -> None:
        """ROUNDS runs, then one never killed; most runs must be killed, and some rerun
        must finish a job a killed run had started."""
        rng = random.Random(seed)
        killed = finished = 0
        interrupted = False
        for i in range(ROUNDS + 1):
            run, label = self._round(i, rng) if i < ROUNDS else (self._last(), "last run")
            assert run.killed or run.code in (0, 1), f"{label}: {run.code} {run.output}"
            assert "Traceback" not in run.output, f"{label}: {run.output}"
            self.check(label)
            if run.killed:
                killed += 1
                interrupted = True
                continue
            self.done(run, label)
            finished += interrupted
            interrupted = False
            if i < ROUNDS:
                self.restart()
        # On a loaded machine the timed kills can land in every round; the last run (never
        # killed) must then finish what they started: at least one finished rerun.
        assert killed >= ROUNDS // 2 and finished >= 1, (killed, finished)

    def _round(self, i: int, rng: random.Random) -> tuple[Run, str]:
        if i % 3 == 0:
            point = self.points[(i // 3) % len(self.points)]
            when = rng.randint(1, point.most)
            return self.zygote.run(self.argv, point=point.name, when=when), f"{point}#{when}"
        if i % 3 == 1:
            delay = rng.uniform(0, self.run_time)
            return self.zygote.run(self.argv, delay=delay), f"round {i}: at {delay:.3f}s"
        arm, delay = self.points[0].name, rng.uniform(0, self.act)
        run = self.zygote.run(self.argv, arm=arm, delay=delay)
        return run, f"round {i}: {delay:.3f}s after the first {arm}"

    def _last(self) -> Run:
        return self.zygote.run(self.argv)


REMOVE_POINTS = (
    Point("unlink", 60),
    Point("rmdir", 40),
    Point("lstat", 300),
    Point("open", 300),
)


def test_kill_during_remove(zygote: Zygote, template: Path, cache: Path) -> None:
    argv = ["remove", "[b-m]*", "--cache-dir", str(cache), "--format", "json"]
    plan = zygote.run([*argv, "--dry-run"])
    assert plan.code == 0, plan.output
    warm = zygote.run([*argv, "--dry-run"])  # with the memo the first wrote, as later runs
    selected = selected_files(plan.json()["entries"])
    before = snapshot(cache)
    assert 40 < len(selected) < len(before) // 2

    def done(run: Run, label: str) -> None:
        assert run.code == 0 and run.json()["errors"] == [], f"{label}: {run.output}"
        left = check_cache(cache, before, selected, label)
        assert not any(main in left for main in selected), f"{label}: entries left"

    def restart() -> None:
        shutil.rmtree(cache)
        copy_cache(template, cache)

    game = Game(
        zygote,
        argv,
        REMOVE_POINTS,
        check=lambda label: check_cache(cache, before, selected, label),
        done=done,
        restart=restart,
        run_time=warm.seconds,
        act=0.005,  # its deletions take ~6 ms here (prune's ~20 ms)
    )
    game.play(seed=21)


PRUNE_POINTS = (
    Point("unlink", 60),
    Point("rmdir", 40),
    Point("lstat", 300),
    Point("scandir", 150),
)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param(("--older-than", "2025-01-01"), id="older-than"),
        pytest.param(("--max-size", "400kB"), id="max-size"),
    ],
)
def test_kill_during_prune(
    zygote: Zygote, template: Path, cache: Path, options: tuple[str, ...]
) -> None:
    argv = ["prune", *options, "--cache-dir", str(cache), "--format", "json"]
    plan = zygote.run([*argv, "--dry-run"])
    assert plan.code == 0, plan.output
    warm = zygote.run([*argv, "--dry-run"])  # with the memo the first wrote, as later runs
    selected = selected_files(plan.json()["removed"])
    before = snapshot(cache)
    assert 40 < len(selected) < len(before) // 2

    def done(run: Run, label: str) -> None:
        assert run.code == 0, f"{label}: {run.output}"
        data = run.json()
        assert (data["errors"], data["failed"], data["changed"]) == ([], [], []), label
        left = check_cache(cache, before, selected, label)
        assert not any(main in left for main in selected), f"{label}: entries left"
        if "--max-size" in options:
            assert data["target_reached"] and sum(map(len, left.values())) <= 400_000

    def restart() -> None:
        shutil.rmtree(cache)
        copy_cache(template, cache)

    game = Game(
        zygote,
        argv,
        PRUNE_POINTS,
        check=lambda label: check_cache(cache, before, selected, label),
        done=done,
        restart=restart,
        run_time=warm.seconds,
    )
    game.play(seed=22)


EXPORT_POINTS = (
    Point("fsync", 60),
    Point("link", 60),
    Point("unlink", 60),
    Point("copy_file_range", 60),
    Point("open", 300),
)


def check_dest(dest: Path, reference: dict[str, bytes], label: str) -> list[Path]:
    """Only complete files under real names, and our temp names; returns the temps."""
    temps = []
    for path in dest.iterdir() if dest.exists() else ():
        if path.name in reference:
            assert path.read_bytes() == reference[path.name], f"{label}: {path} is partial"
            continue
        match = EXPORT_TMP.fullmatch(path.name)
        assert match and match["name"] in reference, f"{label}: {path.name} in the way"
        temps.append(path)
    return temps


def test_kill_during_export(zygote: Zygote, cache: Path, fast_root: Path) -> None:
    reference_dir = fast_root / "export-reference"
    argv = ["export", "*", "--cache-dir", str(cache), "--format", "json"]
    full = zygote.run([*argv, "-d", str(reference_dir)])
    assert full.code == 0, full.output
    reference = {p.name: p.read_bytes() for p in reference_dir.iterdir()}
    assert len(reference) > 40
    before = snapshot(cache)
    dest = fast_root / "export-dest"
    argv += ["-d", str(dest)]
    temps: list[Path] = []  # before the last run, then after it
    before_run: list[Path] = []
    seen = [0]

    def check(label: str) -> None:
        assert snapshot(cache) == before, f"{label}: export changed the cache"
        before_run[:], temps[:] = temps, check_dest(dest, reference, label)
        seen[0] += len(set(temps) - set(before_run))

    def done(run: Run, label: str) -> None:
        assert run.code == 0, f"{label}: {run.output}"
        assert run.json()["temp_files_removed"] == len(before_run), label
        assert {p.name: p.read_bytes() for p in dest.iterdir()} == reference, label

    game = Game(
        zygote,
        argv,
        EXPORT_POINTS,
        check=check,
        done=done,
        restart=functools.partial(shutil.rmtree, dest),
        run_time=full.seconds,
    )
    game.play(seed=23)
    assert seen[0] > 0, "no kill left a temp file: the test misses the point"


def test_export_removes_only_abandoned_temp_files(tmp_path: Path) -> None:
    """A temp file whose writer is alive (it holds the file's lock) stays; one whose
    writer died goes; nothing that is not our temp file is touched."""
    dead = tmp_path / ".a-1.0-py3-none-any.whl.0123abcd.tmp"
    dead.write_bytes(b"half a wheel")
    others = {
        tmp_path / ".hidden.tmp": b"not ours",
        tmp_path / "b-1.0.tar.gz.0123abcd.tmp": b"not ours: no leading dot",
        tmp_path / ".c.whl.0123ABCD.tmp": b"not ours: not our hex",
    }
    for path, data in others.items():
        path.write_bytes(data)
    link = tmp_path / ".d.whl.89abcdef.tmp"
    link.symlink_to(dead)
    with fsops.atomic_file(tmp_path / "e-1.0-py3-none-any.whl", overwrite=False) as out:
        out.write(b"a live write")
        live = [p for p in tmp_path.iterdir() if p.name.startswith(".e-1.0")]
        assert len(live) == 1
        assert fsops.remove_abandoned_temps(tmp_path) == 1
        assert live[0].exists() and not dead.exists()
    assert (tmp_path / "e-1.0-py3-none-any.whl").read_bytes() == b"a live write"
    assert not live[0].exists()
    assert {p: p.read_bytes() for p in others} == others
    assert link.is_symlink()
