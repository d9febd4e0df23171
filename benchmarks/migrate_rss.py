"""Benchmark: migrate one huge legacy ``http/`` entry; peak RSS and throughput vs ``cp -r``.

Goals (issue 3): peak RSS <= 64 MiB for an entry of >= 150 MB, whatever its size; and
throughput >= 0.7x a plain ``cp -r`` of the same bytes, measured in the same run.

The legacy entry is written in the exact layout cachecontrol 0.12 (pip <= 23.2) writes:
``cc=4,`` + msgpack ``{"response": {"body": bin, "headers", "status", "version", "reason",
"strict", "decode_content"}, "vary": {}}``, streamed to disk so this script never holds the
body either. Each run is a fresh ``python -m pip_cache_plus migrate`` whose peak RSS comes
from ``os.wait4`` (that child's own rusage); a 1 MiB entry and an empty cache give the
baselines, so growth with body size would show.

``cp -r`` copies without fsync, while migrate fsyncs the body before publishing it (crash
safety), so ``cp -r`` + ``sync`` is reported too. Page cache: the entry is written and
synced first, so every reader finds it in memory; every timed run starts after ``sync``.

Usage: python benchmarks/migrate_rss.py [--size-mb 200] [--dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgpack

SRC = Path(__file__).resolve().parent.parent / "src"
URL = "https://files.example.org/packages/torch-2.1.0-cp311-cp311-manylinux1_x86_64.whl"
HEADERS = {
    "Content-Type": "application/octet-stream",
    "Cache-Control": "max-age=365000000, immutable, public",
    "ETag": '"0123456789abcdef"',
    "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
}
MiB = 1024 * 1024


def bin_header(length: int) -> bytes:
    """msgpack's smallest ``bin`` header, as ``packb(..., use_bin_type=True)`` picks it."""
    for tag, width in ((0xC4, 1), (0xC5, 2), (0xC6, 4)):
        if length < 1 << (8 * width):
            return bytes([tag]) + length.to_bytes(width, "big")
    raise ValueError("msgpack bin is limited to 4 GiB")


def write_legacy_entry(cache: Path, length: int) -> Path:
    """Stream a legacy entry with a ``length``-byte body; returns its path."""
    digest = hashlib.sha224(URL.encode()).hexdigest()
    path = cache.joinpath("http", *digest[:5], digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    pack = msgpack.Packer(use_bin_type=True).pack
    chunk = os.urandom(MiB)
    with path.open("wb") as fp:
        fp.write(b"cc=4," + b"\x82" + pack("response") + b"\x87" + pack("body"))
        fp.write(bin_header(length))
        for start in range(0, length, MiB):
            fp.write(chunk[: min(MiB, length - start)])
        for key, value in (
            ("headers", HEADERS),
            ("status", 200),
            ("version", 11),
            ("reason", "OK"),
            ("strict", 0),
            ("decode_content", False),
            ("vary", {}),
        ):
            fp.write(pack(key) + pack(value))
    return path


def check_layout() -> None:
    """The streamed writer gives byte for byte what cachecontrol 0.12's packb gives."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_legacy_entry(Path(tmp), 300_000)
        data = path.read_bytes()
        body_start = data.index(bin_header(300_000)) + 5
        body = data[body_start : body_start + 300_000]
        response = {
            "body": body,
            "headers": HEADERS,
            "status": 200,
            "version": 11,
            "reason": "OK",
            "strict": 0,
            "decode_content": False,
        }
        packed = msgpack.packb({"response": response, "vary": {}}, use_bin_type=True)
        assert data == b"cc=4," + packed, "the streamed entry is not cachecontrol's layout"


@dataclass
class Run:
    seconds: float
    max_rss: int  # bytes


def timed(cmd: list[str]) -> Run:
    """Run ``cmd``; wall time and that child's peak RSS (``ru_maxrss``, KiB on Linux)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:4]} failed: {err.decode()}")
    if b'"migrated"' in out and json.loads(out)["migrated"] != 1 and "empty" not in cmd[-1]:
        raise SystemExit(f"nothing migrated: {out.decode()}")
    return Run(seconds, usage.ru_maxrss * 1024)


def migrate_cmd(cache: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip_cache_plus", "migrate", "--format", "json",
        "--cache-dir", str(cache),
    ]  # fmt: skip


def reset(cache: Path, entry: Path, original: Path) -> None:
    """Put a fresh copy of the legacy entry back (untimed) and drop http-v2/.

    A copy, not a hard link: migrate's unlink must free the body's blocks, as it does for
    a user, and not just drop one of two links."""
    shutil.rmtree(cache / "http-v2", ignore_errors=True)
    entry.parent.mkdir(parents=True, exist_ok=True)
    if not entry.exists():
        shutil.copyfile(original, entry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="body size in MiB")
    parser.add_argument("--dir", type=Path, default=None, help="work dir (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    check_layout()
    work = Path(tempfile.mkdtemp(prefix="pcp-bench-", dir=args.dir))
    try:
        report(work, args.size_mb * MiB, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(work: Path, length: int, repeat: int) -> None:
    big, small, empty = work / "big", work / "small", work / "empty"
    entry = write_legacy_entry(big, length)
    small_entry = write_legacy_entry(small, MiB)
    empty.mkdir()
    keep, small_keep = work / "big.original", work / "small.original"
    os.rename(entry, keep)
    os.rename(small_entry, small_keep)
    size = keep.stat().st_size
    cp, cp_sync, mig, mig_small, noop = [], [], [], [], []
    for _ in range(repeat):
        reset(big, entry, keep)
        shutil.rmtree(work / "cp", ignore_errors=True)
        cp.append(timed(["cp", "-r", str(big / "http"), str(work / "cp")]))
        shutil.rmtree(work / "cp")
        cp_sync.append(timed(["sh", "-c", f"cp -r '{big / 'http'}' '{work / 'cp'}' && sync"]))
        shutil.rmtree(work / "cp")
        mig.append(timed(migrate_cmd(big)))
        body = Path(f"{big.joinpath('http-v2', *entry.relative_to(big / 'http').parts)}.body")
        assert body.stat().st_size == length
        reset(small, small_entry, small_keep)
        mig_small.append(timed(migrate_cmd(small)))
        noop.append(timed(migrate_cmd(empty)))
    show(length, size, cp, cp_sync, mig, mig_small, noop)


def show(length: int, size: int, *runs: list[Run]) -> None:
    cp, cp_sync, mig, _, startup = (statistics.median(r.seconds for r in x) for x in runs)
    rss = [max(r.max_rss for r in x) / MiB for x in runs[2:]]
    net = mig - startup
    mib = length / MiB
    print(f"legacy entry: body {mib:.0f} MiB ({length} bytes), file {size} bytes")
    print(f"median of {len(runs[0])} runs, all in one run of this script:")
    print(f"  cp -r http/ (no fsync)     {cp:7.3f} s  {mib / cp:7.0f} MiB/s")
    print(f"  cp -r http/ && sync        {cp_sync:7.3f} s  {mib / cp_sync:7.0f} MiB/s")
    print(f"  migrate (CLI, wall time)   {mig:7.3f} s  {mib / mig:7.0f} MiB/s")
    print(f"  migrate less start-up      {net:7.3f} s  {mib / net:7.0f} MiB/s")
    print(f"  (start-up: the same command on an empty cache, {startup:.3f} s)")
    print("throughput ratio (higher is better; goal >= 0.7x vs cp -r):")
    print(f"  vs cp -r:          {cp / mig:.2f}x wall, {cp / net:.2f}x less start-up")
    print(f"  vs cp -r && sync:  {cp_sync / mig:.2f}x wall, {cp_sync / net:.2f}x less start-up")
    print("peak RSS (ru_maxrss of each migrate process, max over runs; goal <= 64 MiB):")
    print(f"  {mib:.0f} MiB entry: {rss[0]:.1f} MiB")
    print(f"  1 MiB entry:   {rss[1]:.1f} MiB")
    print(f"  empty cache:   {rss[2]:.1f} MiB (interpreter + imports)")
    print(f"  growth over the empty run: {rss[0] - rss[2]:+.1f} MiB")


if __name__ == "__main__":
    main()
