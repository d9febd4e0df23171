"""entries.py: the walk pairs files into entries and names everything else as debris."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pip_cache_plus.inventory.entries import (
    PROBLEM_FOREIGN,
    PROBLEM_LINK,
    PROBLEM_LONE_ORIGIN,
    PROBLEM_MISPLACED,
    PROBLEM_NO_BODY,
    PROBLEM_NO_META,
    PROBLEM_TMP,
    walk,
)


def key_of(url: str) -> str:
    return hashlib.sha224(url.encode()).hexdigest()


def place(root: Path, source: str, key: str, suffix: str = "", data: bytes = b"x") -> Path:
    path = root / source / key[0] / key[1] / key[2] / key[3] / key[4] / (key + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def problems(root: Path, *sources: str) -> dict[str, str | None]:
    return {
        str(e.path.relative_to(root)): e.problem
        for e in walk(root, sources or ("http-v2", "http", "wheels"))  # type: ignore[arg-type]
    }


def test_complete_v2_entry_pairs_metadata_and_body(tmp_path: Path) -> None:
    key = key_of("https://h/a.whl")
    meta = place(tmp_path, "http-v2", key, data=b"meta")
    body = place(tmp_path, "http-v2", key, ".body", data=b"body!")
    (entry,) = walk(tmp_path, ("http-v2",))
    assert entry.problem is None
    assert (entry.key, entry.path, entry.body_path) == (key, meta, body)
    assert entry.size == 9
    os.utime(body, (5_000_000, 4_000_000))
    os.utime(meta, (1_000_000, 2_000_000))
    (entry,) = walk(tmp_path, ("http-v2",))
    assert entry.last_used == 5_000_000
    assert entry.mtime == 4_000_000


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        pytest.param([""], PROBLEM_NO_BODY, id="metadata-alone"),
        pytest.param([".body"], PROBLEM_NO_META, id="body-alone"),
        pytest.param([".tmp"], PROBLEM_TMP, id="tmp"),
        pytest.param(["abc123.tmp"], PROBLEM_TMP, id="pip-style-tmp"),
        pytest.param([".orig"], PROBLEM_FOREIGN, id="foreign"),
    ],
)
def test_v2_debris(tmp_path: Path, files: list[str], problem: str) -> None:
    key = key_of("https://h/x")
    for suffix in files:
        place(tmp_path, "http-v2", key, suffix)
    assert list(problems(tmp_path, "http-v2").values()) == [problem]


def test_misplaced_and_foreign_files(tmp_path: Path) -> None:
    key = key_of("https://h/y")
    (tmp_path / "http").mkdir()
    (tmp_path / "http" / key).write_bytes(b"x")
    (tmp_path / "http" / "notes.txt").write_text("mine")
    found = problems(tmp_path, "http")
    assert found == {f"http/{key}": PROBLEM_MISPLACED, "http/notes.txt": PROBLEM_FOREIGN}


def test_links_are_reported_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    key = key_of("https://h/z")
    (outside / "deep" / key).write_bytes(b"secret")
    cache = tmp_path / "cache"
    (cache / "http-v2").mkdir(parents=True)
    (cache / "http-v2" / "a").symlink_to(outside, target_is_directory=True)
    (cache / "http-v2" / "file-link").symlink_to(outside / "deep" / key)
    found = problems(cache, "http-v2")
    assert found == {"http-v2/a": PROBLEM_LINK, "http-v2/file-link": PROBLEM_LINK}


def test_wheels_with_origin_and_debris(tmp_path: Path) -> None:
    one = tmp_path / "wheels" / "aa" / "bb" / "cc" / "dd"
    one.mkdir(parents=True)
    (one / "sdist_only-0.5-py3-none-any.whl").write_bytes(b"PK")
    (one / "origin.json").write_text("{}")
    lone = tmp_path / "wheels" / "ee"
    lone.mkdir()
    (lone / "origin.json").write_text("{}")
    (lone / "junk.txt").write_text("junk")
    entries = list(walk(tmp_path, ("wheels",)))
    assert [(e.path.name, e.problem, len(e.files)) for e in entries] == [
        ("sdist_only-0.5-py3-none-any.whl", None, 2),
        ("junk.txt", PROBLEM_FOREIGN, 1),
        ("origin.json", PROBLEM_LONE_ORIGIN, 1),
    ]


def test_missing_cache_is_empty(tmp_path: Path) -> None:
    assert list(walk(tmp_path / "nope")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
def test_unreadable_directory_is_reported(tmp_path: Path) -> None:
    locked = tmp_path / "http-v2" / "a"
    locked.mkdir(parents=True)
    locked.chmod(0)
    try:
        (entry,) = walk(tmp_path, ("http-v2",))
        assert entry.problem is not None
        assert "cannot be read" in entry.problem
    finally:
        locked.chmod(0o755)


def test_a_linked_source_dir_is_reported_not_walked(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    key = key_of("https://h/w")
    place(elsewhere, "x", key)
    place(elsewhere, "x", key, ".body")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "http-v2").symlink_to(elsewhere / "x", target_is_directory=True)
    assert problems(cache, "http-v2") == {"http-v2": PROBLEM_LINK}
