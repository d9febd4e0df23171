"""prune: debris older than an hour, unused entries, LRU down to a size; pip keeps working."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.actions.prune import (
    DEBRIS_GRACE,
    EmptyDir,
    PruneOptions,
    PrunePlan,
    apply_prune,
    empty_dirs_now,
    plan_prune,
)
from pip_cache_plus.cache import Cache
from pip_cache_plus.cli.app import main
from pip_cache_plus.fs.fsio import open_quietly
from pip_cache_plus.inventory.entries import PROBLEM_LINK, PROBLEM_TMP, walk
from pip_cache_plus.model import CacheEntry, FileStat, Kind, RawEntry, Source, invalid
from realpip import BuiltCache, IndexServer, PipRunner

HOUR = 3600.0
DAY = 86400.0


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def prune(
    capsys: pytest.CaptureFixture[str], cache: Path, *args: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["prune", "--cache-dir", str(cache), "--format", "json", *args])
    out, err = capsys.readouterr()
    data: dict[str, Any] = json.loads(out)
    assert data["version"] == 1
    return code, data, err


def all_paths(root: Path) -> list[Path]:
    """Every file, link and directory under ``root`` (links not followed)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        found += [Path(dirpath, n) for n in (*dirnames, *filenames)]
    return sorted(found)


def set_times(paths: Iterable[Path], atime: float, mtime: float | None = None) -> None:
    for path in paths:
        os.utime(path, (atime, atime if mtime is None else mtime), follow_symlinks=False)


def state(root: Path) -> dict[str, tuple[bytes | str | None, float, float]]:
    """Contents and times of everything under ``root`` (read without touching atimes; a
    directory's atime changes whenever it is listed, so it is left out)."""
    out: dict[str, tuple[bytes | str | None, float, float]] = {}
    for path in all_paths(root):
        st = path.lstat()
        atime = st.st_atime
        if path.is_symlink():
            data: bytes | str | None = os.readlink(path)
        elif path.is_file():
            with open_quietly(path) as fp:
                data = fp.read()
        else:
            data, atime = None, 0.0
        out[str(path.relative_to(root))] = (data, st.st_mtime, atime)
    return out


def main_paths(data: dict[str, Any]) -> set[str]:
    """The main file (metadata, legacy file, .whl) of each removed entry."""
    return {e["path"] for e in data["removed"]}


def removed_paths(data: dict[str, Any], part: str = "removed") -> set[str]:
    """Every file of the entries JSON lists under ``part``."""
    paths = {e["path"] for e in data[part]}
    return paths | {e["body_path"] for e in data[part] if e["body_path"] is not None}


def key_dir(root: Path, source: str, key: str) -> Path:
    path = root.joinpath(source, *key[:5])
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_debris(root: Path, tag: str, mtime: float) -> list[Path]:
    """One of each kind of leftover, all last modified at ``mtime``; returns their paths."""
    key = hashlib.sha224(f"https://debris.invalid/{tag}".encode()).hexdigest()
    other = hashlib.sha224(f"https://debris.invalid/{tag}/other".encode()).hexdigest()
    broken = hashlib.sha224(f"https://debris.invalid/{tag}/broken".encode()).hexdigest()
    v2 = key_dir(root, "http-v2", key)
    files = {
        v2 / key: b"cc=4,\x82",  # metadata without its body (and unparsable anyway)
        key_dir(root, "http-v2", other) / f"{other}.body": b"body without metadata",
        key_dir(root, "http-v2", broken) / broken: b"cc=4,not msgpack",
        key_dir(root, "http-v2", broken) / f"{broken}.body": b"its body",
        v2 / f"{key}k3j4h5g6.tmp": b"a write pip never finished",
        v2 / f"notes-{tag}.txt": b"not pip's",
        key_dir(root, "http", key) / key: b"cc=4,\x82\xa8response",  # truncated legacy entry
        key_dir(root, "http", other) / f"{other}.body": b"pip < 23.3 never wrote this",
        root / "wheels" / tag[:2] / f"{tag}-lone" / "origin.json": b"{}",
        root / "wheels" / tag[:2] / f"{tag}-tmp" / "x-1.0-py3-none-any.whl.tmp": b"half",
        root / "wheels" / tag[:2] / f"{tag}-foreign" / "README": b"not pip's",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    empty = root / "http-v2" / "e" / f"empty-{tag}" / "deeper"
    empty.mkdir(parents=True)
    made = [*files, empty, empty.parent]
    set_times(made, mtime)
    return list(files)


@pytest.mark.parametrize("which", ["legacy", "v2"])
def test_prune_removes_exactly_the_debris_older_than_an_hour(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    which: str,
    tmp_path: Path,
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{which}_cache")
    root = cache.path
    set_times(all_paths(root), time.time() - 30 * DAY)  # valid entries: old, and kept
    pip_files = state(root)
    old = make_debris(root, "old", time.time() - 2 * HOUR)
    fresh = make_debris(root, "fresh", time.time() - 50 * 60)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    link = key_dir(root, "http-v2", "f" * 56) / "link"
    link.symlink_to(outside)
    set_times([link], time.time() - 2 * DAY)

    code, data, err = prune(capsys, root)
    assert code == 0, err
    assert removed_paths(data) == {str(p) for p in old}
    assert {e["reason"] for e in data["removed"]} == {"debris"}
    assert all(not p.exists() for p in old)
    assert all(p.exists() for p in fresh)
    assert not (root / "http-v2" / "e" / "empty-old").exists()
    assert (root / "http-v2" / "e" / "empty-fresh" / "deeper").is_dir()
    assert link.is_symlink() and (outside / "precious.txt").read_text() == "keep me"
    assert [(k["path"], k["reason"]) for k in data["kept"] if k["reason"] == "link"] == [
        (str(link), "link")
    ]
    recent = {k["path"] for k in data["kept"] if k["reason"] == "recent"}
    recent |= {k["body_path"] for k in data["kept"] if k["body_path"] is not None}
    assert recent == {str(p) for p in fresh}
    after = state(root)
    for rel, (content, mtime, atime) in pip_files.items():
        assert rel in after, f"{rel} of pip's went"
        if content is not None:
            assert after[rel] == (content, mtime, atime), f"{rel} changed"
    assert data["size_after"] == sum(raw.size for raw in walk(root))
    assert data["size_before"] - data["size_after"] == data["bytes"] > 0


def test_a_source_dir_that_is_a_link_is_left_alone(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    root = v2_cache.path
    elsewhere = tmp_path / "elsewhere"
    (root / "wheels").rename(elsewhere)
    (root / "wheels").symlink_to(elsewhere)
    (elsewhere / "junk.tmp").write_bytes(b"old debris, but behind a link")
    set_times([elsewhere / "junk.tmp"], time.time() - 2 * HOUR)
    before = state(elsewhere)

    code, data, err = prune(capsys, root, "--max-size", "1")
    assert code == 0, err
    assert {e["source"] for e in data["removed"]} == {"http-v2"}
    under = {(k["source"], k["reason"]) for k in data["kept"]}
    assert under == {("wheels", "under-link")}
    assert state(elsewhere) == before
    assert data["target_reached"] is False


def test_older_than_uses_the_newest_of_atime_and_mtime(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    root = v2_cache.path
    now = time.time()
    set_times(all_paths(root), now - 60 * DAY)
    entries = list(Cache(root, index_urls=[v2_cache.index_url]).entries())
    read_lately = [e for e in entries if e.project == "dotted-pkg"]
    rewritten = [e for e in entries if e.project == "mixed-case"]
    set_times((f.path for e in read_lately for f in e.raw.files), now - DAY, now - 60 * DAY)
    set_times((f.path for e in rewritten for f in e.raw.files[:1]), now - 60 * DAY, now - DAY)
    old = [e for e in entries if e not in read_lately and e not in rewritten]
    before = state(root)

    code, data, _ = prune(capsys, root, "--older-than", "30d", "--dry-run")
    assert code == 0
    assert main_paths(data) == {str(e.raw.path) for e in old}
    assert state(root) == before  # reading did not touch a single atime

    code, data, _ = prune(capsys, root, "--older-than", "30d", "--kind", "wheel,sdist")
    assert code == 0
    gone = {str(e.raw.path) for e in old if e.kind in ("wheel", "sdist")}
    assert main_paths(data) == gone
    assert {e["reason"] for e in data["removed"]} == {"unused"}
    assert "wheels" in {e["source"] for e in data["removed"]}
    for entry in entries:
        assert all(f.path.exists() != (str(entry.raw.path) in gone) for f in entry.raw.files)


def test_max_size_evicts_least_recently_used_built_wheels_last(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    root = v2_cache.path
    base = time.time() - 10 * DAY
    entries = sorted(
        Cache(root, index_urls=[v2_cache.index_url]).entries(), key=lambda e: str(e.raw.path)
    )
    for i, entry in enumerate(entries):
        set_times((f.path for f in entry.raw.files), base + i * 100)
    (built,) = [e for e in entries if e.source == "wheels"]
    (sdist,) = [e for e in entries if e.filename == "sdist_only-0.5.tar.gz"]
    for entry in (built, sdist):  # the oldest two, of exactly the same age
        set_times((f.path for f in entry.raw.files), base - 1000)
    rest = [e for e in entries if e not in (built, sdist)]  # already in LRU order
    total = sum(e.raw.size for e in entries)

    code, data, _ = prune(capsys, root, "--max-size", str(total - sdist.raw.size), "--dry-run")
    assert code == 0
    assert [e["path"] for e in data["removed"]] == [str(sdist.raw.path)]
    assert data["size_before"] == total
    assert data["target_reached"] is True

    limit = total - sdist.raw.size - built.raw.size - 1
    code, data, _ = prune(capsys, root, "--max-size", f"{limit}B")
    assert code == 0
    expected = [sdist, built, rest[0]]
    assert [e["path"] for e in data["removed"]] == [str(e.raw.path) for e in expected]
    assert {e["reason"] for e in data["removed"]} == {"size"}
    assert sum(raw.size for raw in walk(root)) == data["size_after"] <= limit
    assert not any(f.path.exists() for e in expected for f in e.raw.files)
    assert all(f.path.exists() for e in rest[1:] for f in e.raw.files)
    assert not (root / "wheels").exists() or not any((root / "wheels").iterdir())


def test_dry_run_changes_nothing(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    root = mixed_cache.path
    make_debris(root, "old", time.time() - 2 * HOUR)
    before = state(root)
    code, data, _ = prune(capsys, root, "--older-than", "0s", "--max-size", "0", "--dry-run")
    assert code == 0
    assert data["dry_run"] is True
    assert data["removed"] and data["files"] > 0 and data["size_after"] == 0
    assert state(root) == before
    assert main(["prune", "--cache-dir", str(root), "--dry-run", "--max-size", "1kB"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Would remove:\n")
    assert "Files that would be removed:" in out and "Cache size:" in out
    assert "Directories that would be removed: " in out
    assert state(root) == before


@pytest.mark.realpip
def test_dry_run_reports_what_the_real_run_then_removes(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, tmp_path: Path
) -> None:
    """Directories too: those the removed entries leave empty, not only the empty ones."""
    root, twin = mixed_cache.path, tmp_path / "twin"
    shutil.copytree(root, twin, symlinks=True)
    now = time.time()
    for tree in (root, twin):  # the same ages in both (copying read, so set them after)
        set_times(all_paths(tree), now - 60 * DAY)
        cache = Cache(tree, index_urls=[mixed_cache.index_url])
        recent = [f.path for e in cache.entries() if e.project == "dotted-pkg" for f in e.raw.files]
        set_times(recent, now - DAY)
        make_debris(tree, "old", now - 2 * HOUR)
        make_debris(tree, "new", now - 60)  # its empty directories are too young to go

    code, dry, _ = prune(capsys, root, "--older-than", "30d", "--dry-run")
    assert code == 0
    code, real, _ = prune(capsys, twin, "--older-than", "30d")
    assert code == 0
    assert not real["changed"] and not real["failed"]
    counted = ("files", "bytes", "directories", "size_before", "size_after")
    assert {k: dry[k] for k in counted} == {k: real[k] for k in counted}
    # More than the empty directories alone: the key directories of removed entries.
    assert real["directories"] > 2 * 2
    assert (twin / "http-v2" / "e" / "empty-new" / "deeper").is_dir()


def test_pip_still_works_after_prune(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    pip_current: PipRunner,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    root = v2_cache.path
    now = time.time()
    set_times(all_paths(root), now - DAY)
    entries = Cache(root, index_urls=[v2_cache.index_url]).entries()
    stale = [f.path for e in entries if e.project == "tiny-pure" for f in e.raw.files]
    set_times(stale, now - 90 * DAY)
    make_debris(root, "old", now - 2 * HOUR)
    code, data, _ = prune(capsys, root, "--older-than", "30d")
    assert code == 0
    assert {e["project"] for e in data["removed"] if e["reason"] == "unused"} == {"tiny-pure"}

    mark = index_server.mark()
    pip_current.download("--no-deps", "tiny_pure==1.0", dest=tmp_path / "a", cache_dir=root)
    files = [r.filename for r in index_server.requests(since=mark) if r.kind == "file"]
    assert files == ["tiny_pure-1.0-py3-none-any.whl"]  # pruned: downloaded again

    mark = index_server.mark()
    result = pip_current.download("--no-deps", "dotted.pkg", dest=tmp_path / "b", cache_dir=root)
    assert [r for r in index_server.requests(since=mark) if r.kind == "file"] == []  # cached
    assert (tmp_path / "b" / "dotted_pkg-2.0-py3-none-any.whl").is_file(), result.stdout


def test_prune_waits_for_the_lock_but_dry_run_does_not(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    debris = make_debris(root, "old", time.time() - 2 * HOUR)
    script = (
        "import sys, time; from filelock import FileLock\n"
        "with FileLock(sys.argv[1]):\n"
        "    print('locked', flush=True); time.sleep(1.5)\n"
    )
    lock = str(root / ".pip_cache_plus.fs.lock")
    with subprocess.Popen([sys.executable, "-c", script, lock], stdout=subprocess.PIPE) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        assert main(["prune", "--cache-dir", str(root), "--dry-run"]) == 0
        assert "Waiting" not in capsys.readouterr().err
        assert main(["prune", "--cache-dir", str(root)]) == 0
        err = capsys.readouterr().err
        assert "Waiting for another pip_cache_plus command to finish" in err
    assert not any(p.exists() for p in debris)


def _planned_with_target(v2_cache: BuiltCache) -> tuple[Path, PrunePlan, CacheEntry]:
    """A plan evicting every entry (all unused for 60 days), and one http-v2 entry of it."""
    root = v2_cache.path
    cache = Cache(root, index_urls=[v2_cache.index_url])
    set_times(all_paths(root), time.time() - 60 * DAY)
    options = PruneOptions(unused_since=time.time() - DAY)
    plan = plan_prune(cache.entries(), [], time.time(), options)
    target = next(e.entry for e in plan.evictions if e.entry.raw.body_path is not None)
    return root, plan, target


def test_an_entry_changed_after_planning_stays(v2_cache: BuiltCache) -> None:
    root, plan, target = _planned_with_target(v2_cache)
    target.raw.path.write_bytes(target.raw.path.read_bytes())  # a pip revalidated it
    result = apply_prune(root, plan, dry_run=False)
    assert [c.entry for c in result.changed] == [target]
    assert all(f.path.exists() for f in target.raw.files)
    assert len(result.removal.entries) == len(plan.evictions) - 1


def test_an_entry_whose_directory_became_a_file_is_an_error_not_a_traceback(
    v2_cache: BuiltCache,
) -> None:
    root, plan, target = _planned_with_target(v2_cache)
    directory = target.raw.path.parent
    directory.rename(directory.with_name("moved"))
    directory.write_bytes(b"a file where the entry's directory was")
    result = apply_prune(root, plan, dry_run=False)  # raised NotADirectoryError
    assert [f.entry for f in result.failed] == [target]
    assert len(result.removal.errors) == 1 and str(directory) in result.removal.errors[0]
    assert len(result.removal.entries) == len(plan.evictions) - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--older-than", "soon"], "bad age 'soon'", id="age"),
        pytest.param(["--max-size", "big"], "bad size 'big'", id="size"),
        pytest.param(["--kind", "wheels"], "bad kind", id="kind"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["prune", "--cache-dir", str(tmp_path), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_the_walk_finds_empty_dirs_but_not_the_source_dirs_nor_behind_links(
    tmp_path: Path,
) -> None:
    (tmp_path / "http-v2" / "a" / "b").mkdir(parents=True)
    (tmp_path / "wheels" / "d").mkdir(parents=True)
    (tmp_path / "http" / "c").mkdir(parents=True)
    (tmp_path / "http" / "c" / "link").symlink_to(tmp_path / "wheels")
    (tmp_path / "elsewhere" / "e").mkdir(parents=True)
    (tmp_path / "http" / "f").symlink_to(tmp_path / "elsewhere")
    empty: list[str] = []
    list(walk(tmp_path, on_empty_dir=empty.append))
    found = {d.path for d in empty_dirs_now(empty)}
    assert found == {tmp_path / "http-v2" / "a" / "b", tmp_path / "wheels" / "d"}


# -- the plan alone (pure) -----------------------------------------------------------------

NOW = 2_000_000_000.0


def entry(
    name: str,
    *,
    used: float,
    source: Source = "http-v2",
    kind: Kind = "wheel",
    size: int = 100,
    problem: str | None = None,
) -> CacheEntry:
    stat = FileStat(str(Path("/c", source, name)), size, used, used)
    raw = RawEntry(source, (stat,), problem=problem)
    if problem is not None:
        return invalid(raw, problem)
    return CacheEntry(raw, kind, name, "1", name)


def names(plan_entries: Iterable[Any]) -> list[str]:
    return [e.entry.raw.path.name for e in plan_entries]


def test_plan_lru_breaks_ties_http_then_http_v2_then_built_wheels() -> None:
    entries = [
        entry("wheel", used=NOW - 10 * DAY, source="wheels"),
        entry("v2", used=NOW - 10 * DAY + 0.5, source="http-v2"),
        entry("legacy", used=NOW - 10 * DAY, source="http"),
        entry("older", used=NOW - 11 * DAY, source="wheels"),
        entry("newer", used=NOW - DAY, source="http-v2"),
    ]
    plan = plan_prune(entries, [], NOW, PruneOptions(max_size=100))
    assert names(plan.evictions) == ["older", "legacy", "v2", "wheel"]
    assert plan.size_after == 100


@pytest.mark.parametrize(
    ("age", "removed"),
    [
        pytest.param(DEBRIS_GRACE + 1, True, id="older-than-an-hour"),
        pytest.param(DEBRIS_GRACE, False, id="exactly-an-hour"),
        pytest.param(60.0, False, id="a-minute"),
        pytest.param(-60.0, False, id="in-the-future"),
    ],
)
def test_plan_debris_grace(age: float, removed: bool) -> None:
    debris = entry("x.tmp", used=NOW - age, problem=PROBLEM_TMP)
    empty = EmptyDir(Path("/c/http-v2/e"), NOW - age)
    plan = plan_prune([debris], [empty], NOW, PruneOptions())
    assert bool(plan.evictions) is removed
    assert bool(plan.empty_dirs) is removed
    assert [k.reason for k in plan.kept] == ([] if removed else ["recent"])


def test_plan_kinds_limit_age_and_size_but_debris_always_goes() -> None:
    entries = [
        entry("page", used=NOW - 90 * DAY, kind="index"),
        entry("whl", used=NOW - 90 * DAY, kind="wheel"),
        entry("junk", used=NOW - 90 * DAY, problem=PROBLEM_TMP),
        entry("link", used=NOW - 90 * DAY, problem=PROBLEM_LINK),
        entry("locked", used=NOW - 90 * DAY, problem="cannot be read (Permission denied)"),
    ]
    options = PruneOptions(unused_since=NOW - DAY, max_size=0, kinds=frozenset({"index"}))
    plan = plan_prune(entries, [], NOW, options)
    assert [(e.entry.raw.path.name, e.reason) for e in plan.evictions] == [
        ("junk", "debris"),
        ("page", "unused"),
    ]
    assert [(k.entry.raw.path.name, k.reason) for k in plan.kept] == [
        ("link", "link"),
        ("locked", "unreadable"),
    ]
    assert plan.size_before == 500
    assert plan.size_after == 300  # over max_size: what is left may not be taken


def test_plan_lists_in_an_order_of_its_own_not_the_walks() -> None:
    """Debris by path, then what --older-than takes, least recently used first: the same
    listing whatever order the file system walked the entries in."""
    entries = [
        entry("b.tmp", used=NOW - 2 * DAY, problem=PROBLEM_TMP),
        entry("new", used=NOW - 40 * DAY),
        entry("a.tmp", used=NOW - 2 * DAY, problem=PROBLEM_TMP),
        entry("old", used=NOW - 90 * DAY),
        entry("mid", used=NOW - 60 * DAY, source="wheels"),
    ]
    options = PruneOptions(unused_since=NOW - 30 * DAY)
    for walked in (entries, entries[::-1]):
        plan = plan_prune(walked, [], NOW, options)
        assert names(plan.evictions) == ["a.tmp", "b.tmp", "old", "mid", "new"]
