"""``CacheRoot``, through which every deletion goes: never outside the cache, never
through a link, whatever path it is handed (``str`` or ``Path``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.errors import UnsafePathError
from pip_cache_plus.fs.root import CacheRoot, Rewritten


def _file(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.mark.parametrize("as_str", [False, True])
def test_unlink_inside_frees_the_bytes(cache: Path, as_str: bool) -> None:
    target = _file(cache / "http-v2" / "a" / "b" / "k", b"12345")
    assert CacheRoot(cache).unlink(str(target) if as_str else target) == 5
    assert not target.exists()
    assert CacheRoot(cache).unlink(target) is None  # gone already: nothing to count, no error


def test_unlink_leaves_a_file_written_again_since_the_walk(cache: Path) -> None:
    target = _file(cache / "http-v2" / "a" / "b" / "k", b"12345")
    seen = target.stat()
    os.utime(target, (seen.st_atime, seen.st_mtime + 1))  # a pip wrote it again, same size
    with pytest.raises(Rewritten):
        CacheRoot(cache).unlink(target, expect=(seen.st_size, seen.st_mtime))
    _file(target, b"123456")  # and once more, now bigger
    with pytest.raises(Rewritten):
        CacheRoot(cache).unlink(target, expect=(5, target.stat().st_mtime))
    assert target.read_bytes() == b"123456"
    now = target.stat()
    assert CacheRoot(cache).unlink(target, expect=(now.st_size, now.st_mtime)) == 6
    assert CacheRoot(cache).unlink(target, expect=(6, now.st_mtime)) is None  # gone: no error
    target.mkdir()  # something else took its place: not the file the walk saw either
    with pytest.raises(Rewritten):
        CacheRoot(cache).unlink(target, expect=(now.st_size, now.st_mtime))
    assert target.is_dir()


@pytest.mark.parametrize(
    "where",
    [
        lambda c: c.parent / "outside",  # beside the cache
        lambda c: c.parent / "cache-sibling" / "f",  # shares the cache dir's name as prefix
        lambda c: c / "http-v2" / ".." / ".." / "outside",  # climbs out
        lambda c: c,  # the cache dir itself
    ],
)
def test_refuses_anything_not_strictly_inside(cache: Path, where: Callable[[Path], Path]) -> None:
    _file(cache / "http-v2" / "keep")
    target = where(cache)
    if target != cache:
        _file(Path(os.path.normpath(target)))
    with pytest.raises(UnsafePathError):
        CacheRoot(cache).unlink(target)
    assert Path(os.path.normpath(target)).exists()


def test_refuses_through_a_directory_swapped_for_a_link(cache: Path, tmp_path: Path) -> None:
    outside = _file(tmp_path / "elsewhere" / "k")
    inside = _file(cache / "http-v2" / "a" / "k")
    root = CacheRoot(cache)
    assert root.unlink(inside) == 1  # the way is checked, and remembered
    assert root.rmdir_if_empty(inside.parent)  # a removed directory is forgotten...
    (cache / "http-v2" / "a").symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="link out of place"):
        root.unlink(cache / "http-v2" / "a" / "k")  # ...so its replacement is checked
    assert outside.exists()


def test_rmdir_if_empty_only_removes_empty_real_directories(cache: Path, tmp_path: Path) -> None:
    full = _file(cache / "wheels" / "full" / "f").parent
    (cache / "wheels" / "empty").mkdir()
    (tmp_path / "target").mkdir()
    (cache / "wheels" / "link").symlink_to(tmp_path / "target", target_is_directory=True)
    root = CacheRoot(cache)
    assert not root.rmdir_if_empty(full)
    assert root.rmdir_if_empty(str(cache / "wheels" / "empty"))
    assert not root.rmdir_if_empty(cache / "wheels" / "link")
    assert full.is_dir() and (cache / "wheels" / "link").is_symlink()
    assert (tmp_path / "target").is_dir()


def test_prune_empty_dirs_climbs_to_but_not_past_stop(cache: Path) -> None:
    stop = cache / "http-v2"
    deep = stop / "a" / "b" / "c"
    deep.mkdir(parents=True)
    kept = _file(stop / "x" / "y" / "k").parent
    (stop / "x" / "z").mkdir()
    other = cache / "http" / "q"
    other.mkdir(parents=True)
    root = CacheRoot(cache)
    removed = root.prune_empty_dirs([deep, str(stop / "x" / "z"), other, stop], stop)
    assert removed == 4  # c, b, a, then z: x still holds y
    assert sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*")) == [
        "http",
        "http-v2",
        "http-v2/x",
        "http-v2/x/y",
        "http-v2/x/y/k",
        "http/q",  # not below stop
    ]
    assert kept.is_dir()


def test_makedirs_makes_the_missing_levels_and_says_if_it_made_the_last(cache: Path) -> None:
    cache.mkdir()
    root = CacheRoot(cache)
    leaf = cache / "http-v2" / "a" / "b"
    assert root.makedirs(leaf) is True
    assert leaf.is_dir()
    assert root.makedirs(str(leaf)) is False  # there (and checked) already
    (cache / "http-v2" / "c").mkdir()
    assert CacheRoot(cache).makedirs(cache / "http-v2" / "c") is False  # found, not made


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("kind", ["link", "file"])
def test_makedirs_and_check_dir_refuse_a_link_or_file_on_the_way(
    cache: Path, tmp_path: Path, level: int, kind: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    parts = ["http-v2", "a", "b"]
    blocked = cache.joinpath(*parts[:level])
    blocked.parent.mkdir(parents=True, exist_ok=True)
    if kind == "link":
        blocked.symlink_to(outside, target_is_directory=True)
    else:
        blocked.write_bytes(b"")
    leaf = cache.joinpath(*parts, "c")
    with pytest.raises(UnsafePathError, match="refusing to write under"):
        CacheRoot(cache).check_dir(leaf)
    with pytest.raises(UnsafePathError, match="refusing to write under"):
        CacheRoot(cache).makedirs(leaf)
    assert list(outside.iterdir()) == []  # nothing made through the link


def test_check_dir_accepts_a_way_that_does_not_exist_yet(cache: Path) -> None:
    (cache / "http-v2").mkdir(parents=True)
    CacheRoot(cache).check_dir(cache / "http-v2" / "a" / "b")  # nothing there to follow


def test_makedirs_refuses_outside_the_cache(cache: Path, tmp_path: Path) -> None:
    cache.mkdir()
    with pytest.raises(UnsafePathError):
        CacheRoot(cache).makedirs(tmp_path / "elsewhere" / "x")
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("swapped", ["http-v2/a", "http-v2/a/b"])
@pytest.mark.parametrize("then", ["unlink", "rmdir"])
def test_a_directory_swapped_for_a_link_after_its_check_is_refused(
    cache: Path, tmp_path: Path, swapped: str, then: str
) -> None:
    """The run remembers directories it checked; one replaced by a link to elsewhere
    (another user of a shared cache, mid-run) must not be followed to delete there."""
    first = _file(cache / "http-v2" / "a" / "b" / "c" / "f1")
    _file(cache / "http-v2" / "a" / "b" / "c" / "f2")
    (cache / "http-v2" / "a" / "b" / "c" / "d").mkdir()
    root = CacheRoot(cache)
    assert root.unlink(first) == 1  # checks (and remembers) the way
    victim_top = tmp_path / "elsewhere"
    shutil.copytree(cache / swapped, victim_top)  # the same names, outside the cache
    moved = cache.parent / "moved-away"
    (cache / swapped).rename(moved)
    (cache / swapped).symlink_to(victim_top, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="changed since it was checked"):
        if then == "unlink":
            root.unlink(cache / "http-v2" / "a" / "b" / "c" / "f2")
        else:
            root.rmdir_if_empty(cache / "http-v2" / "a" / "b" / "c" / "d")
    victim = victim_top.joinpath(*Path("http-v2/a/b/c").relative_to(swapped).parts)
    assert (victim / "f2").exists() and (victim / "d").is_dir()


def test_a_missing_directory_is_gone_never_an_operation_by_path(
    cache: Path, tmp_path: Path
) -> None:
    """Missing when checked, a link when acted on: nothing through it, ever."""
    (cache / "http-v2").mkdir(parents=True)
    target = cache / "http-v2" / "a" / "b" / "f"
    root = CacheRoot(cache)
    assert root.unlink(target) is None  # gone: nothing to do
    victim = _file(tmp_path / "elsewhere" / "b" / "f")
    (cache / "http-v2" / "a").symlink_to(victim.parent.parent, target_is_directory=True)
    (victim.parent / "g").mkdir()
    with pytest.raises(UnsafePathError):
        root.unlink(target)
    with pytest.raises(UnsafePathError):
        root.rmdir_if_empty(cache / "http-v2" / "a" / "b" / "g")
    assert victim.exists() and (victim.parent / "g").is_dir()


def test_the_check_never_passes_through_a_link_put_in_place_during_it(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upper directory swapped for a link between two steps of the check: the check
    goes on in the real directory (descriptors), so the link is refused when acted on."""
    target = _file(cache / "http-v2" / "a" / "b" / "f")
    victim = _file(tmp_path / "elsewhere" / "b" / "f")
    real_open = os.open
    swapped: list[bool] = []

    def open_then_swap(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, *args, **kwargs)
        if path == "a" and not swapped:  # "a" is open: now swap it
            swapped.append(True)
            (cache / "http-v2" / "a").rename(cache / "http-v2" / "a-moved")
            (cache / "http-v2" / "a").symlink_to(victim.parent.parent, target_is_directory=True)
        return fd

    monkeypatch.setattr(os, "open", open_then_swap)
    with pytest.raises(UnsafePathError):
        CacheRoot(cache).unlink(target)
    assert swapped and victim.exists()


def test_a_cache_dir_reached_through_a_link_works(cache: Path, tmp_path: Path) -> None:
    """pip allows the cache dir itself to be a link; the directories below may not be."""
    _file(cache / "http-v2" / "a" / "f")
    link = tmp_path / "link"
    link.symlink_to(cache, target_is_directory=True)
    root = CacheRoot(link)
    assert root.unlink(link / "http-v2" / "a" / "f") == 1
    assert root.prune_empty_dirs([link / "http-v2" / "a", link / "http-v2"], link) == 2
    assert not (cache / "http-v2").exists()
