"""A disk that fills up during ``migrate`` or ``export``: the source is left intact, the
command exits 1 with one line on stderr, and no temp file is left behind (none is left at
all: each is removed the moment its write fails; the next run finds nothing to clean).

The disk is simulated in-process: ``os.copy_file_range``, ``os.sendfile`` and ``os.write``
(the three ways ``fsops.copy_range`` writes, the last two being its fallbacks) share a
budget of bytes for regular files and raise ``ENOSPC`` once it is spent, after a short
write, as the kernel does; or the n-th ``fsync`` of a file fails with ``ENOSPC`` (where
delayed allocation and network file systems report it).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.actions import batch
from pip_cache_plus.cli.app import main
from pip_cache_plus.format.records import parse_metadata
from realpip import BuiltCache

LOCK_NAME = ".pip_cache_plus.fs.lock"
JOURNAL_NAME = ".pip_cache_plus.actions.migrate-journal"
MODES = ["copy_file_range", "sendfile", "write", "fsync"]


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def _full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _is_file(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


class Disk:
    """Room for ``budget`` more bytes (``mode`` says which call fills it); with ``mode``
    ``"fsync"``, the ``budget``-th fsync of a file fails instead."""

    def __init__(self, mode: str, budget: int) -> None:
        self.mode = mode
        self.left = budget
        self.fsyncs = 0
        self.refused = 0

    def take(self, fd: int, wanted: int) -> int:
        if not _is_file(fd) or wanted == 0:
            return wanted
        if self.left == 0:
            self.refused += 1
            raise _full()
        granted = min(wanted, self.left)
        self.left -= granted
        return granted

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_write, real_cfr = os.write, os.copy_file_range
        real_sendfile, real_fsync = os.sendfile, os.fsync

        def write(fd: int, data: Any) -> int:
            return real_write(fd, memoryview(data)[: self.take(fd, len(data))])

        def copy_file_range(src: int, dst: int, count: int, *args: Any) -> int:
            return real_cfr(src, dst, self.take(dst, count), *args)

        def sendfile(out: int, in_: int, offset: int | None, count: int) -> int:
            return real_sendfile(out, in_, offset, self.take(out, count))

        def refused(*args: Any, **kwargs: Any) -> int:
            raise OSError(errno.ENOSYS, "not here")

        def fsync(fd: int) -> None:
            if _is_file(fd):
                self.fsyncs += 1
                if self.fsyncs == self.left:  # the budget counts fsyncs here
                    self.refused += 1
                    raise _full()
            real_fsync(fd)

        if self.mode == "fsync":
            monkeypatch.setattr(os, "fsync", fsync)
            # As where there is no syncfs: migrate then fsyncs each file.
            monkeypatch.setattr(batch, "sync_filesystem", lambda path: False)
            return
        # Each mode makes the ways before it refuse, as some file systems do.
        ways: dict[str, Callable[..., int]] = {
            "copy_file_range": copy_file_range,
            "sendfile": sendfile,
            "write": write,
        }
        order = list(ways)
        for name in order[: order.index(self.mode)]:
            monkeypatch.setattr(os, name, refused)
        monkeypatch.setattr(os, self.mode, ways[self.mode])
        if self.mode != "write":
            monkeypatch.setattr(os, "write", write)  # the migrate journal, for one


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def files_under(root: Path) -> dict[Path, bytes]:
    return {
        p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != LOCK_NAME
    }


def temp_files(*roots: Path) -> list[Path]:
    found = [p for root in roots for p in root.rglob("*.tmp")]
    return found + [p for root in roots for p in root.glob(JOURNAL_NAME)]


# -- migrate --------------------------------------------------------------------------------


def check_migrated_or_intact(cache: Path, legacy: dict[Path, bytes]) -> int:
    """Each legacy entry is intact in http/ or complete in http-v2/; returns how many
    moved."""
    moved = 0
    for path, data in legacy.items():
        rel = path.relative_to(cache / "http")
        meta = cache.joinpath("http-v2", *rel.parts)
        body = meta.with_name(meta.name + ".body")
        if meta.exists():
            response, _ = parse_metadata(meta.read_bytes())
            old, inline = parse_metadata(data)
            assert response.headers == old.headers
            assert body.read_bytes() == inline, f"{meta}: served with a wrong body"
            moved += 1
        else:
            assert path.read_bytes() == data, f"{path}: lost"
        if path.exists():
            assert path.read_bytes() == data, f"{path}: changed"
    return moved


def legacy_budgets(cache: Path) -> list[int]:
    total = sum(p.stat().st_size for p in (cache / "http").rglob("*") if p.is_file())
    return [0, 300, total // 3, 2 * total // 3]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", range(4))
def test_migrate_disk_full(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    legacy_cache: BuiltCache,
    mode: str,
    step: int,
) -> None:
    cache = legacy_cache.path
    legacy = {p: p.read_bytes() for p in (cache / "http").rglob("*") if p.is_file()}
    budget = step + 1 if mode == "fsync" else legacy_budgets(cache)[step]
    disk = Disk(mode, budget)
    with monkeypatch.context() as patch:
        disk.install(patch)
        code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert disk.refused >= 1, "the disk never filled up: the test tests nothing"
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: could not write "), err
    assert "No space left on device" in err and "was left as it was" in err
    assert "Traceback" not in out + err
    moved = check_migrated_or_intact(cache, legacy)
    assert moved < len(legacy)
    assert temp_files(cache) == []

    code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert (code, err) == (0, "")
    assert check_migrated_or_intact(cache, legacy) == len(legacy)
    assert not (cache / "http").exists()
    assert temp_files(cache) == []


@pytest.mark.parametrize("failing", [1, 2], ids=["before-renames", "after-renames"])
def test_migrate_syncfs_fails(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    legacy_cache: BuiltCache,
    failing: int,
) -> None:
    """A write-back error reported by syncfs (the batch's one sync before its renames, or
    the one after them): no legacy file is removed; the next run completes."""
    cache = legacy_cache.path
    legacy = {p: p.read_bytes() for p in (cache / "http").rglob("*") if p.is_file()}
    calls = []

    def sync_filesystem(path: Path) -> bool:
        calls.append(path)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return True

    with monkeypatch.context() as patch:
        patch.setattr(batch, "sync_filesystem", sync_filesystem)
        code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: could not write "), err
    assert "No space left on device" in err and "Traceback" not in out + err
    assert {p: p.read_bytes() for p in legacy} == legacy  # every legacy file still there
    moved = check_migrated_or_intact(cache, legacy)
    assert moved == (0 if failing == 1 else len(legacy))
    assert temp_files(cache) == []

    code, out, err = run(capsys, "migrate", "--cache-dir", str(cache))
    assert (code, err) == (0, "")
    assert check_migrated_or_intact(cache, legacy) == len(legacy)
    assert not (cache / "http").exists()


# -- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("step", range(3))
def test_export_disk_full(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    tmp_path: Path,
    mode: str,
    step: int,
) -> None:
    cache = v2_cache.path
    before = files_under(cache)
    downloaded = {u.rsplit("/", 1)[1] for u in v2_cache.fetched_urls(kinds=["file"])}
    total = sum(v2_cache.package(name).size for name in downloaded)
    budget = step + 1 if mode == "fsync" else [0, 500, total // 2][step]
    dest = tmp_path / "out"
    disk = Disk(mode, budget)
    with monkeypatch.context() as patch:
        disk.install(patch)
        code, _, err = run(capsys, "export", "*", "--cache-dir", str(cache), "-d", str(dest))
    assert disk.refused >= 1, "the disk never filled up: the test tests nothing"
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: could not write "), err
    assert "No space left on device; the partial file was removed" in err
    assert files_under(cache) == before
    written = sorted(p.name for p in dest.iterdir())
    assert len(written) < len(downloaded) + 1  # + the wheel built from sdist_only
    for name in written:
        data = (dest / name).read_bytes()
        if name in downloaded:
            assert hashlib.sha256(data).hexdigest() == v2_cache.package(name).sha256, name
    assert temp_files(dest) == []

    code, _, err = run(capsys, "export", "*", "--cache-dir", str(cache), "-d", str(dest))
    assert (code, err) == (0, "")
    assert downloaded <= {p.name for p in dest.iterdir()}
    assert temp_files(dest) == []


def test_export_disk_full_in_the_kernel_copy_reports_the_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    """The one line names the file and DIR; the JSON says the same in ``error``."""
    disk = Disk("copy_file_range", 0)
    dest = tmp_path / "out"
    with monkeypatch.context() as patch:
        disk.install(patch)
        code, _, err = run(
            capsys, "export", "*", "--cache-dir", str(v2_cache.path), "-d", str(dest)
        )
    assert code == 1
    first = sorted(
        {u.rsplit("/", 1)[1] for u in v2_cache.fetched_urls(kinds=["file"])}
        | {"sdist_only-0.5-py3-none-any.whl"}
    )[0]
    assert err == (
        f"error: could not write {first} to {dest}: No space left on device; "
        "the partial file was removed\n"
    )
    assert list(dest.iterdir()) == []
