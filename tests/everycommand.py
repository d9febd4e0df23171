"""Every command, in-process, on one cache: what each owes a damaged cache, checked.

:func:`run_command` runs ``cli.main`` with its output captured and its time and memory
bounded (:data:`TIME_LIMIT`, :data:`MEMORY_LIMIT`); :func:`check` asserts exit 0 or 1, no
traceback, valid JSON, a message on failure; :func:`run_every_command` runs the read-only
commands on the cache (which must not change) and the mutating ones on copies.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from pip_cache_plus.cli.app import main

MiB = 1 << 20

#: Wall time one command may take on a damaged cache of a few dozen small entries.
TIME_LIMIT = 20.0
#: Peak memory one command may use (RSS growth, or Python allocations).
MEMORY_LIMIT = 64 * MiB


class _TooSlowError(BaseException):
    """Raised by the alarm: a BaseException, so no ``except Exception`` swallows it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    argv: tuple[str, ...]
    code: int
    out: str
    err: str
    seconds: float
    memory: int  # bytes: peak RSS growth (Linux), else the tracemalloc peak
    cpu_seconds: float = 0.0  # this process's user + system time: what other load adds not


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise _TooSlowError


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _rss_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    assert match is not None
    return int(match[1])


class _Meter:
    """Peak memory of a block: RSS growth where Linux lets us reset the peak (what the
    process really holds, and free to measure), else Python allocations (tracemalloc)."""

    def __init__(self) -> None:
        self.rss = _CLEAR_REFS.exists()
        self.peak = 0

    def __enter__(self) -> _Meter:
        if self.rss:
            _CLEAR_REFS.write_text("5")  # the kernel's peak (VmHWM) := current RSS
            self._start = _rss_kib("VmRSS")
        else:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.rss:
            self.peak = (_rss_kib("VmHWM") - self._start) * 1024
        else:
            self.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def run_command(*argv: str) -> Outcome:
    """``main(argv)`` with its output captured, its time and memory measured and bounded."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    meter = _Meter()
    start, cpu_start = time.perf_counter(), time.process_time()
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with meter, suppressed_output() as (out, err):
            code = main(list(argv))
    except _TooSlowError:
        pytest.fail(f"{' '.join(argv)} took over {TIME_LIMIT}s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return Outcome(argv, code, out.getvalue(), err.getvalue(), seconds, meter.peak, cpu)


def check(outcome: Outcome) -> None:
    """Exit 0 or 1, no traceback, JSON when asked for, a word on failure, bounded memory."""
    what = " ".join(outcome.argv)
    assert outcome.code in (0, 1), f"{what}: exit {outcome.code}\n{outcome.err}"
    for stream in (outcome.out, outcome.err):
        assert "Traceback" not in stream, f"{what}:\n{stream}"
    if "json" in outcome.argv and outcome.out:
        json.loads(outcome.out)
    if outcome.code == 1 and not outcome.out:
        assert outcome.err.strip(), f"{what}: exit 1 without a word"
    assert outcome.memory < MEMORY_LIMIT, f"{what}: used {outcome.memory / MiB:.0f} MiB"


READ_ONLY: tuple[tuple[str, ...], ...] = (
    ("info",),
    ("info", "--format", "json"),
    ("list",),
    ("list", "--format", "json"),
    ("list", "--format", "abspath"),
    ("du",),
    ("du", "--format", "json", "--sort", "used", "--top", "1"),
    ("show", "*"),
    ("show", "*", "--format", "json"),
    ("verify",),
    ("verify", "--format", "json"),
    ("verify", "--deep"),
    ("verify", "--deep", "--format", "json"),
    ("remove", "*", "--dry-run"),
    ("remove", "*", "--dry-run", "--format", "json"),
    ("prune", "--dry-run"),
    ("prune", "--dry-run", "--max-size", "0", "--format", "json"),
    ("migrate", "--dry-run"),
    ("migrate", "--dry-run", "--format", "json"),
    ("check", "tiny-pure", "mixed-case[x]", "platpkg", "sdist-only", "not-cached"),
    ("check", "tiny-pure", "--format", "json"),
)
#: Each sequence runs on its own copy of the damaged cache, then ``verify``: the first
#: command of each sees the damage as it is.
MUTATING: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("migrate", "--format", "json"), ("prune",)),
    (("remove", "*"),),
    (("purge", "--format", "json"),),
    (("prune", "--max-size", "0", "--format", "json"), ("migrate", "--keep-legacy")),
)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_every_command(cache: Path, work: Path) -> list[Outcome]:
    """Every command on ``cache``: the read-only ones on it (they must not change it), the
    mutating ones on copies; exports into ``work``. Each outcome is checked."""
    outcomes: list[Outcome] = []

    def run(*argv: str) -> None:
        outcome = run_command(*argv)
        check(outcome)
        outcomes.append(outcome)

    before = snapshot(cache)
    for argv in READ_ONLY:
        run(*argv, "--cache-dir", str(cache))
    for fmt in ("human", "json"):
        dest = str(work / f"export-{fmt}")
        run("export", "*", "-d", dest, "--format", fmt, "--cache-dir", str(cache))
    after = snapshot(cache)
    after.pop(".pip_cache_plus.fs.lock", None)
    assert after == before, "a read-only command changed the cache"
    for index, sequence in enumerate(MUTATING):
        copy = work / f"copy-{index}"
        shutil.copytree(cache, copy, symlinks=True)
        for argv in sequence:
            run(*argv, "--cache-dir", str(copy))
        # Whatever they did, the cache is still one every command can read.
        run("verify", "--format", "json", "--cache-dir", str(copy))
    return outcomes


def age(root: Path, seconds: float = 2 * 86400) -> None:
    """Make every file and directory old: debris is then prune's to remove."""
    when = time.time() - seconds
    for path in [*root.rglob("*"), root]:
        os.utime(path, (when, when), follow_symlinks=False)


@contextlib.contextmanager
def suppressed_output() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err
