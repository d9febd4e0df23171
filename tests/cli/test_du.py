"""du on caches real pip wrote: its figures are the sums of the entries and of their files."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.cli.render import format_size
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def du_json(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "du", "--cache-dir", str(cache), "--format", "json", *args)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    assert data["version"] == 1
    return data


def entries_json(capsys: pytest.CaptureFixture[str], cache: Path) -> list[dict[str, Any]]:
    code, out, err = run(capsys, "list", "--cache-dir", str(cache), "--format", "json")
    assert code == 0, err
    entries: list[dict[str, Any]] = json.loads(out)["entries"]
    return entries


def files_of(entry: dict[str, Any]) -> list[str]:
    return [entry["path"]] + ([entry["body_path"]] if entry["body_path"] else [])


def du_bytes(paths: list[str]) -> int:
    """``du -cb`` (apparent sizes, every hard link counted) of exactly these files."""
    if not paths:
        return 0
    names = "\0".join(paths) + "\0"
    done = subprocess.run(
        ["du", "-cbl", "--files0-from=-"], input=names.encode(), capture_output=True, check=True
    )
    return int(done.stdout.decode().splitlines()[-1].split()[0])


def test_figures_are_the_sums_of_the_entries_and_of_du(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache
) -> None:
    data = du_json(capsys, any_cache.path)
    listed = entries_json(capsys, any_cache.path)
    origin_json = [
        str(p) for p in (any_cache.path / "wheels").rglob("origin.json")
    ]  # a built wheel's second file: list's JSON names only the .whl
    by_project: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for entry in listed:
        by_project[entry["project"]].append(entry)
    rows = {row["project"]: row for row in data["projects"]}
    assert set(rows) == set(by_project)
    assert data["project_count"] == len(by_project)
    for project, entries in by_project.items():
        row = rows[project]
        assert row["entries"] == len(entries)
        assert row["bytes"] == sum(e["size"] for e in entries)
        versions = {e["version"] for e in entries if e["version"]}
        assert sorted(row["version_list"]) == sorted(versions)
        assert row["versions"] == len(versions)
        assert row["last_used"] == max(e["last_used"] for e in entries)
        for kind, tally in row["kinds"].items():
            assert tally["bytes"] == sum(e["size"] for e in entries if e["kind"] == kind)
        for source, tally in row["sources"].items():
            of_source = [e for e in entries if e["source"] == source]
            assert tally == {"entries": len(of_source), "bytes": sum(e["size"] for e in of_source)}
    total = data["total"]
    assert total["entries"] == len(listed) == sum(r["entries"] for r in rows.values())
    assert total["bytes"] == sum(r["bytes"] for r in rows.values())
    # Every file of every entry, as du counts them, and nothing else under the sources.
    every_file = [f for e in listed for f in files_of(e)] + origin_json
    assert total["bytes"] == du_bytes(every_file) > 0
    walked = [
        str(p) for s in ("http", "http-v2", "wheels") for p in (any_cache.path / s).rglob("*")
    ]
    assert sorted(every_file) == sorted(p for p in walked if not os.path.isdir(p))
    go = total["could_go"]
    assert (
        go["redownloadable"]["bytes"] + go["built"]["bytes"] + go["debris"]["bytes"]
        == total["bytes"]
    )
    assert go["built"]["bytes"] == total["sources"]["wheels"]["bytes"]


def test_info_agrees_with_du(capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache) -> None:
    data = du_json(capsys, mixed_cache.path)
    code, out, _ = run(capsys, "info", "--cache-dir", str(mixed_cache.path), "--format", "json")
    assert code == 0
    info = json.loads(out)
    for source, key in (("http-v2", "http_v2"), ("http", "http"), ("wheels", "wheels")):
        tally = data["total"]["sources"][source]
        assert tally == {"entries": info[key]["entries"], "bytes": info[key]["bytes"]}


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        pytest.param("size", lambda r: -r["bytes"], id="size"),
        pytest.param("name", lambda r: (r["project"] is None, r["project"] or ""), id="name"),
        pytest.param("used", lambda r: r["last_used"], id="used"),
    ],
)
def test_sort_and_top(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, sort: str, key: Any
) -> None:
    whole = du_json(capsys, mixed_cache.path, "--sort", sort)
    rows = whole["projects"]
    assert len(rows) > 3
    assert [key(r) for r in rows] == sorted(key(r) for r in rows)
    top = du_json(capsys, mixed_cache.path, "--sort", sort, "--top", "2")
    assert [r["project"] for r in top["projects"]] == [r["project"] for r in rows[:2]]
    assert top["total"] == whole["total"]
    rest = top["rest"]
    assert rest["bytes"] == sum(r["bytes"] for r in rows[2:])
    assert rest["entries"] == sum(r["entries"] for r in rows[2:])
    assert rest["versions"] == sum(r["versions"] for r in rows[2:])


def test_unused_counts_what_prune_older_than_would_remove(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    old = 1_600_000_000  # 2020: long unused
    listed = entries_json(capsys, mixed_cache.path)
    aged = [e for e in listed if e["kind"] == "wheel"]
    for entry in aged:
        for path in [*files_of(entry), str(Path(entry["path"]).with_name("origin.json"))]:
            if os.path.exists(path):  # a built wheel's origin.json counts for its use too
                os.utime(path, (old, old))
    data = du_json(capsys, mixed_cache.path, "--unused-for", "30d")
    assert data["total"]["unused"] == {
        "entries": len(aged),
        "bytes": sum(e["size"] for e in aged),
    }
    code, out, err = run(
        capsys, "prune", "--cache-dir", str(mixed_cache.path), "--older-than", "30d",
        "--dry-run", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    unused = [e for e in json.loads(out)["removed"] if e["reason"] == "unused"]
    assert sum(e["size"] for e in unused) == data["total"]["unused"]["bytes"]


def test_human_table_has_a_total_and_hints_with_the_cache_dir(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    data = du_json(capsys, mixed_cache.path)
    code, out, err = run(
        capsys, "du", "--cache-dir", str(mixed_cache.path), "--top", "3", "--unused-for", "0s"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["PROJECT", "SIZE", "ENTRIES"]
    assert len([line for line in lines[1:] if line.startswith(("(others", "TOTAL"))]) == 2
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert f" {data['total']['entries']} " in total
    assert f"--cache-dir {mixed_cache.path} prune --older-than 0s' removes them" in out
    assert out.count("\n") < 16


def test_pattern_and_filters_narrow_the_summary(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    data = du_json(capsys, mixed_cache.path, "tiny-pure", "--kind", "wheel")
    assert [r["project"] for r in data["projects"]] == ["tiny-pure"]
    assert {k for k, t in data["total"]["kinds"].items() if t["entries"]} == {"wheel"}


def test_every_human_list_ends_with_the_total(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache
) -> None:
    listed = entries_json(capsys, mixed_cache.path)
    code, out, _ = run(capsys, "list", "--cache-dir", str(mixed_cache.path))
    assert code == 0
    size = sum(e["size"] for e in listed)
    assert out.splitlines()[-1] == f"Total: {len(listed)} entries, {format_size(size)}"


@pytest.mark.parametrize("top", ["0", "-1", "x"])
def test_bad_top_is_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path, top: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["du", "--cache-dir", str(tmp_path), "--top", top])
    assert exc.value.code == 2
    assert "--top" in capsys.readouterr().err
