"""shards.py: the walk and first pass split over two processes give what one process gives.

Every test lists a cache real pips wrote (plus entries pip cannot use, so the child sends
invalid entries too) with the parallel path forced (``PIP_CACHE_PLUS_PARALLEL=1``) and
with it off, and compares the JSON text byte for byte.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.inventory import memo, shards
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")

_LOW_KEY = "0" * 56
_HIGH_KEY = "f" * 56


def _entry_dir(cache: Path, key: str) -> Path:
    return cache.joinpath("http-v2", *key[:5])


def _add_debris(cache: Path) -> None:
    """Entries pip cannot use, at both ends of the top-level names (so in both halves)."""
    for key in (_LOW_KEY, _HIGH_KEY):
        where = _entry_dir(cache, key)
        where.mkdir(parents=True, exist_ok=True)
        (where / key).write_bytes(b"not msgpack")  # metadata pip cannot read
        (where / (key + ".body")).write_bytes(b"x")
        (where / "leftover.tmp").write_bytes(b"")
    (_entry_dir(cache, _HIGH_KEY) / ("e" * 56 + ".body")).write_bytes(b"")  # no metadata
    (cache / "http-v2" / "stray.txt").write_bytes(b"")  # after every subdirectory's


def _listing(capsys: pytest.CaptureFixture[str], cache: Path) -> str:
    assert main(["list", "--format", "json", "--cache-dir", str(cache)]) == 0
    out: str = capsys.readouterr().out
    return out


def _spy_results(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What each child's result was (rows, or None when the parent walked its half)."""
    seen: list[Any] = []
    original: Callable[[shards._Child], Any] = shards._Child.result

    def result(self: shards._Child) -> Any:
        rows = original(self)
        seen.append(rows)
        return rows

    monkeypatch.setattr(shards._Child, "result", result)
    return seen


def _both(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cache: Path
) -> tuple[str, str]:
    monkeypatch.setenv(shards.PARALLEL_ENV, "0")
    serial = _listing(capsys, cache)
    monkeypatch.setenv(shards.PARALLEL_ENV, "1")
    parallel = _listing(capsys, cache)
    return serial, parallel


def test_parallel_lists_what_serial_lists(
    mixed_cache: BuiltCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_debris(mixed_cache.path)
    seen = _spy_results(monkeypatch)
    monkeypatch.setenv(memo.MEMO_DIR_ENV, "")  # no memo: every entry read, by both paths
    serial, parallel = _both(capsys, monkeypatch, mixed_cache.path)
    assert parallel == serial
    assert len(seen) == 1 and seen[0]  # the child did send its half
    tags = {row[5] for row in seen[0]}
    assert {shards._HEAD, shards._INVALID} <= tags
    listed = {entry["path"] for entry in json.loads(serial)["entries"]}
    assert any(_HIGH_KEY in path for path in listed) and any(_LOW_KEY in path for path in listed)
    assert any(path.endswith("stray.txt") for path in listed)


def test_parallel_with_the_memo(
    mixed_cache: BuiltCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_debris(mixed_cache.path)
    seen = _spy_results(monkeypatch)
    monkeypatch.setenv(shards.PARALLEL_ENV, "1")
    cold = _listing(capsys, mixed_cache.path)  # writes the memo
    warm = _listing(capsys, mixed_cache.path)  # the child's entries are the memo's
    monkeypatch.setenv(memo.MEMO_DIR_ENV, "")
    monkeypatch.setenv(shards.PARALLEL_ENV, "0")
    assert cold == warm == _listing(capsys, mixed_cache.path)
    assert len(seen) == 2 and shards._HIT in {row[5] for row in seen[1]}


def test_a_failing_child_changes_nothing(
    mixed_cache: BuiltCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_debris(mixed_cache.path)
    seen = _spy_results(monkeypatch)

    def crash(*args: object) -> Any:
        raise OSError("the child fails")  # only the child makes rows

    monkeypatch.setenv(memo.MEMO_DIR_ENV, "")
    monkeypatch.setattr(shards, "_row", crash)
    serial, parallel = _both(capsys, monkeypatch, mixed_cache.path)
    assert parallel == serial
    assert seen == [None]  # the parent walked the child's half


def test_no_fork_changes_nothing(
    mixed_cache: BuiltCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> int:
        raise OSError("fork refused")

    monkeypatch.setenv(memo.MEMO_DIR_ENV, "")
    monkeypatch.setattr(os, "fork", refuse)
    serial, parallel = _both(capsys, monkeypatch, mixed_cache.path)
    assert parallel == serial


def test_small_caches_stay_in_one_process(
    v2_cache: BuiltCache, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _add_debris(v2_cache.path)  # two halves, but a few entries
    seen = _spy_results(monkeypatch)
    monkeypatch.delenv(shards.PARALLEL_ENV, raising=False)
    _listing(capsys, v2_cache.path)
    assert seen == []


def test_rows_hold_plain_values_only() -> None:
    stream = io.BytesIO(pickle.dumps(([Path("x")], "done")))
    with pytest.raises(pickle.UnpicklingError):
        shards._RowsOnly(stream).load()
