"""Links and foreign files: no command deletes, rewrites or reads anything outside the cache.

A real cache (both pips wrote it) gets symbolic links to a decoy tree outside it, in
``http/``, ``http-v2/`` and ``wheels/`` at every depth, to directories and to files; hard
links to files outside; files that are not pip's; a cache dir reached through a link; and,
in another layout, ``http-v2/`` and ``wheels/`` that are themselves links. The decoy tree
holds copies of real entries, so a command that followed a link would find work there.

Every command then runs, and:

- the decoy tree is exactly as it was: the same paths, bytes, mtimes and atimes (atimes are
  set older than the mtimes, so with ``relatime`` any read or listing would bump them);
- no file or directory outside the cache was opened or listed while the command ran
  (``os.open``, ``open`` and ``os.scandir`` are watched; hard-linked files are in the cache,
  so opening them there is fine);
- every link is still there, pointing where it did, and is named in the output;
- foreign files at the top of the cache survive, ``purge`` included.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.fs.fsio import open_quietly
from realpip import BuiltCache, cache_entry_path

OLD = time.time() - 3 * 86400  # cache files: older than prune's hour of grace
DECOY_MTIME = 1_700_000_000
DECOY_ATIME = DECOY_MTIME - 1000  # older than the mtime: relatime bumps it on any read
LOCK_NAME = ".pip_cache_plus.fs.lock"


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


# -- building the layout --------------------------------------------------------------------


@dataclass
class Layout:
    cache: Path  # the real cache directory
    arg: Path  # what --cache-dir gets (the cache, or a link to it)
    outside: Path  # the decoy tree
    links: dict[Path, str] = field(default_factory=dict)  # link in the cache -> its target
    hard: list[Path] = field(default_factory=list)  # cache names of files hard-linked outside
    foreign_top: list[Path] = field(default_factory=list)  # not pip's, beside http/ etc.
    partners: list[Path] = field(default_factory=list)  # pip's files whose partner is a link
    linked_sources: tuple[str, ...] = ()  # source dirs that are themselves links


def fresh_key(cache: Path, tag: str, depth: int, sources: tuple[str, ...]) -> str:
    """A key whose first ``depth`` path parts are free in each of ``sources``, with no link
    on the way there (so files made for it land in the cache, not in a decoy)."""
    for i in range(10_000):
        key = hashlib.sha224(f"https://decoy.invalid/{tag}/{i}".encode()).hexdigest()
        if all(_free(cache / s, _parts(s, key), depth) for s in sources):
            return key
    raise AssertionError("no free key prefix")


def _parts(source: str, key: str) -> tuple[str, ...]:
    return wheel_parts(key) if source == "wheels" else tuple(key[:5])


def _free(top: Path, parts: tuple[str, ...], depth: int) -> bool:
    if any(top.joinpath(*parts[:i]).is_symlink() for i in range(1, depth)):
        return False
    return not os.path.lexists(top.joinpath(*parts[:depth]))


def wheel_parts(key: str) -> tuple[str, str, str, str]:
    return key[:2], key[2:4], key[4:6], key[6:]


def real_files(built: BuiltCache) -> dict[str, Path]:
    """One real file of each shape, to copy into decoys, links and hard links."""
    cache = built.path
    url = next(
        u
        for u in built.fetched_urls(kinds=["file"])
        if u.endswith("tiny_pure-1.0-py3-none-any.whl")
    )
    meta = cache_entry_path(cache, url, "http-v2")
    wheel = next((cache / "wheels").rglob("*.whl"))
    return {
        "meta": meta,
        "body": meta.with_name(meta.name + ".body"),
        "legacy": cache_entry_path(cache, url, "http"),
        "wheel": wheel,
        "origin": wheel.with_name("origin.json"),
    }


def copy_to(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def link(layout: Layout, path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    layout.links[path] = str(target)


def add_dir_links(layout: Layout, real: dict[str, Path]) -> None:
    """Links to decoy directories at each depth, each holding a whole (copied) entry."""
    cache, outside = layout.cache, layout.outside
    both = ("http", "http-v2")
    for depth in range(1, 6):
        key = fresh_key(cache, f"v2-{depth}", depth, both)
        decoy = outside / f"v2-depth{depth}"
        rest = decoy.joinpath(*key[depth:5])
        copy_to(real["meta"], rest / key)
        copy_to(real["body"], rest / f"{key}.body")
        link(layout, cache.joinpath("http-v2", *key[:depth]), decoy)
    for depth in (1, 3, 5):
        key = fresh_key(cache, f"legacy-{depth}", depth, both)
        decoy = outside / f"legacy-depth{depth}"
        copy_to(real["legacy"], decoy.joinpath(*key[depth:5], key))
        link(layout, cache.joinpath("http", *key[:depth]), decoy)
    for depth in range(1, 5):
        key = fresh_key(cache, f"wheels-{depth}", depth, ("wheels",))
        parts = wheel_parts(key)
        decoy = outside / f"wheels-depth{depth}"
        rest = decoy.joinpath(*parts[depth:])
        copy_to(real["wheel"], rest / real["wheel"].name)
        copy_to(real["origin"], rest / "origin.json")
        link(layout, cache.joinpath("wheels", *parts[:depth]), decoy)


def add_file_links(layout: Layout, real: dict[str, Path]) -> None:
    """Links to decoy files: one half of an http-v2 entry, a lone metadata, a legacy
    entry, a built wheel, an ``origin.json`` beside a real wheel."""
    cache, files = layout.cache, layout.outside / "files"
    decoys = {name: copy_to(path, files / name) for name, path in real.items()}
    both = ("http", "http-v2")
    body_linked = fresh_key(cache, "body-link", 5, both)
    meta_dir = cache.joinpath("http-v2", *body_linked[:5])
    layout.partners.append(copy_to(real["meta"], meta_dir / body_linked))
    link(layout, meta_dir / f"{body_linked}.body", decoys["body"])
    meta_linked = fresh_key(cache, "meta-link", 5, both)
    body_dir = cache.joinpath("http-v2", *meta_linked[:5])
    layout.partners.append(copy_to(real["body"], body_dir / f"{meta_linked}.body"))
    link(layout, body_dir / meta_linked, decoys["meta"])
    lone = fresh_key(cache, "lone-link", 5, both)
    link(layout, cache.joinpath("http-v2", *lone[:5], lone), decoys["meta"])
    legacy = fresh_key(cache, "legacy-link", 5, both)
    link(layout, cache.joinpath("http", *legacy[:5], legacy), decoys["legacy"])
    wheel_dir = cache.joinpath("wheels", *wheel_parts(fresh_key(cache, "whl", 4, ("wheels",))))
    link(layout, wheel_dir / real["wheel"].name, decoys["wheel"])
    layout.partners.append(copy_to(real["origin"], wheel_dir / "origin.json"))
    origin_dir = cache.joinpath("wheels", *wheel_parts(fresh_key(cache, "origin", 4, ("wheels",))))
    copy_to(real["wheel"], origin_dir / real["wheel"].name)
    link(layout, origin_dir / "origin.json", decoys["origin"])


def add_hard_links(layout: Layout, real: dict[str, Path]) -> None:
    """Whole entries whose files are hard links to files outside (nothing to see in the
    cache: removing them removes only the cache's name; the outside file stays)."""
    cache, hard = layout.cache, layout.outside / "hard"
    decoys = {name: copy_to(path, hard / name) for name, path in real.items()}
    key = fresh_key(cache, "hard-v2", 5, ("http", "http-v2"))
    v2_dir = cache.joinpath("http-v2", *key[:5])
    v2_dir.mkdir(parents=True)
    pairs = [(decoys["meta"], v2_dir / key), (decoys["body"], v2_dir / f"{key}.body")]
    key = fresh_key(cache, "hard-legacy", 5, ("http", "http-v2"))
    pairs.append((decoys["legacy"], cache.joinpath("http", *key[:5], key)))
    wheel_dir = cache.joinpath("wheels", *wheel_parts(fresh_key(cache, "hard-whl", 4, ("wheels",))))
    pairs.append((decoys["wheel"], wheel_dir / real["wheel"].name))
    for target, name in pairs:
        name.parent.mkdir(parents=True, exist_ok=True)
        os.link(target, name)
        layout.hard.append(name)


def add_foreign(layout: Layout) -> None:
    """Files that are not pip's: at the top (kept by every command) and inside pip's dirs
    (debris: ``purge`` and ``prune`` may remove them, like pip's own purge)."""
    cache = layout.cache
    topdir = layout.outside / "topdir"
    topdir.mkdir(parents=True)
    (topdir / "mine.txt").write_bytes(b"someone's own file, linked into the cache dir")
    for path, data in {
        cache / "notes.txt": b"mine",
        cache / "my-stuff" / "keep.txt": b"mine too",
        cache / "selfcheck" / "abc.json": b"{}",
        cache / "http-v2" / "README.txt": b"not pip's",
        cache / "http" / "junkdir" / "junk.bin": b"not pip's",
        cache / "wheels" / "foreign.txt": b"not pip's",
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    layout.foreign_top += [cache / "notes.txt", cache / "my-stuff", cache / "selfcheck"]
    link(layout, cache / "mylink", topdir)
    layout.foreign_top.append(cache / "mylink")


def age_cache(cache: Path) -> None:
    """Everything in the cache unused for days: prune may take any of it."""
    for dirpath, dirnames, filenames in os.walk(cache):
        for name in (*dirnames, *filenames):
            os.utime(Path(dirpath, name), (OLD, OLD), follow_symlinks=False)


def inner_links(built: BuiltCache, tmp_path: Path, *, via_link: bool) -> Layout:
    cache = built.path
    layout = Layout(cache, cache, tmp_path / "outside")
    real = real_files(built)
    add_dir_links(layout, real)
    add_file_links(layout, real)
    add_hard_links(layout, real)
    add_foreign(layout)
    age_cache(cache)
    if via_link:
        layout.arg = tmp_path / "cache-link"
        layout.arg.symlink_to(cache, target_is_directory=True)
    return layout


def source_dir_links(built: BuiltCache, tmp_path: Path) -> Layout:
    """``http-v2/`` and ``wheels/`` are links to trees outside (copies of the real ones)."""
    cache = built.path
    layout = Layout(cache, cache, tmp_path / "outside", linked_sources=("http-v2", "wheels"))
    for source in layout.linked_sources:
        target = layout.outside / f"{source}-tree"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(cache / source, target)
        link(layout, cache / source, target)
    add_foreign(layout)
    age_cache(cache)
    return layout


# -- watching the decoy tree ----------------------------------------------------------------


def tree_paths(root: Path) -> list[Path]:
    """``root`` and everything under it; a link is not followed (nor listed)."""
    found = [root]
    if root.is_symlink():
        return found
    for dirpath, dirnames, filenames in os.walk(root):
        found += [Path(dirpath, n) for n in (*dirnames, *filenames)]
    return sorted(found)


Snapshot = dict[Path, tuple[str, int, int, bytes | str | None]]


def snapshot(paths: list[Path]) -> Snapshot:
    """Type, mtime, atime and contents of each path; every time stamp is taken before
    anything is read or listed (and files are read with O_NOATIME), so looking changes
    nothing we look at."""
    times = {p: p.lstat() for p in paths}
    out: Snapshot = {}
    for path, st in times.items():
        data: bytes | str | None = None
        atime = st.st_atime_ns
        if stat.S_ISLNK(st.st_mode):  # resolving a link bumps its own atime: not a read
            kind, data, atime = "link", os.readlink(path), 0
        elif stat.S_ISREG(st.st_mode):
            with open_quietly(path) as fp:
                kind, data = "file", fp.read()
        else:
            kind = "dir"
        out[path] = (kind, st.st_mtime_ns, atime, data)
    return out


def freeze_decoys(outside: Path) -> tuple[list[Path], Snapshot]:
    paths = tree_paths(outside)
    for path in paths:
        os.utime(path, (DECOY_ATIME, DECOY_MTIME), follow_symlinks=False)
    return paths, snapshot(paths)


@dataclass
class Watch:
    """Inodes and directories outside the cache that nothing may open or list."""

    forbidden_inodes: set[tuple[int, int]]
    outside: str
    hits: list[str] = field(default_factory=list)

    def check_fd(self, fd: int, what: object) -> None:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) in self.forbidden_inodes:
            self.hits.append(f"opened {what}")

    def check_dir(self, path: str | os.PathLike[str] | int) -> None:
        if isinstance(path, int):
            return
        real = os.path.realpath(path)
        if real == self.outside or real.startswith(self.outside + os.sep):
            self.hits.append(f"listed {path}")


@contextlib.contextmanager
def watching(
    monkeypatch: pytest.MonkeyPatch, layout: Layout, decoys: list[Path]
) -> Iterator[Watch]:
    hard = {(st.st_dev, st.st_ino) for st in (p.stat() for p in layout.hard)}
    inodes = {
        (st.st_dev, st.st_ino)
        for st in (p.lstat() for p in decoys)
        if (st.st_dev, st.st_ino) not in hard
    }
    watch = Watch(inodes, os.path.realpath(layout.outside))
    real_open, real_io_open, real_scandir = os.open, io.open, os.scandir

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, *args, **kwargs)
        watch.check_fd(fd, path)
        return fd

    def io_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        handle = real_io_open(file, *args, **kwargs)
        with contextlib.suppress(AttributeError, OSError, ValueError):
            watch.check_fd(handle.fileno(), file)
        return handle

    def scandir(path: Any = ".") -> Any:
        watch.check_dir(path)
        return real_scandir(path)

    # A context of its own: undoing the whole monkeypatch would also undo the test's
    # isolation (its PIP_* scrub and memo directory) for the commands run after this one.
    with monkeypatch.context() as patch:
        patch.setattr(os, "open", os_open)
        patch.setattr(builtins, "open", io_open)
        patch.setattr(io, "open", io_open)
        patch.setattr(os, "scandir", scandir)
        yield watch


# -- the commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    args: tuple[str, ...]
    reports: tuple[str, ...]  # sources whose links the output must name
    mutates: bool = False


COMMANDS: dict[str, Command] = {
    "list": Command(("list", "*"), ("http", "http-v2", "wheels")),
    "show": Command(("show", "*"), ("http", "http-v2", "wheels")),
    "verify": Command(("verify",), ("http", "http-v2", "wheels")),
    "verify-deep": Command(("verify", "--deep"), ("http", "http-v2", "wheels")),
    "remove-all": Command(("remove", "*"), ("http", "http-v2", "wheels"), mutates=True),
    "remove-project": Command(("remove", "tiny_pure"), (), mutates=True),
    "purge": Command(("purge",), ("http", "http-v2", "wheels"), mutates=True),
    "purge-legacy": Command(("purge", "--legacy"), ("http",), mutates=True),
    "prune": Command(("prune", "--max-size", "0"), ("http", "http-v2", "wheels"), mutates=True),
    "migrate": Command(("migrate",), ("http",), mutates=True),
    "export": Command(("export", "*", "-d", "{dest}"), ("wheels",)),
}


def run_command(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    layout: Layout,
    command: Command,
    dest: Path,
    decoys: list[Path],
) -> tuple[int, str, list[str]]:
    args = [a.format(dest=dest) for a in command.args]
    argv = [*args, "--cache-dir", str(layout.arg), "--format", "json"]
    with watching(monkeypatch, layout, decoys) as watch:
        code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    json.loads(out)  # one JSON document, nothing else on stdout
    return code, out + err, watch.hits


def reported(text: str, layout: Layout, link_path: Path) -> bool:
    rel = link_path.relative_to(layout.cache)
    return str(layout.cache / rel) in text or str(layout.arg / rel) in text


LAYOUTS = ["inner-links", "through-cache-link", "source-dir-links"]


def build(name: str, built: BuiltCache, tmp_path: Path) -> Layout:
    if name == "source-dir-links":
        return source_dir_links(built, tmp_path)
    return inner_links(built, tmp_path, via_link=name == "through-cache-link")


@pytest.mark.parametrize("layout_name", LAYOUTS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_nothing_outside_the_cache_is_touched(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    tmp_path: Path,
    name: str,
    layout_name: str,
) -> None:
    layout = build(layout_name, mixed_cache, tmp_path)
    paths, before = freeze_decoys(layout.outside)
    foreign = snapshot([p for top in layout.foreign_top for p in tree_paths(top)])
    command = COMMANDS[name]

    code, output, hits = run_command(
        capsys, monkeypatch, layout, command, tmp_path / "export", paths
    )

    assert hits == [], "followed a link out of the cache"
    assert snapshot(paths) == before, "the decoy tree changed"
    assert tree_paths(layout.outside) == paths, "files appeared or vanished outside"
    assert snapshot([p for top in layout.foreign_top for p in tree_paths(top)]) == foreign
    for path, target in layout.links.items():
        assert path.is_symlink() and os.readlink(path) == target, f"{path} was touched"
    missing = [
        str(p)
        for p in layout.links
        if p.relative_to(layout.cache).parts[0] in command.reports
        and not reported(output, layout, p)
    ]
    assert missing == [], "links the output does not name"
    expected_code = EXIT_CODES.get((name, layout_name), EXIT_CODES.get((name, "*"), 0))
    assert code == expected_code, output


EXIT_CODES: dict[tuple[str, str], int] = {
    ("verify", "*"): 1,  # links, foreign files and half entries are problems
    ("verify-deep", "*"): 1,
    ("migrate", "source-dir-links"): 1,  # http-v2/ is a link: nothing can be written
}


# -- what each mutating command did do --------------------------------------------------------


def pip_files(cache: Path, source: str) -> list[Path]:
    """Regular files left in a source dir (links not followed)."""
    top = cache / source
    if top.is_symlink() or not top.exists():
        return []
    return [
        Path(d, n) for d, _, names in os.walk(top) for n in names if not Path(d, n).is_symlink()
    ]


@pytest.mark.parametrize("layout_name", ["inner-links", "through-cache-link"])
def test_purge_removes_pips_files_and_keeps_links_and_hard_link_targets(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    tmp_path: Path,
    layout_name: str,
) -> None:
    layout = build(layout_name, mixed_cache, tmp_path)
    outside = {p: p.read_bytes() for p in (layout.outside / "hard").iterdir()}
    code, output, _ = run_command(
        capsys, monkeypatch, layout, COMMANDS["purge"], tmp_path, tree_paths(layout.outside)
    )
    assert code == 0, output
    for source in ("http", "http-v2", "wheels"):
        assert set(pip_files(layout.cache, source)) <= set(layout.partners), source
    assert not any(p.exists() for p in layout.hard)
    assert {p: p.read_bytes() for p in outside} == outside
    data = json.loads(output[: output.rindex("}") + 1])
    kept = {e["path"] for e in data["kept"]}
    assert kept == {str(p) for p in layout.links} - {str(p) for p in layout.foreign_top}


def test_source_dir_links_are_left_whole(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    layout = build("source-dir-links", mixed_cache, tmp_path)
    legacy = {p: p.read_bytes() for p in pip_files(layout.cache, "http")}
    assert legacy
    code, output, _ = run_command(
        capsys, monkeypatch, layout, COMMANDS["migrate"], tmp_path, tree_paths(layout.outside)
    )
    assert code == 1
    assert output.count("error:") == 1, output  # one line, not one per entry
    assert "http-v2" in output and "link" in output
    assert {p: p.read_bytes() for p in legacy} == legacy
    code, output, _ = run_command(
        capsys, monkeypatch, layout, COMMANDS["purge"], tmp_path, tree_paths(layout.outside)
    )
    assert code == 0, output
    assert pip_files(layout.cache, "http") == []
    assert (layout.cache / "http-v2").is_symlink() and (layout.cache / "wheels").is_symlink()


def test_export_writes_no_file_reached_through_a_link(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    layout = build("inner-links", mixed_cache, tmp_path)
    dest = tmp_path / "export"
    code, output, _ = run_command(
        capsys, monkeypatch, layout, COMMANDS["export"], dest, tree_paths(layout.outside)
    )
    assert code == 0, output
    data = json.loads(output[: output.rindex("}") + 1])
    links = {str(p) for p in layout.links}
    assert not {e["entry_path"] for e in data["exported"] + data["identical"]} & links
    for item in data["exported"]:
        if item["source"] == "wheels":
            continue  # built here: no package file to compare with
        package = mixed_cache.package(item["filename"])
        assert hashlib.sha256((dest / item["filename"]).read_bytes()).hexdigest() == package.sha256


@pytest.mark.parametrize("name", ["remove-all", "purge", "prune"])
def test_an_entry_with_a_linked_half_is_left_whole(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    tmp_path: Path,
    name: str,
) -> None:
    """pip follows links: metadata beside a linked ``.body`` is an entry pip serves, not
    "metadata without its body" debris; likewise a body beside linked metadata, and the
    ``origin.json`` beside a linked wheel."""
    layout = build("inner-links", mixed_cache, tmp_path)
    partners = {p: p.read_bytes() for p in layout.partners}
    code, output, _ = run_command(
        capsys, monkeypatch, layout, COMMANDS[name], tmp_path, tree_paths(layout.outside)
    )
    assert code == 0, output
    assert {p: p.read_bytes() for p in partners if p.exists()} == partners


def test_migrate_never_trusts_an_http_v2_entry_reached_through_a_link(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    legacy_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    """A link inside ``http-v2/`` on the way to where a legacy entry goes, to a complete
    copy of that entry outside: the legacy file stays (it is not "already present") and
    nothing outside is read or written."""
    cache = legacy_cache.path
    legacy = next(p for p in (cache / "http").rglob("*") if p.is_file())
    key = legacy.name
    layout = Layout(cache, cache, tmp_path / "outside")
    decoy = layout.outside / "v2-tree"
    response = legacy.read_bytes()
    copy_to(legacy, decoy.joinpath(*key[3:5], key)).write_bytes(response)
    (decoy.joinpath(*key[3:5], f"{key}.body")).write_bytes(b"whatever")
    link(layout, cache.joinpath("http-v2", *key[:3]), decoy)
    paths, before = freeze_decoys(layout.outside)

    code, output, hits = run_command(
        capsys, monkeypatch, layout, COMMANDS["migrate"], tmp_path, paths
    )

    assert hits == []
    assert snapshot(paths) == before
    assert legacy.read_bytes() == response
    assert code == 1 and "refusing to write under" in output
