"""Honest context on real pip caches: a missing cache dir is said, hints reach the cache
the user gave, prune's sizes say what was freed, built wheels of one name are told apart."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from pathlib import Path

import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.cli.render import format_size
from pip_cache_plus.cli.render.changes import _size_line
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["list", "du", "info", "verify", "prune"])
def test_a_missing_cache_dir_is_said_on_stderr_and_is_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "no-such-cache"
    code, out, err = run(capsys, command, "--cache-dir", str(missing), "--format", "json")
    assert code == 0, err
    json.loads(out)  # stdout stays JSON: the note goes to stderr
    assert err == f"Note: the cache dir {missing} does not exist; treated as empty.\n"
    assert not missing.exists()  # nothing made it


def test_an_existing_cache_dir_gets_no_note(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    code, _, err = run(capsys, "list", "--cache-dir", str(v2_cache.path))
    assert code == 0 and "does not exist" not in err


def test_info_hints_carry_the_cache_dir_and_work_when_pasted(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    code, out, _ = run(capsys, "info", "--cache-dir", str(legacy_cache.path))
    assert code == 0
    note = next(line for line in out.splitlines() if line.startswith("Note:"))
    hints = [part.split("'")[1] for part in note.split(", ")]
    prefix = f"python -m pip_cache_plus --cache-dir {shlex.quote(str(legacy_cache.path))}"
    assert hints == [f"{prefix} migrate", f"{prefix} purge --legacy"]
    # Pasted (as a dry run), the hint acts on this cache, not the default one.
    words = shlex.split(hints[1])[3:]
    code, out, _ = run(capsys, *words, "--dry-run", "--format", "json")
    assert code == 0
    removal = json.loads(out)
    assert removal["cache_dir"] == str(legacy_cache.path) and removal["files"] > 0


def test_prune_sizes_say_exactly_what_was_freed(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    listed = json.loads(
        run(capsys, "list", "--cache-dir", str(v2_cache.path), "--format", "json")[1]
    )
    small = min((e for e in listed["entries"] if e["source"] == "http-v2"), key=lambda e: e["size"])
    old = time.time() - 90 * 86400
    for path in (small["path"], small["body_path"]):
        os.utime(path, (old, old))
    args = ("prune", "--cache-dir", str(v2_cache.path), "--older-than", "30d")
    data = json.loads(run(capsys, *args, "--dry-run", "--format", "json")[1])
    freed = data["size_before"] - data["size_after"]
    assert freed == small["size"] > 0
    code, out, _ = run(capsys, *args)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("Cache size:"))
    assert line == _size_line(data["size_before"], data["size_after"], dry_run=False)
    assert line.endswith(f"({format_size(freed)} freed)")
    before, after = line.removeprefix("Cache size: ").split(" (")[0].split(", ")
    assert before.removesuffix(" before") != after.removesuffix(" after")


def test_size_line_falls_back_to_bytes_when_rounding_hides_the_change() -> None:
    assert _size_line(2_712_345, 2_642_000, dry_run=False) == (
        "Cache size: 2.7 MB before, 2.6 MB after (70 kB freed)"
    )
    assert _size_line(2_712_345, 2_700_000, dry_run=False) == (
        "Cache size: 2,712,345 bytes before, 2,700,000 bytes after (12 kB freed)"
    )
    assert _size_line(5000, 5000, dry_run=True) == (
        "Cache size: 5.0 kB now, 5.0 kB after pruning (0 bytes to be freed)"
    )


def test_built_wheels_of_one_name_are_told_apart(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    # pip builds one sdist into a directory per link: the same wheel from a second URL.
    built = next((v2_cache.path / "wheels").rglob("sdist_only-0.5-*.whl")).parent
    twin = v2_cache.path / "wheels" / "00" / "11" / "22" / "33"
    shutil.copytree(built, twin)
    code, out, _ = run(capsys, "list", "--cache-dir", str(v2_cache.path), "sdist_only")
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith(" - sdist_only-0.5-")]
    assert len(lines) == 2 and len(set(lines)) == 2
    where = sorted(line.rsplit(" in ", 1)[1] for line in lines)
    assert where == sorted(f"{p.relative_to(v2_cache.path)}/" for p in (built, twin))
    # One of a name keeps its plain line.
    code, out, _ = run(capsys, "list", "--cache-dir", str(v2_cache.path), "tiny_pure")
    assert " in wheels/" not in out and " in http" not in out
