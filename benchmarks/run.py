"""Benchmarks of pip_cache_plus against ``pip cache`` and simple baselines (issue 5).

Generates caches (``generate.py``), then measures in the same run, over several rounds
after a warm-up round (so: warm page cache numbers), each command as its own process:
wall time (median), CPU time and peak RSS (``ru_maxrss`` of that very child, from
``os.wait4``). Prints the machine, the command, then tables of ratios against the goals.

- ``info`` vs ``pip cache info`` (same interpreter's pip); goal <= 0.5x.
- ``list --format json`` vs the floor (``floor.py``: walk, stat every file, read every
  metadata file); goal <= 2.0x. "first" runs on a fresh copy with no memo (the persistent
  index of identified entries), "repeat" right after it, with the memo the first wrote.
- ``remove <the project with most entries>`` and ``prune --older-than <1 year>``, each on
  a fresh copy, vs the same floor: with no memo, and "(memo)" with the memo a ``list``
  of that copy wrote just before (untimed): a user who looked first, then cleans.
- ``migrate`` of a legacy cache vs ``cp -r`` of its ``http/`` (throughput); goal >= 0.7x.
- peak RSS of each (goal <= 64 MiB, flat in cache size); time per entry across sizes
  (goal: within 20% of linear).

Fresh copies are hard-link farms (``cp -al``), made and ``sync``ed outside the timing:
they cost no disk space, and deleting them frees no blocks (this VM's disk is mounted
with ``discard``, which makes freeing blocks slow and noisy). ``remove``/``prune``/
``migrate`` timings therefore exclude block freeing.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generate import DEFAULT_NOW, LAYOUTS, GenEntry, Layout, Options, generate, summary

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PRUNE_AGE = 365 * 86400
GOAL_INFO = 0.5
GOAL_LIST = 2.0
GOAL_MIGRATE = 0.7
GOAL_RSS_MIB = 64.0
GOAL_LINEAR = 1.2
GOAL_FLAT = 1.25  # peak RSS at the largest size / at the smallest
GOAL_WARM = 1.0  # issue 19: a repeat list (memo) at the walk's cost
#: ``--cases list``: what issue 19's table needs (the rest: remove, prune, migrate).
LIST_CASES = ("floor", "pip cache info", "info", "list", "list (repeat)")
#: ``--index``: run with no index configured (PyPI's), or with a pip config naming one
#: (and an extra index), which makes pip_cache_plus read pip's configuration.
INDEX_MODES = ("none", "configured")
INDEX_CONFIG = """[global]
index-url = https://pypi.org/simple/
extra-index-url = https://mirror.invalid/simple/
"""


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    cpu: float
    rss_mib: float
    returncode: int


@dataclass(slots=True)
class Case:
    """One timed command, its untimed preparation, and what it is compared against."""

    name: str
    argv: Callable[[Path], list[str]]
    prepare: Callable[[], Path]  # returns the cache dir to run on
    cleanup: Callable[[Path], None] = lambda _p: None
    capture: bool = False  # keep stdout (checked once, in the warm-up)
    samples: list[Sample] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    def rss(self) -> float:
        return max(s.rss_mib for s in self.samples)

    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)


@dataclass(slots=True)
class Setup:
    python: str
    env: dict[str, str]
    workdir: Path
    rounds: int
    has: dict[str, bool]
    notes: list[str] = field(default_factory=list)
    only: tuple[str, ...] | None = None  # case names to run (None: all)


# -- processes ------------------------------------------------------------------------------


# A small launcher forks the measured command: a child's ru_maxrss counts the memory of the
# process it was forked from (the kernel keeps the high-water mark across exec), so it must
# not be forked from this process, which holds the manifests (tens of MiB). The launcher is
# ~9 MiB, less than any Python process it runs; it also times fork to exit itself.
# On Linux the launcher and the measured command die with the runner, even by SIGKILL
# (PR_SET_PDEATHSIG), so an interrupted benchmark leaves nothing running.
_LAUNCHER = """
import os, signal, sys, time
def die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
die_with_parent()
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        die_with_parent()
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(report, "w") as f:
    f.write(f"{wall} {ru.ru_utime + ru.ru_stime} {ru.ru_maxrss} {code}")
"""


def measure(argv: Sequence[str], env: dict[str, str], stdout: Path | None = None) -> Sample:
    """Run ``argv``: wall time, CPU time and peak RSS of that process alone."""
    out_path = stdout if stdout is not None else Path(os.devnull)
    with (
        open(out_path, "wb") as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".txt") as report,
    ):
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, report.name, *argv]
        subprocess.run(
            launcher, stdout=out, stderr=err, env=env, stdin=subprocess.DEVNULL, check=True
        )
        wall, cpu, rss_kib, code = report.read().split()
        if int(code) != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{shlex.join(argv)} exited {code}:\n{tail}")
    return Sample(float(wall), float(cpu), int(rss_kib) / 1024, int(code))


#: The only variables a measured command inherits from the runner's environment: nothing
#: else (PYTHONUNBUFFERED, PIP_*, XDG_*, a coding tool's settings) may change what it does.
_PASSED_ON = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


def child_env(python: str, home: Path) -> dict[str, str]:
    """A clean environment: PATH and the locale, a HOME of the run's own, no pip config,
    no PIP_* (the index is PyPI's), and our package importable. (``main`` adds a memo
    directory of the run's own.)"""
    env = {k: v for k, v in os.environ.items() if k in _PASSED_ON}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PIP_CONFIG_FILE=os.devnull)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    probe = [python, "-c", "import pip_cache_plus"]
    if subprocess.run(probe, env=env, capture_output=True, check=False).returncode != 0:
        env["PYTHONPATH"] = str(REPO / "src")  # not installed: the work tree's copy
    return env


def index_env(env: dict[str, str], root: Path, mode: str) -> dict[str, str]:
    """``env`` for an ``--index`` mode: ``configured`` points pip (and so pip_cache_plus)
    at a config file naming PyPI's index and an extra one (never fetched: all is cached)."""
    if mode == "none":
        return env
    config = root / "scratch" / "pip-index.conf"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(INDEX_CONFIG)
    return {**env, "PIP_CONFIG_FILE": str(config)}


def stop_children_on_exit() -> None:
    """Lead a process group of our own, and end it on the way out (normal exit, an
    exception, SIGTERM, SIGHUP or Ctrl-C): no measured command outlives the runner."""
    with contextlib.suppress(OSError):  # already a group leader (or not allowed): keep it
        os.setpgid(0, 0)

    def end_group() -> None:
        if os.getpgid(0) != os.getpid():
            return  # not our own group (setpgid was refused): it holds our caller too
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's signal is not for us
        with contextlib.suppress(OSError):
            os.killpg(0, signal.SIGTERM)

    def on_signal(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds: temp dirs removed, then end_group

    atexit.register(end_group)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)


def sync() -> None:
    os.sync()


# -- caches ----------------------------------------------------------------------------------


def cache_for(
    workdir: Path, layout: Layout, entries: int, base: Options
) -> tuple[Path, list[GenEntry]]:
    """A generated cache, reused from ``workdir`` when it was made with the same options."""
    options = Options(entries, layout, base.seed, median_size=base.median_size)
    name = f"{layout}-{entries}-s{options.seed}-m{options.median_size}"
    path, manifest = workdir / "caches" / name, workdir / "caches" / f"{name}.json"
    if manifest.exists():
        rows = json.loads(manifest.read_text())["entries"]
        return path, [GenEntry(**row) for row in rows]
    if path.exists():
        shutil.rmtree(path)
    result = generate(path, options)
    print(f"  generated {layout} {entries}: {summary(result)}", flush=True)
    sync()
    manifest.write_text(json.dumps({"entries": [asdict(e) for e in result.entries]}))
    return path, result.entries


def link_copy(src: Path, dest: Path) -> Path:
    """A hard-link farm of ``src`` (same inodes, new directories)."""
    if dest.exists():
        remove_tree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(src), str(dest)], check=True)
    sync()
    return dest


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def restore_times(cache: Path, entries: Sequence[GenEntry]) -> None:
    """Put back atime/mtime (a plain ``cp`` read bumps the atime the links share)."""
    for e in entries:
        main = cache / e.relpath
        extra = [main.with_name(main.name + ".body")] if e.source == "http-v2" else []
        if e.source == "wheels":
            extra = [main.with_name("origin.json")]
        for path in (main, *extra):
            os.utime(path, (e.time, e.time))


# -- cases ------------------------------------------------------------------------------------


def pcp(setup: Setup, *args: str) -> Callable[[Path], list[str]]:
    return lambda cache: [setup.python, "-m", "pip_cache_plus", "--cache-dir", str(cache), *args]


def biggest_project(entries: Sequence[GenEntry]) -> str:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.project] = counts.get(e.project, 0) + 1
    return max(sorted(counts), key=lambda p: counts[p])


def build_cases(
    setup: Setup, layout: Layout, cache: Path, entries: Sequence[GenEntry]
) -> list[Case]:
    scratch = setup.workdir / "scratch"
    fresh = scratch / "copy"
    py = setup.python
    original: Callable[[], Path] = lambda: cache  # noqa: E731
    memo = Path(setup.env["PIP_CACHE_PLUS_MEMO_DIR"])

    def copy() -> Path:
        # A fresh copy is what a first run sees: no memo of an earlier round (the copy's
        # files have the original's sizes and mtimes, so an old memo would match).
        remove_tree(memo)
        return link_copy(cache, fresh)

    def listed_copy() -> Path:
        # What a user who looked first sees: a fresh copy, and the memo its `list` wrote.
        copied = copy()
        argv = pcp(setup, "list", "--format", "json")(copied)
        subprocess.run(argv, env=setup.env, stdout=subprocess.DEVNULL, check=True)
        sync()  # the memo it wrote, like the copy, is on disk before the timing
        return copied

    cases = [
        Case("floor", lambda c: [py, str(HERE / "floor.py"), str(c)], original),
        Case(
            "pip cache info",
            lambda c: [py, "-m", "pip", "cache", "info", "--cache-dir", str(c)],
            original,
        ),
        Case("info", pcp(setup, "info"), original),
        Case("list", pcp(setup, "list", "--format", "json"), copy, capture=True),
        Case("list (repeat)", pcp(setup, "list", "--format", "json"), lambda: fresh),
        Case("remove", pcp(setup, "remove", biggest_project(entries)), copy),
        Case("remove (memo)", pcp(setup, "remove", biggest_project(entries)), listed_copy),
    ]
    if setup.has["prune"]:
        cutoff = time.strftime("%Y-%m-%d", time.gmtime(DEFAULT_NOW - PRUNE_AGE))
        prune = pcp(setup, "prune", "--older-than", cutoff)
        cases += [Case("prune", prune, copy), Case("prune (memo)", prune, listed_copy)]
    if layout == "http" and setup.has["migrate"]:
        target = scratch / "cp-target"

        def cp_prepare() -> Path:
            remove_tree(target)
            return link_copy(cache, fresh)

        def cp_cleanup(_c: Path) -> None:
            sync()
            remove_tree(target)
            restore_times(cache, entries)  # cp's reads bumped the shared atimes

        cases += [
            Case("migrate", pcp(setup, "migrate", "--format", "json"), copy, cleanup=_synced),
            Case(
                "cp -r http/",
                lambda c: ["cp", "-r", str(c / "http"), str(target)],
                cp_prepare,
                cleanup=cp_cleanup,
            ),
        ]
    if setup.only is not None:
        cases = [c for c in cases if c.name in setup.only]
    return cases


def _synced(_cache: Path) -> None:
    sync()


# -- rounds -----------------------------------------------------------------------------------


def run_cases(setup: Setup, cases: list[Case], entries: Sequence[GenEntry], label: str) -> None:
    """A warm-up round (checked, not counted), then ``rounds`` rounds, cases interleaved."""
    for round_no in range(setup.rounds + 1):
        for case in cases:
            cache = case.prepare()
            out = setup.workdir / "out.json" if case.capture and round_no == 0 else None
            sample = measure(case.argv(cache), setup.env, out)
            case.cleanup(cache)
            if round_no == 0:
                if out is not None:
                    note = check_list(out, cache, entries)
                    setup.notes.append(f"{label}: {note}")
                    out.unlink()
            else:
                case.samples.append(sample)
        print(f"  {label}: round {round_no or 'warm-up'} done", flush=True)
    remove_tree(setup.workdir / "scratch")


def check_list(out: Path, cache: Path, entries: Sequence[GenEntry]) -> str:
    """Every generated entry listed, with the right kind/project/version (filename and URL
    when its page is cached)."""
    listed = json.loads(out.read_text())["entries"]
    expected = {str(cache / e.relpath): e for e in entries}
    right = 0
    kinds: dict[str, int] = {}
    for item in listed:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
        want = expected.get(item["path"])
        if want is None or (item["kind"], item["project"], item["version"]) != (
            want.kind,
            want.project,
            want.version,
        ):
            continue
        if want.listed and (item["filename"], item["url"]) != (want.filename, want.url):
            continue
        right += 1
    shown = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    return f"list identified {right}/{len(entries)} entries correctly ({shown})"


# -- report -----------------------------------------------------------------------------------

Results = dict[str, dict[int, dict[str, Case]]]
COMPARISONS = (  # (case, baseline, goal, higher_is_better)
    ("info", "pip cache info", GOAL_INFO, False),
    ("list", "floor", GOAL_LIST, False),
    ("list (repeat)", "floor", GOAL_LIST, False),
    ("remove", "floor", GOAL_LIST, False),
    ("remove (memo)", "floor", GOAL_LIST, False),
    ("prune", "floor", GOAL_LIST, False),
    ("prune (memo)", "floor", GOAL_LIST, False),
    ("migrate", "cp -r http/", GOAL_MIGRATE, True),
)


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


def ratio_table(results: Results) -> list[str]:
    lines = [
        "| layout | entries | command | median s (CPU s) | baseline | baseline s (CPU s) | "
        "ratio wall | ratio CPU | goal (on wall) | peak RSS MiB |",
        "|---|---:|---|---:|---|---:|---:|---:|---|---:|",
    ]
    for layout, by_size in results.items():
        for size, cases in by_size.items():
            for name, base, goal, higher in COMPARISONS:
                if name not in cases:
                    continue
                case, ref = cases[name], cases[base]
                if higher:  # throughput: the same bytes, so time ratio the other way round
                    ratio, cpu, sign = ref.median() / case.median(), ref.cpu() / case.cpu(), ">="
                    ok = ratio >= goal
                else:
                    ratio, cpu, sign = case.median() / ref.median(), case.cpu() / ref.cpu(), "<="
                    ok = ratio <= goal
                lines.append(
                    f"| {layout} | {size} | {name} | {case.median():.2f} ({case.cpu():.2f}) | "
                    f"{base} | {ref.median():.2f} ({ref.cpu():.2f}) | {ratio:.2f}x | {cpu:.2f}x | "
                    f"{sign} {goal}x {_mark(ok)} | {case.rss():.0f} |"
                )
    return lines


def _ratio(cases: dict[str, Case], name: str, base: str, goal: float) -> str:
    if name not in cases or base not in cases:
        return "-"
    wall = cases[name].median() / cases[base].median()
    cpu = cases[name].cpu() / cases[base].cpu()
    return f"{wall:.2f}x ({cpu:.2f}x) {_mark(wall <= goal)}"


def issue_table(results: Results) -> list[str]:
    """Issue 19's table: per layout (index configured or not) and size, the ratios of a
    cold and a warm ``list --format json`` to the floor, ``info`` to ``pip cache info``,
    the cold list's peak RSS, and its time per entry against the smallest size's."""
    lines = [
        "| layout | entries | floor s | cold list / floor, wall (CPU) <= 2.0x | "
        "warm list / floor <= 1.0x | info / pip cache info <= 0.5x | "
        "cold list peak RSS MiB <= 64, flat | µs/entry cold (warm), x smallest size <= 1.2 |",
        "|---|---:|---:|---|---|---|---|---|",
    ]
    for layout, by_size in results.items():
        sizes = sorted(by_size)
        first = by_size[sizes[0]]
        for size in sizes:
            cases = by_size[size]
            if "list" not in cases or "floor" not in cases:
                continue
            cold, warm = cases["list"], cases.get("list (repeat)")
            rss_ok = cold.rss() <= GOAL_RSS_MIB and cold.rss() <= first["list"].rss() * GOAL_FLAT
            per = cold.median() / size * 1e6
            growth = per / (first["list"].median() / sizes[0] * 1e6)
            per_warm, growth_warm = "-", 0.0
            if warm is not None and "list (repeat)" in first:
                per_warm = f"{warm.median() / size * 1e6:.0f}"
                growth_warm = warm.median() / size / (first["list (repeat)"].median() / sizes[0])
            linear_ok = growth <= GOAL_LINEAR and growth_warm <= GOAL_LINEAR
            lines.append(
                f"| {layout} | {size} | {cases['floor'].median():.2f} | "
                f"{_ratio(cases, 'list', 'floor', GOAL_LIST)} | "
                f"{_ratio(cases, 'list (repeat)', 'floor', GOAL_WARM)} | "
                f"{_ratio(cases, 'info', 'pip cache info', GOAL_INFO)} | "
                f"{cold.rss():.0f} {_mark(rss_ok)} | "
                f"{per:.0f} ({per_warm}), x{growth:.2f} (x{growth_warm:.2f}) {_mark(linear_ok)} |"
            )
    return lines


def _linear(per: Sequence[float]) -> float:
    """The worst growth of the per-entry cost from a smaller size to a larger one."""
    pairs = [per[i] / per[j] for i in range(len(per)) for j in range(i)]
    return max(pairs) if pairs else 1.0


def rss_table(results: Results) -> list[str]:
    sizes_all = _sizes(results)
    lines = [
        "| layout | command | "
        + " | ".join(f"{s}: wall s, µs/entry wall (CPU), RSS MiB" for s in sizes_all)
        + " | linear wall (CPU) <= 1.2 | RSS <= 64 MiB and flat (<= 1.25x) |",
        "|---|---|" + "---|" * (len(sizes_all) + 2),
    ]
    for layout, by_size in results.items():
        sizes = sorted(by_size)
        for name in by_size[sizes[0]]:
            row = [by_size[s][name] for s in sizes if name in by_size[s]]
            per = [c.median() / s * 1e6 for c, s in zip(row, sizes, strict=False)]
            per_cpu = [c.cpu() / s * 1e6 for c, s in zip(row, sizes, strict=False)]
            cells = [
                f"{c.median():.2f}, {p:.0f} ({q:.0f}), {c.rss():.0f}"
                for c, p, q in zip(row, per, per_cpu, strict=True)
            ]
            linear, linear_cpu = _linear(per), _linear(per_cpu)
            flat = row[-1].rss() / row[0].rss()
            rss_ok = all(c.rss() <= GOAL_RSS_MIB for c in row) and flat <= GOAL_FLAT
            lines.append(
                f"| {layout} | {name} | "
                + " | ".join(cells)
                + f" | {linear:.2f} ({linear_cpu:.2f}) {_mark(linear <= GOAL_LINEAR)} | "
                f"max {max(c.rss() for c in row):.0f}, x{flat:.2f} {_mark(rss_ok)} |"
            )
    return lines


def _sizes(results: Results) -> list[int]:
    return sorted({s for by_size in results.values() for s in by_size})


def machine(setup: Setup) -> list[str]:
    def out(*argv: str) -> str:
        proc = subprocess.run(argv, env=setup.env, capture_output=True, text=True, check=False)
        return proc.stdout.strip() or proc.stderr.strip()

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pcp_version = out(setup.python, "-m", "pip_cache_plus", "--version")
    # The commit of the code the measured interpreter imports (--python may run another
    # work tree's), not this script's.
    imported = "import pip_cache_plus as p, os; print(os.path.dirname(p.__file__))"
    where = out(setup.python, "-c", imported)
    rev = subprocess.run(
        ["git", "-C", where, "describe", "--always", "--dirty"],
        capture_output=True, text=True, check=False,
    ).stdout.strip() if os.path.isdir(where) else ""  # fmt: skip
    return [
        f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, {platform.platform()}",
        f"workdir: {setup.workdir} ({_filesystem(setup.workdir)})",
        f"python: {out(setup.python, '-c', 'import sys; print(sys.version.split()[0])')}",
        f"pip: {out(setup.python, '-m', 'pip', '--version').split(' from ')[0]}",
        f"pip_cache_plus: {pcp_version} (git {rev or 'unknown: not in a work tree'}, {where})",
        f"rounds: {setup.rounds} after one warm-up round (warm page cache), medians",
    ]


def _filesystem(path: Path) -> str:
    best, fs = "", "unknown"
    real = str(path.resolve())
    with open("/proc/mounts") as f:
        for line in f:
            _dev, mount, kind, opts, *_ = line.split()
            if real.startswith(mount) and len(mount) > len(best):
                best, fs = mount, f"{kind} {opts}"
    return fs


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmarks of pip_cache_plus (issue 5).")
    parser.add_argument("--sizes", default="5000,20000,50000", help="entries per cache")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (plus a warm-up)")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help="http-v2,http,mixed")
    parser.add_argument("--quick", action="store_true", help="2000 entries, 2 rounds")
    parser.add_argument("--workdir", type=Path, help="where caches go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep generated caches for reuse")
    parser.add_argument("--median-size", type=int, default=20_000, help="of wheels (bytes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--python", default=sys.executable, help="runs pip and pip_cache_plus")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    parser.add_argument("--cases", default="all", help="all, list (issue 19: list, info), or names")
    parser.add_argument(
        "--index", default="none", help="none,configured: a pip config naming an index"
    )
    parser.add_argument("--from-json", type=Path, help="only print the tables of a saved run")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.rounds = "2000", 2
    args.size_list = [int(s) for s in args.sizes.split(",") if s]
    args.layout_list = [s for s in args.layouts.split(",") if s]
    args.index_list = [s for s in args.index.split(",") if s]
    if set(args.index_list) - set(INDEX_MODES) or not args.index_list:
        parser.error(f"--index takes {','.join(INDEX_MODES)}")
    args.only = None
    if args.cases == "list":
        args.only = LIST_CASES
    elif args.cases != "all":
        args.only = ("floor", *(c.strip() for c in args.cases.split(",") if c.strip()))
    bad = set(args.layout_list) - set(LAYOUTS)
    if bad or not args.size_list or args.rounds < 1:
        parser.error(f"bad --layouts {sorted(bad)}" if bad else "need sizes and rounds >= 1")
    return args


@contextmanager
def workdir(path: Path | None, keep: bool) -> Iterator[Path]:
    made = path is None
    root = Path(tempfile.mkdtemp(prefix="pcp-bench-")) if path is None else path
    root.mkdir(parents=True, exist_ok=True)
    try:
        yield root
    finally:
        remove_tree(root / "scratch")
        if not keep:
            remove_tree(root / "caches")
            if made:
                remove_tree(root)


def commands(python: str, env: dict[str, str]) -> dict[str, bool]:
    """Which commands this pip_cache_plus has (others are being written meanwhile)."""
    argv = [python, "-m", "pip_cache_plus", "--help"]
    text = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return {name: f"{name}" in text.split("COMMAND", 1)[-1] for name in ("prune", "migrate")}


def report(header: Sequence[str], results: Results, notes: Sequence[str]) -> str:
    parts = [*header, "", *issue_table(results), "", *ratio_table(results), ""]
    parts += [*rss_table(results), ""]
    return "\n".join([*parts, *(f"- {note}" for note in notes)])


def save(path: Path, header: Sequence[str], results: Results, notes: Sequence[str]) -> None:
    raw = {
        layout: {
            str(size): {n: [asdict(s) for s in c.samples] for n, c in cases.items()}
            for size, cases in by_size.items()
        }
        for layout, by_size in results.items()
    }
    data = {"header": list(header), "notes": list(notes), "samples": raw}
    path.write_text(json.dumps(data, indent=1))


def load(path: Path) -> tuple[list[str], Results, list[str]]:
    """A saved run (``--json``), to print its tables again."""
    data = json.loads(path.read_text())
    results: Results = {}
    for layout, by_size in data["samples"].items():
        for size, cases in by_size.items():
            loaded = {}
            for name, samples in cases.items():
                case = Case(name, lambda _c: [], Path)
                case.samples = [Sample(**s) for s in samples]
                loaded[name] = case
            results.setdefault(layout, {})[int(size)] = loaded
    return data["header"], results, data.get("notes", [])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        print(report(*load(args.from_json)))
        return 0
    stop_children_on_exit()
    with workdir(args.workdir, args.keep) as root:
        env = child_env(args.python, root / "scratch" / "home")
        # The persistent index (memo) of our runs lives here, emptied with every fresh copy.
        env["PIP_CACHE_PLUS_MEMO_DIR"] = str(root / "scratch" / "memo")
        setup = Setup(args.python, env, root, args.rounds, commands(args.python, env))
        setup.only = args.only
        header = machine(setup)
        print("\n".join(header), flush=True)
        for name, present in setup.has.items():
            if not present:
                setup.notes.append(f"`{name}` is not in the CLI yet: skipped")
        base = Options(0, seed=args.seed, median_size=args.median_size)
        results: Results = {}
        for layout in args.layout_list:
            for size in args.size_list:
                cache, entries = cache_for(root, layout, size, base)
                for mode in args.index_list:
                    setup.env = index_env(env, root, mode)
                    name = layout if mode == "none" else f"{layout} +index"
                    label = f"{name} {size}"
                    cases = build_cases(setup, layout, cache, entries)
                    run_cases(setup, cases, entries, label)
                    results.setdefault(name, {})[size] = {c.name: c for c in cases}
        print("\n" + report(header, results, setup.notes))
        if args.json is not None:
            save(args.json, header, results, setup.notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
