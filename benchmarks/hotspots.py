"""Where ``list`` and ``info`` spend time and memory, on a generated cache.

``python benchmarks/hotspots.py CACHE_DIR [--command list|info] [--top 25]`` prints:

1. import time (``-X importtime``) of the command's process, by top-level package;
2. a cProfile of the command: self time by module, and the cumulative time of the steps
   that matter (walk, metadata reads, page parsing, URL hashing, sniffing, rendering);
3. tracemalloc: the peak, and what is alive when rendering starts (every entry is
   identified by then), by source line.

Each part runs in its own process, like a user's command would.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from run import child_env

# Steps of the pipeline, matched against "file:function" of cProfile rows (cumulative);
# ":function" matches that function in any file (modules move while others work).
STEPS = (
    ("imports (all)", "<frozen importlib._bootstrap>:_find_and_load"),
    ("walk (entries.walk)", "entries.py:walk"),
    ("identify_all", "identify.py:identify_all"),
    ("  read metadata (responses.read_response)", "responses.py:read_response"),
    ("    msgpack unpack", "records.py:_unpack"),
    ("  recover URLs from pages (recover.recover)", "recover.py:recover"),
    ("    decode page body (gzip)", "streams.py:decode_body"),
    ("    parse page JSON/HTML (simple.load_page)", "simple.py:load_page"),
    ("    resolve file links (simple._json_files)", "simple.py:_json_files"),
    ("    hash candidate URLs (records.key_digest)", "records.py:key_digest"),
    ("  sniff bodies (identify._sniff)", "identify.py:_sniff"),
    ("  Date header (responses.parse_http_date)", "responses.py:parse_http_date"),
    ("  memo: load (memo.Memo.load)", "memo.py:load"),
    ("  memo: save (memo.Memo.save)", "memo.py:save"),
    ("info (cache.info)", "cache.py:info"),
    ("filter (filters.Filter.select)", "filters.py:select"),
    ("render (render_list)", ":render_list"),
    ("  json.dump", "__init__.py:dump"),
    ("render (render_info)", ":render_info"),
)

_MEMORY = """
import sys, tracemalloc
tracemalloc.start(1)
from pip_cache_plus import cli
from pip_cache_plus.cli import render
seen = {}
def snap(*args, **kwargs):
    seen["snap"] = tracemalloc.take_snapshot()
    seen["at"] = tracemalloc.get_traced_memory()[0]
    return original(*args, **kwargs)
cache, top, command, *rest = sys.argv[1:]
name = "render_" + command
original = getattr(render, name)
setattr(render, name, snap)
cli.main(["--cache-dir", cache, command, *rest])
peak = tracemalloc.get_traced_memory()[1]
sys.stdout = sys.__stderr__
if "snap" not in seen:
    sys.exit(f"traced peak {peak / 2**20:.1f} MiB ({name} was not reached)")
print(f"traced peak {peak / 2**20:.1f} MiB; alive when rendering starts "
      f"{seen['at'] / 2**20:.1f} MiB; top lines then:")
for stat in seen["snap"].statistics("lineno")[: int(top)]:
    frame = stat.traceback[0]
    where = "/".join(frame.filename.split("/")[-2:])
    print(f"  {stat.size / 2**20:7.1f} MiB {stat.count:8d} blocks  {where}:{frame.lineno}")
"""


def command_args(command: str) -> list[str]:
    return ["list", "--format", "json"] if command == "list" else ["info"]


def import_times(python: str, env: dict[str, str], cache: str, command: str) -> list[str]:
    argv = [python, "-X", "importtime", "-m", "pip_cache_plus", "--cache-dir", cache]
    proc = subprocess.run(
        [*argv, *command_args(command)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    totals: dict[str, int] = defaultdict(int)
    heavy: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line.split("|")
        if not name.startswith("  "):  # a top-level import: its cumulative time counts once
            totals[name.strip().split(".")[0]] += int(cumulative)
        if not name.strip().startswith("pip_cache_plus"):
            heavy[name.strip()] = max(heavy.get(name.strip(), 0), int(cumulative))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    total = sum(totals.values())
    out = [f"import time, total {total / 1e3:.0f} ms (top-level packages, cumulative):"]
    out += [f"  {us / 1e3:7.1f} ms  {name}" for name, us in ranked[:6]]
    out.append("heaviest other modules it pulls in (cumulative, nested ones overlap):")
    for name, us in sorted(heavy.items(), key=lambda kv: -kv[1])[:15]:
        out.append(f"  {us / 1e3:7.1f} ms  {name}")
    return out


def cprofile(python: str, env: dict[str, str], cache: str, command: str, top: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        prof = os.path.join(tmp, "out.prof")
        argv = [python, "-m", "cProfile", "-o", prof, "-m", "pip_cache_plus", "--cache-dir", cache]
        subprocess.run(
            [*argv, *command_args(command)], env=env, stdout=subprocess.DEVNULL, check=True
        )
        stats = pstats.Stats(prof)
    rows = stats.stats  # type: ignore[attr-defined]
    total = max(ct for (_cc, _nc, _tt, ct, _callers) in rows.values())
    by_module: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)
    for (filename, _line, func), (_cc, _nc, tt, ct, _callers) in rows.items():
        module = "/".join(Path(filename).parts[-2:]) if filename != "~" else func
        by_module[module] += tt
        for key in (f"{Path(filename).name}:{func}", f":{func}"):
            cumulative[key] = max(cumulative[key], ct)
    out = [f"cProfile of `{command}`: {total:.2f} s under the profiler", "steps (cumulative):"]
    for label, key in STEPS:
        if cumulative.get(key):
            out.append(f"  {cumulative[key]:7.2f} s {100 * cumulative[key] / total:5.1f}%  {label}")
    out.append("self time by module:")
    for module, tt in sorted(by_module.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {tt:7.2f} s {100 * tt / total:5.1f}%  {module}")
    return out


def memory(python: str, env: dict[str, str], cache: str, command: str, top: int) -> list[str]:
    argv = [python, "-c", _MEMORY, cache, str(top), *command_args(command)]
    proc = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True
    )
    return proc.stderr.splitlines()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("cache", help="a cache dir (e.g. made by generate.py)")
    parser.add_argument("--command", choices=("list", "info"), default="list")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument(
        "--memo",
        metavar="DIR",
        default="",
        help="profile with the memo in DIR (run once first to fill it: a repeat run); "
        "default: no memo, a first run",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pcp-hotspots-") as home:
        env = child_env(args.python, Path(home))
        env["PIP_CACHE_PLUS_MEMO_DIR"] = args.memo
        parts = [
            import_times(args.python, env, args.cache, args.command),
            cprofile(args.python, env, args.cache, args.command, args.top),
            memory(args.python, env, args.cache, args.command, args.top),
        ]
    print("\n\n".join("\n".join(part) for part in parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
