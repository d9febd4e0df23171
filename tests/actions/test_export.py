"""export: cached wheels and sdists out of caches real pip wrote, byte-identical, offline-ready."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from pip_cache_plus.actions import export as export_module
from pip_cache_plus.actions.export import (
    REASON_NO_FILENAME,
    REASON_NOT_PIPS,
    REASON_UNSAFE_NAME,
    export_entries,
)
from pip_cache_plus.cache import Cache
from pip_cache_plus.cli.app import main
from pip_cache_plus.format.records import parse_metadata, serialize_v2_metadata
from pip_cache_plus.fs.fsio import read_all
from pip_cache_plus.fs.fsops import atomic_file
from pip_cache_plus.fs.fsops import copy_range as real_copy
from pip_cache_plus.inventory.responses import read_response
from realpip import BuiltCache, IndexServer, PipRunner

SRC = Path(__file__).resolve().parents[2] / "src"


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def export(
    capsys: pytest.CaptureFixture[str], cache: Path, dest: Path, *args: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["export", "--cache-dir", str(cache), "-d", str(dest), "--format", "json", *args])
    out, err = capsys.readouterr()
    data: dict[str, Any] = json.loads(out)
    assert data["version"] == 1
    return code, data, err


def files_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def downloaded(cache: BuiltCache) -> set[str]:
    """Filenames of the package files the pips fetched into ``cache``."""
    return {url.rsplit("/", 1)[1] for url in cache.fetched_urls(kinds=["file"])}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["filename"]: item for item in items}


@pytest.mark.parametrize("which", ["legacy", "v2"])
def test_export_is_byte_identical_and_installs_offline(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    which: str,
    pip_current: PipRunner,
    index_server: IndexServer,
    tmp_path: Path,
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{which}_cache")
    dest = tmp_path / "wheelhouse"
    code, data, err = export(capsys, cache.path, dest, "*")
    assert code == 0, err
    written = files_in(dest)
    fetched = downloaded(cache)
    assert fetched, "the fixture cache fetched no files"
    for filename in fetched:
        package = cache.package(filename)
        assert written[filename] == package.path.read_bytes()
        assert sha256(written[filename]) == package.sha256
    exported = by_name(data["exported"])
    http = "http" if which == "legacy" else "http-v2"
    for filename in fetched:
        assert exported[filename]["source"] == http
        assert exported[filename]["sha256_checked"] is True
        assert exported[filename]["sha256"] == cache.package(filename).sha256
    # Plus the wheel pip built from the sdist-only project, which no index serves.
    assert set(written) == fetched | {"sdist_only-0.5-py3-none-any.whl"}
    assert exported["sdist_only-0.5-py3-none-any.whl"]["source"] == "wheels"
    assert not [p for p in dest.iterdir() if p.name.startswith(".")], "temp files left"

    mark = index_server.mark()
    target = tmp_path / "target"
    reqs = ["tiny_pure==1.1", "dotted.pkg", "Mixed_Case", "platpkg", "sdist_only"]
    pip_current.run(
        "install", "--no-index", "--find-links", str(dest), "--target", str(target), *reqs,
        cache_dir=tmp_path / "empty-cache",
    )  # fmt: skip
    assert index_server.requests(since=mark) == ()
    installed = {p.name for p in target.iterdir()}
    assert {"tiny_pure.py", "dotted_pkg.py", "mixed_case.py", "sdist_only.py"} <= installed


def test_mixed_cache_exports_each_file_once_preferring_http_v2(
    capsys: pytest.CaptureFixture[str], mixed_cache: BuiltCache, tmp_path: Path
) -> None:
    code, data, _ = export(capsys, mixed_cache.path, tmp_path / "out", "*")
    assert code == 0
    exported = by_name(data["exported"])
    assert {e["source"] for n, e in exported.items() if not n.startswith("sdist_only-0.5-")} == {
        "http-v2"
    }
    duplicates = [s for s in data["skipped"] if s["reason"].startswith("another copy")]
    assert {s["source"] for s in duplicates} == {"http"}
    assert {s["filename"] for s in duplicates} <= set(exported)
    for name, content in files_in(tmp_path / "out").items():
        if name in downloaded(mixed_cache):
            assert content == mixed_cache.package(name).path.read_bytes()


def test_downloaded_file_wins_over_a_locally_built_wheel(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    pip_current: PipRunner,
    tmp_path: Path,
) -> None:
    name = "tiny_pure-1.1-py3-none-any.whl"
    pip_current.wheel(
        "--no-binary", "tiny_pure", "--no-deps", "tiny_pure==1.1",
        dest=tmp_path / "built", cache_dir=v2_cache.path,
    )  # fmt: skip
    (built,) = (v2_cache.path / "wheels").rglob(name)
    original = v2_cache.package(name).path.read_bytes()
    assert built.read_bytes() != original  # a real build: same name, other bytes

    code, data, _ = export(capsys, v2_cache.path, tmp_path / "out", "tiny-pure==1.1")
    assert code == 0
    assert by_name(data["exported"])[name]["source"] == "http-v2"
    assert (tmp_path / "out" / name).read_bytes() == original
    (other,) = [s for s in data["skipped"] if s["filename"] == name]
    assert other["source"] == "wheels"
    assert other["entry_path"] == str(built)

    # Without the download, the built wheel is what there is.
    code, data, _ = export(
        capsys, v2_cache.path, tmp_path / "built-only", name, "--source", "wheels"
    )
    assert code == 0
    assert (tmp_path / "built-only" / name).read_bytes() == built.read_bytes()
    assert by_name(data["exported"])[name]["sha256_checked"] is False


def test_existing_files_are_never_overwritten(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    same = v2_cache.package("tiny_pure-1.1.tar.gz")
    (dest / same.filename).write_bytes(same.path.read_bytes())
    (dest / "tiny_pure-1.0-py3-none-any.whl").write_bytes(b"someone else's file")
    outside = tmp_path / "outside.whl"
    outside.write_bytes(b"the link target")
    (dest / "tiny_pure-1.1-py3-none-any.whl").symlink_to(outside)

    code, data, _ = export(capsys, v2_cache.path, dest, "tiny-pure")
    assert code == 1
    assert {c["filename"] for c in data["conflicts"]} == {
        "tiny_pure-1.0-py3-none-any.whl",
        "tiny_pure-1.1-py3-none-any.whl",
    }
    assert [i["filename"] for i in data["identical"]] == [same.filename]
    assert data["exported"] == []
    assert (dest / "tiny_pure-1.0-py3-none-any.whl").read_bytes() == b"someone else's file"
    assert (dest / "tiny_pure-1.1-py3-none-any.whl").is_symlink()
    assert outside.read_bytes() == b"the link target"
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        [same.filename, "tiny_pure-1.0-py3-none-any.whl", "tiny_pure-1.1-py3-none-any.whl"]
    )

    code = main(["export", "--cache-dir", str(v2_cache.path), "-d", str(dest), "tiny-pure"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "Not overwritten (a different file is there):" in out
    assert f"Already there, identical:\n - {same.filename}" in out


def _flip_body_byte(cache: Cache, filename: str) -> Path:
    (entry,) = [e for e in cache.entries() if e.filename == filename and e.source != "wheels"]
    body = read_response(entry.raw).body
    with open(body.path, "r+b") as fp:
        fp.seek(body.offset + body.length // 2)
        byte = fp.read(1)
        fp.seek(-1, os.SEEK_CUR)
        fp.write(bytes([byte[0] ^ 0xFF]))
    return Path(body.path)


@pytest.mark.parametrize("which", ["legacy", "v2"])
def test_a_corrupt_body_is_caught_by_its_sha256(
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    which: str,
    tmp_path: Path,
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{which}_cache")
    name = "dotted_pkg-2.0-py3-none-any.whl"
    _flip_body_byte(Cache(cache.path, index_urls=[cache.index_url]), name)
    dest = tmp_path / "out"
    code, data, _ = export(capsys, cache.path, dest, "dotted.pkg")
    assert code == 1
    (failed,) = data["failed"]
    assert failed["filename"] == name
    assert failed["reason"].startswith("sha256 mismatch")
    assert list(dest.iterdir()) == []  # and no temp file left


def test_out_of_space_mid_copy_removes_the_partial_file(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def full_after_two(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
        calls.append(length)
        if len(calls) <= 2:
            real_copy(src, dst, offset, length)
            return
        real_copy(src, dst, offset, length // 2)  # half written, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export_module, "copy_range", full_after_two)
    dest = tmp_path / "out"
    code, data, err = export(capsys, v2_cache.path, dest, "*", "--kind", "wheel")
    assert code == 1
    assert "No space left on device" in data["error"]
    assert "error: could not write" in err and "the partial file was removed" in err
    assert len(calls) == 3  # it stopped at the first full-disk error
    names = sorted(p.name for p in dest.iterdir())
    assert names == sorted(e["filename"] for e in data["exported"])
    assert len(names) == 2
    for name in names:
        assert (dest / name).read_bytes() == v2_cache.package(name).path.read_bytes()


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_from_the_kernel_stops_the_export(
    v2_cache: BuiltCache, index_server: IndexServer, tmp_path: Path
) -> None:
    """A real write error: RLIMIT_FSIZE makes the kernel refuse bytes past a size (EFBIG)."""
    limit = 1200  # the wheels here are ~1000 bytes, the sdists ~1500
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from pip_cache_plus.cli.app import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    dest = tmp_path / "out"
    args = ["export", "*", "--cache-dir", str(v2_cache.path), "-d", str(dest)]
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert "error: could not write sdist_only-0.5.tar.gz" in proc.stderr
    assert "File too large" in proc.stderr
    names = sorted(p.name for p in dest.iterdir())
    # Files sort by name; everything before the first sdist made it, whole.
    assert names == sorted(
        [
            "dotted_pkg-2.0-py3-none-any.whl",
            "mixed_case-0.2-py3-none-any.whl",
            *[n for n in downloaded(v2_cache) if n.startswith("platpkg-")],
            "sdist_only-0.5-py3-none-any.whl",
        ]
    )


def test_content_encoded_body_is_decoded_and_said_so(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    """Edge case: files are fetched unencoded, but a proxy may have gzipped one anyway."""
    name = "mixed_case-0.2-py3-none-any.whl"
    cache = Cache(v2_cache.path, index_urls=[v2_cache.index_url])
    (entry,) = [e for e in cache.entries() if e.filename == name]
    assert entry.raw.body_path is not None
    original = entry.raw.body_path.read_bytes()
    response, _ = parse_metadata(read_all(entry.raw.path, 1 << 20))
    headers = tuple((k, v) for k, v in response.headers if k.lower() != "content-length")
    headers += (("Content-Encoding", "gzip"),)
    entry.raw.path.write_bytes(serialize_v2_metadata(replace(response, headers=headers)))
    entry.raw.body_path.write_bytes(gzip.compress(original))

    code, data, _ = export(capsys, v2_cache.path, tmp_path / "out", "mixed-case")
    assert code == 0
    (done,) = data["exported"]
    assert done["decoded_from"] == "gzip"
    assert done["sha256_checked"] is True
    assert (tmp_path / "out" / name).read_bytes() == original


def test_unnamed_and_unsafe_entries_are_reported_not_written(
    v2_cache: BuiltCache, tmp_path: Path
) -> None:
    cache = Cache(v2_cache.path, index_urls=[v2_cache.index_url])
    entries = {e.filename: e for e in cache.entries() if e.kind == "wheel"}
    unnamed = replace(entries["tiny_pure-1.0-py3-none-any.whl"], filename=None)
    unsafe = replace(entries["dotted_pkg-2.0-py3-none-any.whl"], filename="../evil-1.0.tar.gz")
    dest = tmp_path / "a" / "out"
    result = export_entries([unnamed, unsafe], dest, cache_dir=cache.path)
    assert [(s.entry, s.reason) for s in result.skipped] == [
        (unnamed, REASON_NO_FILENAME),
        (unsafe, REASON_UNSAFE_NAME),
    ]
    assert result.ok
    assert list(dest.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["out"]


def test_reading_for_export_does_not_change_last_used(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache, tmp_path: Path
) -> None:
    old = 1_500_000_000
    files = [p for p in legacy_cache.path.rglob("*") if p.is_file()]
    for path in files:
        os.utime(path, (old, old))
    code, _, _ = export(capsys, legacy_cache.path, tmp_path / "out", "*")
    assert code == 0
    assert {p.stat().st_atime for p in files} == {old}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--kind", "metadata"], "export writes only wheel and sdist", id="kind"),
        pytest.param(["--kind", "wheel,nope"], "bad kind", id="unknown-kind"),
        pytest.param([], "refusing to export into the cache", id="into-cache"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    cache = tmp_path / "cache"
    (cache / "http-v2").mkdir(parents=True)
    dest = cache / "wheels" if not args else tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["export", "*", "--cache-dir", str(cache), "-d", str(dest), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (cache / "wheels").exists()


def test_dest_that_is_a_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["export", "*", "--cache-dir", str(tmp_path / "cache"), "-d", str(tmp_path / "file")])
    assert exc.value.code == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("refused_after", [0, 100], ids=["at-once", "after-some-bytes"])
def test_copy_range_falls_back_when_the_kernel_copy_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused_after: int
) -> None:
    """copy_file_range refuses some file pairs (EXDEV on old kernels), even part way."""
    source = tmp_path / "source"
    data = os.urandom(300_000)
    source.write_bytes(b"head" + data + b"tail")
    real = os.copy_file_range

    def refusing(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        if refused_after and os.lseek(dst, 0, os.SEEK_CUR) < refused_after:
            return real(src, dst, min(count, refused_after), offset_src)
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", refusing, raising=False)
    with open(source, "rb") as src, atomic_file(tmp_path / "copy") as out:
        out.write(b"prefix")
        real_copy(src, out, 4, len(data))
    assert (tmp_path / "copy").read_bytes() == b"prefix" + data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "source"]


def test_names_rebuilt_from_content_are_exported_and_said_so(
    capsys: pytest.CaptureFixture[str],
    v2_cache: BuiltCache,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No index configured, no page left, nor a built wheel's origin.json (a clue to the
    # index): every name comes from the bodies themselves.
    monkeypatch.delenv("PIP_INDEX_URL")
    for entry in Cache(v2_cache.path, index_urls=[]).entries():
        if entry.kind == "index":
            for stat in entry.raw.files:
                stat.path.unlink()
    shutil.rmtree(v2_cache.path / "wheels")
    code, data, _ = export(capsys, v2_cache.path, tmp_path / "json", "tiny-pure")
    assert code == 0
    exported = {d["filename"]: d["filename_from"] for d in data["exported"]}
    assert exported == {
        "tiny_pure-1.0-py3-none-any.whl": "content",
        "tiny_pure-1.1-py3-none-any.whl": "content",
        "tiny_pure-1.1.tar.gz": "content",
    }
    main(["export", "--cache-dir", str(v2_cache.path), "-d", str(tmp_path / "human"), "tiny-pure"])
    lines = capsys.readouterr().out.splitlines()
    marked = [line for line in lines if "name rebuilt from content" in line]
    assert len(marked) == 3


def test_a_rebuilt_name_pip_would_not_take_for_the_release_is_not_written(
    v2_cache: BuiltCache, tmp_path: Path
) -> None:
    cache = Cache(v2_cache.path, index_urls=[])
    (entry,) = (e for e in cache.entries() if e.filename == "tiny_pure-1.0-py3-none-any.whl")
    content = replace(entry.naming, filename_from="content")
    wrong = replace(entry, filename="other_name-1.0-py3-none-any.whl", naming=content)
    result = export_entries([wrong], tmp_path / "out")
    assert [(s.entry, s.reason) for s in result.skipped] == [(wrong, REASON_NOT_PIPS)]
    assert list((tmp_path / "out").iterdir()) == []
