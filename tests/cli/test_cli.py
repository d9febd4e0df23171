"""The commands on caches that real pip wrote: list names everything, remove is exact."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cache import Cache
from pip_cache_plus.cli.app import main
from pip_cache_plus.errors import PipCachePlusError
from realpip import BuiltCache, PipRunner

# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def listing(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "list", "--cache-dir", str(cache), "--format", "json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert data["version"] == 1
    assert data["cache_dir"] == str(cache)
    entries: list[dict[str, Any]] = data["entries"]
    return entries


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".pip_cache_plus.fs.lock"
    }


def sha224(url: str) -> str:
    return hashlib.sha224(url.encode()).hexdigest()


def test_list_names_every_http_entry_real_pip_wrote(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache
) -> None:
    entries = listing(capsys, any_cache.path)
    assert all(e["problem"] is None for e in entries), [e for e in entries if e["problem"]]
    by_key: dict[tuple[str, str], dict[str, Any]] = {
        (e["source"], e["key"]): e for e in entries if e["key"]
    }
    sources = {"http" if v.startswith("23.2") else "http-v2" for v in any_cache.pips}
    files = any_cache.fetched_urls(kinds=["file"])
    assert files, "the fixture cache fetched no files"
    for url in files:
        package = any_cache.package(url.rsplit("/", 1)[1])
        for source in sources:
            entry = by_key.get((source, sha224(url)))
            if entry is None:
                continue
            assert (entry["kind"], entry["project"], entry["version"], entry["filename"]) == (
                package.kind,
                package.project,
                package.version,
                package.filename,
            )
            assert entry["url"] == url
            assert entry["size"] > package.size
    found = {e["filename"] for e in entries if e["source"] != "wheels" and e["kind"] != "index"}
    fetched = {url.rsplit("/", 1)[1] for url in any_cache.fetched_urls(kinds=["file", "metadata"])}
    assert fetched <= found


def test_list_identifies_pages_and_metadata(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    entries = listing(capsys, v2_cache.path)
    kinds = {e["kind"] for e in entries}
    assert {"wheel", "sdist", "index"} <= kinds
    pages = [e for e in entries if e["kind"] == "index"]
    assert {p["project"] for p in pages} >= {"tiny-pure", "dotted-pkg"}
    page_urls = set(v2_cache.fetched_urls(kinds=["page"]))
    assert {p["url"] for p in pages} <= page_urls
    for meta in (e for e in entries if e["kind"] == "metadata"):
        assert meta["filename"].endswith(".whl.metadata")
        assert meta["project"] == v2_cache.package(meta["filename"][: -len(".metadata")]).project


def test_list_shows_the_locally_built_wheel_with_its_origin(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache
) -> None:
    built = [e for e in listing(capsys, any_cache.path) if e["source"] == "wheels"]
    assert [(e["project"], e["version"], e["kind"]) for e in built] == [
        ("sdist-only", "0.5", "wheel")
    ]
    assert built[0]["filename"].startswith("sdist_only-0.5-")
    assert built[0]["url"].endswith("/files/sdist_only-0.5.tar.gz")
    assert built[0]["key"] is None


def test_mixed_cache_lists_both_http_dirs(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    entries = listing(capsys, mixed_cache.path, "tiny_pure==1.0", "--kind", "wheel")
    assert sorted(e["source"] for e in entries) == ["http", "http-v2"]
    legacy = next(e for e in entries if e["source"] == "http")
    assert legacy["body_path"] is None
    v2 = next(e for e in entries if e["source"] == "http-v2")
    assert v2["body_path"] == v2["path"] + ".body"


def test_list_source_kind_and_human_format(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    only_legacy = listing(capsys, mixed_cache.path, "--source", "http")
    assert only_legacy and {e["source"] for e in only_legacy} == {"http"}
    sdists = listing(capsys, mixed_cache.path, "--kind", "sdist")
    assert sdists and {e["kind"] for e in sdists} == {"sdist"}
    code, out, _ = run(capsys, "list", "Mixed_Case", "--cache-dir", str(mixed_cache.path))
    assert code == 0
    assert out.startswith("Cache contents:\n\n")
    assert " - mixed_case-0.2-py3-none-any.whl (" in out
    code, out, _ = run(
        capsys,
        "list",
        "platpkg",
        "--kind",
        "wheel",
        "--format",
        "abspath",
        "--cache-dir",
        str(mixed_cache.path),
    )
    paths = out.split()
    assert paths and all(Path(p).is_file() for p in paths)


def test_reading_does_not_change_last_used(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    old = 1_500_000_000
    for path in v2_cache.path.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))
    entries = listing(capsys, v2_cache.path)
    assert {e["last_used"] for e in entries} == {"2017-07-14T02:40:00Z"}
    assert all(p.stat().st_atime == old for p in v2_cache.path.rglob("*") if p.is_file())


def test_remove_by_name_removes_exactly_that_project(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    before = listing(capsys, mixed_cache.path)
    doomed = [e for e in before if e["project"] == "tiny-pure"]
    assert {e["source"] for e in doomed} == {"http", "http-v2"}
    assert {e["kind"] for e in doomed} >= {"wheel", "sdist", "index"}
    files_before = snapshot(mixed_cache.path)
    code, out, err = run(capsys, "remove", "TINY.pure", "--cache-dir", str(mixed_cache.path))
    assert code == 0, err
    removed_files = {
        str(Path(p).relative_to(mixed_cache.path))
        for e in doomed
        for p in (e["path"], e["body_path"])
        if p
    }
    size = sum(e["size"] for e in doomed)
    assert out.startswith(f"Files removed: {len(removed_files)} (")
    after = snapshot(mixed_cache.path)
    assert set(files_before) - set(after) == removed_files
    assert all(after[name] == files_before[name] for name in after)
    remaining = listing(capsys, mixed_cache.path)
    assert [e for e in remaining if e["project"] == "tiny-pure"] == []
    assert len(remaining) == len(before) - len(doomed)
    assert size > 0


def test_remove_built_wheel_takes_origin_json_and_empty_dirs(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    code, out, _ = run(
        capsys, "remove", "sdist-only", "--source", "wheels", "--cache-dir", str(v2_cache.path)
    )
    assert code == 0
    assert "Files removed: 1 (" in out  # as pip counts: the wheel; its origin.json goes too
    wheels = v2_cache.path / "wheels"
    assert not wheels.exists() or not any(p.is_file() for p in wheels.rglob("*"))
    assert "Directories removed:" in out
    # The downloaded sdist itself is still there.
    assert listing(capsys, v2_cache.path, "sdist-only", "--source", "http-v2")


def test_dry_run_changes_nothing(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    before = snapshot(mixed_cache.path)
    stats = {p: p.stat().st_mtime_ns for p in mixed_cache.path.rglob("*")}
    for args in (
        ["remove", "*"],
        ["remove", "tiny-pure", "--format", "json"],
        ["purge"],
        ["purge", "--legacy"],
    ):
        code, out, _ = run(capsys, *args, "--dry-run", "--cache-dir", str(mixed_cache.path))
        assert code == 0
        assert "would" in out or '"dry_run": true' in out
    assert snapshot(mixed_cache.path) == before
    assert {p: p.stat().st_mtime_ns for p in mixed_cache.path.rglob("*")} == stats


def test_remove_json_reports_what_went(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    code, out, _ = run(
        capsys, "remove", "dotted.pkg==2.0", "--format", "json", "--cache-dir", str(v2_cache.path)
    )
    assert code == 0
    data = json.loads(out)
    assert data["dry_run"] is False
    assert data["files"] == sum(2 for _ in data["entries"])
    assert {e["project"] for e in data["entries"]} == {"dotted-pkg"}
    assert all(not Path(e["path"]).exists() for e in data["entries"])


def test_purge_legacy_removes_only_http(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    (mixed_cache.path / "selfcheck").mkdir(exist_ok=True)
    (mixed_cache.path / "selfcheck" / "x.json").write_text("{}")
    (mixed_cache.path / "mine.txt").write_text("not pip's")
    others = {k: v for k, v in snapshot(mixed_cache.path).items() if not k.startswith("http/")}
    code, out, _ = run(capsys, "purge", "--legacy", "--cache-dir", str(mixed_cache.path))
    assert code == 0
    assert out.startswith("Files removed: ")
    assert not (mixed_cache.path / "http").exists()
    assert snapshot(mixed_cache.path) == others


def test_purge_removes_pips_files_and_nothing_else(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    (mixed_cache.path / "mine.txt").write_text("not pip's")
    code, _, _ = run(capsys, "purge", "--cache-dir", str(mixed_cache.path))
    assert code == 0
    assert snapshot(mixed_cache.path) == {"mine.txt": b"not pip's"}
    assert listing(capsys, mixed_cache.path) == []


@pytest.mark.realpip
def test_pip_still_works_after_remove(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    pip_current: PipRunner,
    index_server: Any,
    tmp_path: Path,
) -> None:
    code, _, _ = run(capsys, "remove", "dotted-pkg", "--cache-dir", str(v2_cache.path))
    assert code == 0
    mark = index_server.mark()
    result = pip_current.download("tiny_pure==1.1", cache_dir=v2_cache.path, dest=tmp_path / "dl")
    assert "dotted_pkg-2.0-py3-none-any.whl" in {p.name for p in (tmp_path / "dl").iterdir()}
    fetched = [r.filename for r in index_server.requests(since=mark) if r.kind == "file"]
    assert fetched == ["dotted_pkg-2.0-py3-none-any.whl"], result


@pytest.mark.parametrize("fails", [False, True])
def test_the_cycle_collector_is_off_during_a_command_and_back_after(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    fails: bool,
) -> None:
    """Off while a command holds every entry (it would walk them over and over to free
    nothing), back on afterwards: callers and tests run main in their own process."""
    seen: list[bool] = []
    real = Cache.info

    def info(self: Cache) -> Any:
        seen.append(gc.isenabled())
        if fails:
            raise PipCachePlusError("stopped here")
        return real(self)

    monkeypatch.setattr(Cache, "info", info)
    assert gc.isenabled()
    code, _, err = run(capsys, "info", "--cache-dir", str(v2_cache.path))
    assert (code != 0) == fails, err
    assert seen == [False]
    assert gc.isenabled()


def test_stdout_prints_any_file_name_during_a_command_and_is_restored_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """main makes a strict stdout print undecodable name bytes as they are (see
    test_errors), and gives the caller's stdout back as it was."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", out)
    seen: list[str | None] = []
    real = Cache.info

    def info(self: Cache) -> Any:
        seen.append(out.errors)
        out.write("\udcff\u20ac|")  # a name's byte 0xff; a character utf-8 has
        return real(self)

    monkeypatch.setattr(Cache, "info", info)
    assert main(["info", "--cache-dir", str(tmp_path)]) == 0
    assert seen != ["strict"] and out.errors == "strict"
    out.flush()
    assert out.buffer.getvalue().startswith(b"\xff\xe2\x82\xac|")


@pytest.mark.parametrize(
    ("pattern", "finds"),
    [
        ("sdist*0.5", True),  # a glob across name and version: pip's PATTERN-*.whl
        ("sdist*py3", True),
        ("sdist_only", True),
        ("sdist?only", True),
        ("sdist_only-0.5", True),  # with "-": PATTERN*.whl
        ("*0.5*", True),
        ("sdist*0.6", False),
        ("sdist", False),  # not a prefix match of the name
    ],
)
def test_wheel_patterns_find_what_pip_cache_list_finds(
    capsys: pytest.CaptureFixture[str],
    pip_current: PipRunner,
    mixed_cache: BuiltCache,
    pattern: str,
    finds: bool,
) -> None:
    """`pip cache list PATTERN` sees only wheels/; there, ours must find the same."""
    proc = pip_current.run(
        "cache", "list", pattern, "--format", "abspath", cache_dir=mixed_cache.path
    )
    pips = {line for line in proc.stdout.splitlines() if line.endswith(".whl")}
    argv = ["list", pattern, "--source", "wheels", "--format", "abspath"]
    assert main([*argv, "--cache-dir", str(mixed_cache.path)]) == 0
    ours = {line for line in capsys.readouterr().out.splitlines() if line.endswith(".whl")}
    assert ours == pips
    assert bool(pips) == finds


@pytest.mark.parametrize(
    "command",
    [["remove", "tiny_pure"], ["remove", "*"], ["purge"], ["purge", "--legacy"]],
    ids=lambda c: "-".join(c).replace("*", "all"),
)
def test_removal_dry_run_reports_what_the_real_run_then_does(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, tmp_path: Path, command: list[str]
) -> None:
    """Directories too: those the removed entries leave empty (and for purge, the empty
    ones already there), never those still holding something."""
    root, twin = mixed_cache.path, tmp_path / "twin"
    (root / "http-v2" / "f" / "f" / "empty").mkdir(parents=True)
    (root / "http" / "e" / "empty").mkdir(parents=True)
    shutil.copytree(root, twin, symlinks=True)
    results = []
    for tree, extra in ((root, ["--dry-run"]), (twin, [])):
        code = main([*command, *extra, "--format", "json", "--cache-dir", str(tree)])
        assert code == 0
        results.append(json.loads(capsys.readouterr().out))
    dry, real = results
    counted = ("files", "bytes", "directories")
    assert {k: dry[k] for k in counted} == {k: real[k] for k in counted}
    assert real["directories"] > 2
    assert [e["path"] for e in dry["entries"]] == [
        e["path"].replace(str(twin), str(root)) for e in real["entries"]
    ]


def test_ctrl_c_before_the_command_runs_is_one_line_exit_130(tmp_path: Path) -> None:
    """While modules load or arguments are parsed, main's own handler is not there yet."""
    script = (
        "import runpy, pip_cache_plus.cli.app as cli\n"
        "def interrupted(*args, **kwargs):\n"
        "    raise KeyboardInterrupt\n"
        "cli.build_parser = interrupted\n"
        "runpy.run_module('pip_cache_plus', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "--cache-dir", str(tmp_path), "info"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "Interrupted.\n", "")


def test_files_someone_else_removed_first_are_not_counted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, v2_cache: BuiltCache
) -> None:
    """Between the walk and the deletion another cleaner (or pip cache purge) removed a
    file: the removal does not report it as its own."""
    cache = Cache(v2_cache.path)
    entries = [e for e in cache.entries() if e.kind == "wheel"]
    real = Cache.select

    def select_then_race(self: Cache, *args: Any, **kwargs: Any) -> Any:
        chosen = real(self, *args, **kwargs)
        os.unlink(entries[0].raw.files[1].where)  # the first wheel's body goes meanwhile
        return chosen

    monkeypatch.setattr(Cache, "select", select_then_race)
    code = main(
        ["remove", "*", "--kind", "wheel", "--format", "json", "--cache-dir", str(cache.path)]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["errors"] == []
    files = sum(len(e.raw.files) for e in entries)
    assert data["files"] == files - 1
    assert data["bytes"] == sum(e.raw.size for e in entries) - entries[0].raw.files[1].size
