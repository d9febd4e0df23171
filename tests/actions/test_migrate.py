"""``migrate``: caches pip 23.2.1 wrote become caches current pip serves, and nothing is lost.

Real caches come from real pips (``legacy_cache``, ``mixed_cache``); hand-made legacy
entries, written in cachecontrol 0.12's exact layout, are used where we need thousands of
them, big ones, or broken ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

import pip_cache_plus
from pip_cache_plus.actions import legacy_entry, migrate
from pip_cache_plus.actions.journal import JOURNAL_NAME, STALE_TMP_AGE, Journal
from pip_cache_plus.actions.legacy_entry import plan_step
from pip_cache_plus.cli.app import main
from pip_cache_plus.format.records import CachedResponse, parse_metadata
from pip_cache_plus.fs import fsops
from pip_cache_plus.fs.lock import cache_lock
from pip_cache_plus.inventory.responses import BodyRef, ReadResponse
from realpip import DOWNLOAD_REQUIREMENTS, BuiltCache, IndexServer, PipRunner

LOCK_NAME = ".pip_cache_plus.fs.lock"
WAITING = "Waiting for another pip_cache_plus command to finish"
SRC = Path(pip_cache_plus.__file__).resolve().parent.parent
FILE_HEADERS = {
    "Content-Type": "application/octet-stream",
    "Cache-Control": "max-age=365000000, immutable, public",
    "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
}


pytestmark = pytest.mark.usefixtures("isolated_pip_env")  # no PIP_* or config leaks in


# -- helpers ------------------------------------------------------------------------------


def sha224(url: str) -> str:
    return hashlib.sha224(url.encode()).hexdigest()


def entry_path(cache: Path, url: str, http_dir: str) -> Path:
    h = sha224(url)
    return cache.joinpath(http_dir, *h[:5], h)


def legacy_bytes(body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """What pip <= 23.2 (cachecontrol 0.12) writes: the body inline, ``strict`` kept."""
    response = {
        "body": body,
        "headers": headers if headers is not None else FILE_HEADERS,
        "status": 200,
        "version": 11,
        "reason": "OK",
        "strict": 0,
        "decode_content": False,
    }
    packed: bytes = msgpack.packb({"response": response, "vary": {}}, use_bin_type=True)
    return b"cc=4," + packed


def put_legacy(cache: Path, url: str, data: bytes) -> Path:
    path = entry_path(cache, url, "http")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_legacy(cache: Path, count: int, seed: int) -> dict[str, bytes]:
    """``count`` hand-made legacy entries; returns url -> body."""
    rng = random.Random(seed)
    bodies = {}
    for i in range(count):
        url = f"https://files.example.org/packages/p{i}/p{i}-1.0-py3-none-any.whl"
        size = rng.choice([0, 1, 200, 3000, 40_000]) if i % 100 else 1_500_000
        bodies[url] = rng.randbytes(size)
        put_legacy(cache, url, legacy_bytes(bodies[url], {**FILE_HEADERS, "ETag": f'"{i}"'}))
    return bodies


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime (our lock file aside)."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME
    }


def keys_in(http_dir: Path) -> set[str]:
    return {p.name for p in http_dir.rglob("*") if p.is_file() and len(p.name) == 56}


def temp_files(cache: Path) -> list[Path]:
    return [*cache.rglob("*.tmp"), *cache.glob(JOURNAL_NAME)]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "migrate", "--cache-dir", str(cache), "--format", "json", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    assert data["version"] == 1
    return data


def v2_entry(cache: Path, url: str) -> tuple[CachedResponse, bytes] | None:
    """The http-v2 entry pip would serve for ``url`` (response, body), or None."""
    meta = entry_path(cache, url, "http-v2")
    body = meta.with_name(meta.name + ".body")
    if not meta.exists():
        return None
    assert body.exists(), f"{meta} is served without its body"
    response, inline = parse_metadata(meta.read_bytes())
    assert inline == b""
    return response, body.read_bytes()


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    return env


def migrate_cmd(cache: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pip_cache_plus", "migrate", "--cache-dir", str(cache), *args]


# -- with real pip ------------------------------------------------------------------------


def test_migrated_cache_is_served_by_current_pip_without_downloads(
    capsys: pytest.CaptureFixture[str],
    legacy_cache: BuiltCache,
    pip_current: PipRunner,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    cache = legacy_cache.path
    legacy_keys = keys_in(cache / "http")
    assert legacy_keys and not (cache / "http-v2").exists()
    data = run_json(capsys, cache)
    assert (data["migrated"], data["already_present"], data["unreadable"]) == (
        len(legacy_keys),
        0,
        0,
    )
    assert not (cache / "http").exists()
    assert keys_in(cache / "http-v2") == legacy_keys

    mark = index_server.mark()
    outputs = [
        pip_current.download(*DOWNLOAD_REQUIREMENTS, dest=tmp_path / "dl", cache_dir=cache),
        pip_current.download(
            "--no-binary", "tiny_pure", "tiny_pure==1.1", dest=tmp_path / "dl2", cache_dir=cache
        ),
        pip_current.install(
            "tiny_pure==1.1", "Mixed_Case", "platpkg", target=tmp_path / "t", cache_dir=cache
        ),
    ]
    fetched = [r.url for r in index_server.requests(since=mark) if r.kind in ("file", "metadata")]
    assert fetched == []
    text = "".join(p.stdout for p in outputs)
    for filename in ("tiny_pure-1.0-py3-none-any.whl", "sdist_only-0.5.tar.gz"):
        # "Using cached <filename>"; pip < 24 names the whole URL
        assert re.search(rf"Using cached \S*{re.escape(filename)}", text), text


def test_migrated_entries_equal_what_current_pip_writes(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache, built_v2_cache: BuiltCache
) -> None:
    """For package files and their PEP 658 metadata (the same request headers in both pips,
    no Vary): ``.body`` byte-identical, metadata byte-identical once the ``Date`` header
    (the time of each pip's download) is made equal, and, for pip >= 25 (which sets the
    mode from the http-v2 dir; older pips leave ``mkstemp``'s 0o600), the same file mode.
    Pages are left out: their Vary'd request headers may differ between pip versions."""
    pip_sets_mode = int(built_v2_cache.pips[-1].split(".")[0]) >= 25
    run_json(capsys, legacy_cache.path)
    urls = set(legacy_cache.fetched_urls(kinds=["file", "metadata"]))
    urls &= set(built_v2_cache.fetched_urls(kinds=["file", "metadata"]))
    assert len(urls) >= 10
    for url in sorted(urls):
        ours = entry_path(legacy_cache.path, url, "http-v2")
        pips = entry_path(built_v2_cache.path, url, "http-v2")
        assert Path(f"{ours}.body").read_bytes() == Path(f"{pips}.body").read_bytes(), url
        ours_meta = msgpack.unpackb(ours.read_bytes()[5:], raw=False)
        pips_meta = msgpack.unpackb(pips.read_bytes()[5:], raw=False)
        ours_meta["response"]["headers"]["Date"] = pips_meta["response"]["headers"]["Date"]
        assert ours_meta == pips_meta, url
        repacked = b"cc=4," + msgpack.packb(ours_meta, use_bin_type=True)
        assert repacked == pips.read_bytes(), url  # same keys, order and msgpack types
        for name in (ours, Path(f"{ours}.body")):
            pip_name = pips.with_name(name.name)
            if pip_sets_mode:
                assert name.stat().st_mode == pip_name.stat().st_mode


def test_mixed_cache_keeps_http_v2_entries_and_fills_the_gaps(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    cache = mixed_cache.path
    urls = mixed_cache.fetched_urls(kinds=["file"])
    gone, half = urls[0], urls[1]
    gone_meta = entry_path(cache, gone, "http-v2")
    for path in (gone_meta, Path(f"{gone_meta}.body")):
        path.unlink()
    Path(f"{entry_path(cache, half, 'http-v2')}.body").unlink()  # metadata only: pip skips it
    legacy, complete = keys_in(cache / "http"), set()
    for key in legacy:
        meta = cache.joinpath("http-v2", *key[:5], key)
        if meta.exists() and Path(f"{meta}.body").exists():
            complete.add(key)
    assert legacy - complete == {sha224(gone), sha224(half)}
    before = snapshot(cache / "http-v2")

    data = run_json(capsys, cache)
    assert (data["migrated"], data["already_present"]) == (2, len(complete))
    assert not (cache / "http").exists()
    after = snapshot(cache / "http-v2")
    changed = {k for k in after if before.get(k) != after[k]}
    assert {Path(k).name.removesuffix(".body") for k in changed} == {sha224(gone), sha224(half)}
    for url in (gone, half):
        entry = v2_entry(cache, url)
        assert entry is not None
        assert entry[1] == mixed_cache.package(url.rsplit("/", 1)[1]).path.read_bytes()


def test_second_run_changes_nothing(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    first = run_json(capsys, legacy_cache.path)
    assert first["migrated"] > 0
    before = snapshot(legacy_cache.path)
    second = run_json(capsys, legacy_cache.path)
    assert (second["migrated"], second["already_present"], second["unreadable"]) == (0, 0, 0)
    assert snapshot(legacy_cache.path) == before


def test_migrated_entries_keep_their_last_used_time(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    old = 1_600_000_000
    for path in (legacy_cache.path / "http").rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    assert run_json(capsys, legacy_cache.path)["migrated"] > 0
    migrated = [p for p in (legacy_cache.path / "http-v2").rglob("*") if p.is_file()]
    assert migrated
    assert {(p.stat().st_atime, p.stat().st_mtime) for p in migrated} == {(old, old)}


def test_dry_run_changes_nothing_and_predicts_the_run(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    cache = mixed_cache.path
    url = mixed_cache.fetched_urls(kinds=["file"])[0]
    entry_path(cache, url, "http-v2").unlink()
    put_legacy(cache, "https://example.org/broken", b"cc=2,not really")
    before = snapshot(cache)
    atimes = {p: p.stat().st_atime_ns for p in cache.rglob("*") if p.is_file()}
    code, out, _ = run(capsys, "migrate", "--dry-run", "--cache-dir", str(cache))
    assert code == 0
    dry = run_json(capsys, cache, "--dry-run")
    assert dry["migrated"] >= 1 and dry["unreadable"] == 1
    assert f"Would migrate {dry['migrated']} entries (" in out
    assert dry["dry_run"] is True
    assert snapshot(cache) == before
    assert {p: p.stat().st_atime_ns for p in atimes} == atimes
    assert not (cache / LOCK_NAME).exists()
    real = run_json(capsys, cache)
    for field in ("migrated", "already_present", "unreadable", "bytes"):
        assert real[field] == dry[field], field


def test_keep_legacy_copies_and_leaves_http_alone(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    cache = legacy_cache.path
    legacy_before = snapshot(cache / "http")
    count = len(keys_in(cache / "http"))
    code, out, _ = run(capsys, "migrate", "--keep-legacy", "--cache-dir", str(cache))
    assert code == 0
    assert f"Migrated {count} entries (" in out
    assert "kept in http/" in out
    assert snapshot(cache / "http") == legacy_before
    assert keys_in(cache / "http-v2") == keys_in(cache / "http")
    again = run_json(capsys, cache, "--keep-legacy")
    assert (again["migrated"], again["already_present"]) == (0, count)
    final = run_json(capsys, cache)
    assert (final["migrated"], final["already_present"], final["legacy_removed"]) == (
        0,
        count,
        count,
    )
    assert not (cache / "http").exists()


class _Boom:
    """Unpickling this creates ``sentinel``: proof that nobody unpickled it."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.sentinel), "w"))


def test_unreadable_legacy_entries_stay_and_are_reported(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache, tmp_path: Path
) -> None:
    cache = legacy_cache.path
    sentinel = tmp_path / "unpickled"
    cc2 = b"cc=2," + zlib.compress(json.dumps({"response": {"body": ""}}).encode())
    bad = {
        "pickle": b"cc=1," + pickle.dumps(_Boom(sentinel)),
        "cc2": cc2,
        "truncated": legacy_bytes(b"x" * 100)[:60],
        "garbage": b"\x00\x01 not a cache entry",
        "bad-msgpack": b"cc=4,\xc1\xc1\xc1",
        "no-response": b"cc=4," + msgpack.packb({"vary": {}}),
    }
    paths = {
        name: put_legacy(cache, f"https://example.org/{name}", data) for name, data in bad.items()
    }
    stray = paths["cc2"].with_name("leftover.tmp")
    stray.write_bytes(b"x")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not pip's")
    link = paths["garbage"].with_name("a" * 56)
    link.symlink_to(outside)
    left = {p: p.read_bytes() for p in [*paths.values(), stray]}
    valid = len(keys_in(cache / "http")) - len(bad) - 1  # the link is no entry either

    code, out, _ = run(capsys, "migrate", "--cache-dir", str(cache))
    assert code == 0
    assert f"Migrated {valid} entries (" in out
    assert f"; 0 already present; {len(bad) + 2} unreadable, left in http/" in out
    assert "cc=1 (pip 6.0) is a pickle" in out
    assert not sentinel.exists()
    assert {p: p.read_bytes() for p in left} == left
    assert link.is_symlink() and outside.read_bytes() == b"not pip's"
    data = run_json(capsys, cache)
    assert data["unreadable"] == len(bad) + 2
    problems = {e["path"]: e["problem"] for e in data["unreadable_entries"]}
    assert set(problems) == {str(p) for p in [*paths.values(), stray, link]}
    assert "truncated" in problems[str(paths["truncated"])]
    assert "cc=2" in problems[str(paths["cc2"])]


#: A migration paced to last while pip runs: 30 ms per entry, then it holds at 90% of the
#: bytes until ``flag`` exists. Prints migrated, already present, unreadable, errors.
_PACED_CHILD = """
import sys, time
from pathlib import Path
from pip_cache_plus.actions.migrate import migrate
cache, flag = Path(sys.argv[1]), Path(sys.argv[2])
def pace(phase, done, total):
    if phase != "migrating":
        return
    time.sleep(0.03)
    while done > 0.9 * total and not flag.exists():
        time.sleep(0.05)
r = migrate(cache, progress=pace)
print(r.migrated, r.already_present, len(r.unreadable), len(r.errors))
"""


@pytest.mark.realpip
def test_current_pip_install_during_migrate_succeeds(
    legacy_cache: BuiltCache, pip_current: PipRunner, tmp_path: Path
) -> None:
    cache, flag = legacy_cache.path, tmp_path / "pip-done"
    extra = make_legacy(cache, 100, seed=3)
    legacy_keys = keys_in(cache / "http")
    proc = subprocess.Popen(
        [sys.executable, "-c", _PACED_CHILD, str(cache), str(flag)],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (cache / "http-v2").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # start pip once the migration writes
        pip = pip_current.install(
            "tiny_pure==1.1", "Mixed_Case", "platpkg", target=tmp_path / "t", cache_dir=cache
        )
        assert proc.poll() is None, "migrate ended before pip did: no overlap tested"
    finally:
        flag.touch()
        out, err = proc.communicate(timeout=120)
    assert pip.returncode == 0
    assert proc.returncode == 0, err
    migrated, present, unreadable, errors = map(int, out.split())
    assert migrated + present == len(legacy_keys)
    assert (unreadable, errors) == (0, 0)
    assert not (cache / "http").exists()
    assert temp_files(cache) == []
    assert keys_in(cache / "http-v2") >= legacy_keys
    for url, body in extra.items():
        entry = v2_entry(cache, url)
        assert entry is not None and entry[1] == body


def test_lock_serialises_two_migrates(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bodies = make_legacy(cache, 50, seed=4)
    procs = []
    with cache_lock(cache):
        for _ in range(2):
            proc = subprocess.Popen(
                migrate_cmd(cache, "--format", "json"),
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            assert WAITING in read_line(proc, timeout=30)
        time.sleep(0.2)
        assert keys_in(cache / "http") == {sha224(u) for u in bodies}  # both still wait
        assert not (cache / "http-v2").exists()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["migrated"] for r in results) == [0, len(bodies)]
    assert sum(r["already_present"] for r in results) == 0  # never interleaved


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, "no line from the child in time"
    return proc.stderr.readline()


# -- crash safety -------------------------------------------------------------------------


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs directory where there is one (fsync is free there): a kill test needs
    thousands of entries in a few seconds. Elsewhere: ``tmp_path``."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="pcp-migrate-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_nothing_lost(cache: Path, bodies: dict[str, bytes], originals: dict[str, bytes]) -> int:
    """Every entry is intact in http/ or complete in http-v2/; returns how many moved."""
    moved = 0
    for url, body in bodies.items():
        legacy = entry_path(cache, url, "http")
        entry = v2_entry(cache, url)
        if entry is not None:
            response, served = entry
            assert served == body, f"{url}: metadata present, body incomplete"
            legacy_response, _ = parse_metadata(originals[url])
            assert response.headers == legacy_response.headers
            assert response.strict is None
            moved += 1
        else:
            assert legacy.exists(), f"{url}: lost"
        if legacy.exists():
            assert legacy.read_bytes() == originals[url], f"{url}: legacy file changed"
    return moved


#: A migrate child that SIGKILLs itself just before its n-th call of one ``os`` function
#: (or of ``syncfs``, made through ctypes): a real kill -9 (nothing of ours runs after it),
#: at points a timer rarely hits, such as between a batch's sync and its renames. Batches
#: are small here so that every point is reached within a few entries.
_KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from pip_cache_plus.actions import batch, migrate
name, when = sys.argv[2], int(sys.argv[3])
if sys.argv[4] == "fsync":  # as where there is no syncfs: an fsync per file and directory
    batch.sync_filesystem = lambda path: False
module = batch if name == "sync_filesystem" else os
real, calls = getattr(module, name), [0]
def kill_on_call(*args, **kwargs):
    calls[0] += 1
    if calls[0] == when:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(module, name, kill_on_call)
migrate.BATCH_ENTRIES = 8
migrate.migrate(Path(sys.argv[1]))
"""
KILL_POINTS = (
    "open", "mkdir", "chmod", "copy_file_range", "replace", "unlink", "write", "ftruncate",
)  # fmt: skip
#: How each way of making writes durable is reached (the name a kill point patches).
SYNC_POINTS = {"syncfs": "sync_filesystem", "fsync": "fsync"}


def run_killed(cache: Path, point: str, when: int, sync: str = "syncfs") -> None:
    cmd = [sys.executable, "-c", _KILLED_CHILD, str(cache), point, str(when), sync]
    proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == -signal.SIGKILL, (point, when, proc.stderr)


#: Calls per entry of the points made once per batch of 8 (the others: one or more).
PER_ENTRY = {"ftruncate": 1 / 8, "sync_filesystem": 2 / 8}


@pytest.mark.parametrize("sync", list(SYNC_POINTS))
def test_kill_at_random_points_loses_nothing(fast_dir: Path, sync: str) -> None:
    cache = fast_dir / "cache"
    on_tmpfs = str(fast_dir).startswith("/dev/shm")
    bodies = make_legacy(cache, 2000 if on_tmpfs else 300, seed=5)
    originals = {url: entry_path(cache, url, "http").read_bytes() for url in bodies}
    rng = random.Random(6)
    moved_per_round, temp_seen = [], 0
    kinds = [*KILL_POINTS, SYNC_POINTS[sync]]
    points = [*kinds, *rng.sample(kinds, 3)]
    for point in points:
        # A round stops within 120 entries (20 off tmpfs).
        calls = int((120 if on_tmpfs else 20) * PER_ENTRY.get(point, 1))
        run_killed(cache, point, rng.randint(1, max(calls, 1)), sync)
        moved_per_round.append(check_nothing_lost(cache, bodies, originals))
        temp_seen += len(list((cache / "http-v2").rglob("*.tmp")))
    assert moved_per_round[-1] > 0
    assert temp_seen > 0, "no kill landed inside a write: the test misses the point"
    assert moved_per_round[-1] < len(bodies), "a round finished: the kills tested too little"
    legacy_left = len(keys_in(cache / "http"))
    final = subprocess.run(
        migrate_cmd(cache, "--format", "json"),
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    assert check_nothing_lost(cache, bodies, originals) == len(bodies)
    assert not (cache / "http").exists()
    assert temp_files(cache) == []
    data = json.loads(final.stdout)
    assert data["migrated"] + data["already_present"] == legacy_left


def test_write_error_stops_and_leaves_the_entry_in_http(tmp_path: Path) -> None:
    """A real kernel refusal (``EFBIG`` from ``RLIMIT_FSIZE``) in the middle of a body."""
    cache = tmp_path / "cache"
    bodies = make_legacy(cache, 20, seed=7)
    big_url = "https://files.example.org/big.whl"
    bodies[big_url] = os.urandom(3_000_000)
    put_legacy(cache, big_url, legacy_bytes(bodies[big_url]))
    originals = {url: entry_path(cache, url, "http").read_bytes() for url in bodies}
    limit = 2_000_000  # above every other body, below the big one
    launcher = (
        "import resource, runpy, signal, sys;"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}));"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "sys.argv = ['pip_cache_plus', *sys.argv[1:]];"
        "runpy.run_module('pip_cache_plus', run_name='__main__')"
    )
    cmd = [sys.executable, "-c", launcher, *migrate_cmd(cache)[3:]]
    proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "error: could not write" in proc.stderr
    assert "File too large" in proc.stderr
    assert entry_path(cache, big_url, "http").read_bytes() == originals[big_url]
    assert v2_entry(cache, big_url) is None
    assert not Path(f"{entry_path(cache, big_url, 'http-v2')}.body").exists()
    assert temp_files(cache) == []
    check_nothing_lost(cache, bodies, originals)
    again = subprocess.run(
        migrate_cmd(cache), env=child_env(), capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    assert check_nothing_lost(cache, bodies, originals) == len(bodies)


def test_disk_full_mid_body(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    bodies = make_legacy(cache, 5, seed=8)
    originals = {url: entry_path(cache, url, "http").read_bytes() for url in bodies}
    calls = []

    def full_disk(src: Any, dst: Any, offset: int, length: int) -> None:
        calls.append(length)
        dst.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(legacy_entry, "copy_range", full_disk)
    code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert code == 1
    assert len(calls) == 1, "the run goes on after the disk is full"
    assert "error: could not write" in err and "No space left on device" in err
    assert "was left as it was" in err
    assert "Migrated 0 entries" in out
    assert temp_files(cache) == []
    check_nothing_lost(cache, bodies, originals)


# -- temp files, modes, links -------------------------------------------------------------


def test_temp_files_ours_always_pips_only_when_stale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    url = "https://files.example.org/a.whl"
    put_legacy(cache, url, legacy_bytes(b"body"))
    meta = entry_path(cache, url, "http-v2")
    meta.parent.mkdir(parents=True)
    old = time.time() - STALE_TMP_AGE - 60
    stale_pip = meta.with_name(meta.name + ".bodyabcd_123.tmp")
    live_pip = meta.with_name(meta.name + "zzzzzzzz.tmp")
    ours = meta.with_name(meta.name + ".body0000aaaa.tmp")  # young, but named in the journal
    for path in (stale_pip, live_pip, ours):
        path.write_bytes(b"partial")
    os.utime(stale_pip, (old, old))
    elsewhere = cache / "http-v2" / "0" / "0" / "0" / "0" / "0" / ("0" * 56 + "abcdefgh.tmp")
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"not in a dir we write to")
    os.utime(elsewhere, (old, old))
    not_ours = cache / "http-v2" / "mine.tmp"
    not_ours.write_bytes(b"journal lines outside the pattern are ignored")
    (cache / JOURNAL_NAME).write_text(
        f"+{ours.relative_to(cache).as_posix()}\n+http-v2/mine.tmp\n+../outside.tmp\n"
    )

    data = run_json(capsys, cache)
    assert data["migrated"] == 1
    assert data["temp_files_removed"] == 2
    assert not ours.exists() and not stale_pip.exists()
    assert live_pip.exists() and elsewhere.exists() and not_ours.exists()
    assert not (cache / JOURNAL_NAME).exists()


def test_journal_lines_released_on_a_name_clash_are_not_ours(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    target = tmp_path.joinpath("http-v2", *"abcde", "abcde" + "0" * 51)
    first, second = fsops.pip_temp_name(target), fsops.pip_temp_name(target)
    journal.claim(first)
    journal.release(first)
    journal.claim(second)
    assert journal.leftovers() == [second]
    journal.clear()
    assert journal.leftovers() == []
    journal.close()
    assert not journal.path.exists()


@pytest.mark.parametrize(
    ("dir_mode", "file_mode"),
    [
        pytest.param(0o755, 0o644, id="default-umask"),
        pytest.param(0o2770, 0o660, id="group-shared"),
        pytest.param(0o700, 0o600, id="private"),
    ],
)
def test_file_modes_follow_pips_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, dir_mode: int, file_mode: int
) -> None:
    cache = tmp_path / "cache"
    url = "https://files.example.org/a.whl"
    put_legacy(cache, url, legacy_bytes(b"body"))
    (cache / "http-v2").mkdir()
    (cache / "http-v2").chmod(dir_mode)
    run_json(capsys, cache)
    meta = entry_path(cache, url, "http-v2")
    for path in (meta, Path(f"{meta}.body")):
        assert path.stat().st_mode & 0o7777 == file_mode


def test_never_writes_through_a_link(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = "https://files.example.org/a.whl"
    legacy = put_legacy(cache, url, legacy_bytes(b"body"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache / "http-v2").mkdir()
    (cache / "http-v2" / sha224(url)[0]).symlink_to(elsewhere)
    code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert code == 1
    assert "refusing to write under" in err
    assert "Migrated 0 entries" in out
    assert list(elsewhere.iterdir()) == []
    assert legacy.read_bytes() == legacy_bytes(b"body")


# -- streaming ----------------------------------------------------------------------------


def bin_header(length: int) -> bytes:
    """msgpack's smallest ``bin`` header, as ``packb(..., use_bin_type=True)`` writes it."""
    for tag, width in ((0xC4, 1), (0xC5, 2), (0xC6, 4)):
        if length < 1 << (8 * width):
            return bytes([tag]) + length.to_bytes(width, "big")
    raise ValueError("msgpack bin is limited to 4 GiB")


def write_legacy_streaming(path: Path, length: int, chunk: bytes) -> None:
    """A legacy entry of ``length`` body bytes, written without holding the body."""
    packer = msgpack.Packer(use_bin_type=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fp:
        fp.write(b"cc=4," + packer.pack_map_header(2) + packer.pack("response"))
        fp.write(packer.pack_map_header(7) + packer.pack("body") + bin_header(length))
        for start in range(0, length, len(chunk)):
            fp.write(chunk[: length - start])
        for key, value in (
            ("headers", FILE_HEADERS),
            ("status", 200),
            ("version", 11),
            ("reason", "OK"),
            ("strict", 0),
            ("decode_content", False),
            ("vary", {}),
        ):
            fp.write(packer.pack(key) + packer.pack(value))


def test_streamed_writer_matches_cachecontrol_layout(tmp_path: Path) -> None:
    path = tmp_path / "entry"
    write_legacy_streaming(path, 1000, b"0123456789")
    assert path.read_bytes() == legacy_bytes(b"0123456789" * 100)


def test_big_body_is_streamed_not_loaded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = "https://files.example.org/torch.whl"
    length, chunk = 40 * 1024 * 1024 + 7, os.urandom(1 << 20)
    write_legacy_streaming(entry_path(cache, url, "http"), length, chunk)
    tracemalloc.start()
    try:
        result = migrate.migrate(cache)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.migrated, result.errors) == (1, [])
    assert peak < 4 * 1024 * 1024, f"{peak} bytes allocated for a {length} byte body"
    body = Path(f"{entry_path(cache, url, 'http-v2')}.body")
    assert body.stat().st_size == length
    with body.open("rb") as fp:
        assert fp.read(len(chunk)) == chunk
        fp.seek(length - 7)
        assert fp.read() == chunk[:7]


# -- pure planning and output -------------------------------------------------------------


def _read(body: BodyRef) -> ReadResponse:
    response = CachedResponse(200, (("ETag", '"x"'),), 11, "OK", False, (), strict=0)
    return ReadResponse(response, body)


@pytest.mark.parametrize(
    ("state", "action"),
    [
        pytest.param("absent", "migrate", id="absent"),
        pytest.param("complete", "drop-legacy", id="complete-wins"),
        pytest.param("blocked", "skip", id="blocked"),
    ],
)
def test_plan_step(state: Any, action: str) -> None:
    cache = Path("/c")
    source = cache.joinpath("http", *"abcde", "abcde" + "0" * 51)
    step = plan_step(source, _read(BodyRef(source, 40, 1000)), state, cache)
    assert step.action == action
    assert step.meta == cache.joinpath("http-v2", *"abcde", source.name)
    assert step.body_path == step.meta.with_name(source.name + ".body")
    if action == "migrate":
        response, inline = parse_metadata(step.metadata)
        assert inline == b"" and response.strict is None
        assert step.size == 1000 + len(step.metadata)
    else:
        assert step.metadata == b""


def test_human_summary_and_no_legacy_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "migrate", "--cache-dir", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == "Migrated 0 entries (0 bytes); 0 already present; 0 unreadable, left in http/\n"
    assert list(tmp_path.iterdir()) == [tmp_path / LOCK_NAME] or list(tmp_path.iterdir()) == []


def test_a_journal_that_is_not_a_file_stops_migrate_with_one_line(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    (legacy_cache.path / ".pip_cache_plus.actions.migrate-journal").mkdir()
    before = sorted(p.relative_to(legacy_cache.path) for p in legacy_cache.path.rglob("*"))
    code, out, err = run(capsys, "migrate", "--cache-dir", str(legacy_cache.path))
    assert code == 1 and out == "" and err.count("\n") == 1 and "is not a file" in err, err
    after = sorted(p.relative_to(legacy_cache.path) for p in legacy_cache.path.rglob("*"))
    assert [p for p in after if p.name != ".pip_cache_plus.fs.lock"] == before


@pytest.mark.parametrize("fixture", ["legacy_cache", "mixed_cache"])
def test_dry_run_reports_what_the_real_run_then_does(
    capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest, tmp_path: Path, fixture: str
) -> None:
    """Legacy files and directories removed too (mixed: some entries are in http-v2/
    already, and only their legacy file goes); an empty directory of http/ goes as well."""
    cache: BuiltCache = request.getfixturevalue(fixture)
    (cache.path / "http" / "e" / "empty").mkdir(parents=True)
    twin = tmp_path / "twin"
    shutil.copytree(cache.path, twin, symlinks=True)
    dry = run_json(capsys, cache.path, "--dry-run")
    real = run_json(capsys, twin)
    counted = ("migrated", "already_present", "unreadable", "bytes", "legacy_removed")
    assert {k: dry[k] for k in (*counted, "directories_removed")} == {
        k: real[k] for k in (*counted, "directories_removed")
    }
    assert real["legacy_removed"] == real["migrated"] + real["already_present"] > 0
    assert real["directories_removed"] > 2 and not (twin / "http").exists()


def test_an_http_v2_swapped_for_a_link_mid_run_receives_nothing(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    legacy_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    """Entries are put in place through descriptors of their checked directories: a link
    put in http-v2/'s place after the checks stops the run; nothing lands behind it and
    no legacy file of an entry not put in place goes."""
    from pip_cache_plus.actions import batch

    cache = legacy_cache.path
    legacy = {p for p in (cache / "http").rglob("*") if p.is_file()}
    victim = tmp_path / "victim"
    real_commit = batch.Batch.commit

    def swap_then_commit(self: batch.Batch) -> Any:
        if not victim.exists():
            shutil.copytree(cache / "http-v2", victim)  # the same directories, elsewhere
            (cache / "http-v2").rename(cache / "http-v2.real")
            (cache / "http-v2").symlink_to(victim, target_is_directory=True)
        return real_commit(self)

    monkeypatch.setattr(batch.Batch, "commit", swap_then_commit)
    code, _, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert code == 1 and "refusing to touch" in err, err
    assert [p for p in victim.rglob("*") if p.is_file() and not p.name.endswith(".tmp")] == []
    left = {p for p in (cache / "http").rglob("*") if p.is_file()}
    placed = {p.name for p in (cache / "http-v2.real").rglob("*") if p.is_file()}
    assert all(p in left or p.name in placed for p in legacy)
