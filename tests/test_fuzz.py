"""Fuzzing: every command on caches whose real entries were damaged, in every way we know.

Each example copies a cache real pip wrote, damages one to three of its files (truncated,
bytes flipped, deleted, another ``cc=`` version, msgpack headers declaring 4 GiB, corrupt or
bomb zip and tar bodies, wrong Content-Length, wrong or unknown Content-Encoding, odd
dates and Cache-Control, junk ``origin.json``), then runs every command on it in-process
(``everycommand.run_every_command``): each must exit 0 or 1, print no traceback, print valid
JSON when asked for JSON, leave the cache as it was unless it is a mutating command (those
run on copies), and stay within ``everycommand.TIME_LIMIT`` seconds and ``MEMORY_LIMIT`` bytes.

Budget: ``PCP_FUZZ_EXAMPLES`` examples (default 30, under a second each) with the
derandomized ``pcp-fuzz-ci`` profile; ``nox -s fuzz`` runs thousands with ``pcp-fuzz-long``
(``PCP_FUZZ_PROFILE``), random and with a database. Below the fuzzer: the big bombs once
each, and each thing the fuzzer found, on its own.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import everycommand
import fuzzkit
from fuzzkit import HttpEntry, MiB
from pip_cache_plus.format import sniff, streams
from realpip import BuiltCache, IndexServer

_EXAMPLES = int(os.environ.get("PCP_FUZZ_EXAMPLES", "30"))
_COMMON = settings(
    max_examples=_EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # No explain phase: minutes of reruns for a note the printed draws already give.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    deadline=timedelta(seconds=6 * everycommand.TIME_LIMIT),
    print_blob=True,
)
# CI: the same examples every run (no flakiness, no database to carry around).
settings.register_profile("pcp-fuzz-ci", _COMMON, derandomize=True, database=None)
# nox -s fuzz: new examples every run; failures are kept in .hypothesis/ and replayed.
settings.register_profile("pcp-fuzz-long", _COMMON)
FUZZ = settings.get_profile(os.environ.get("PCP_FUZZ_PROFILE", "pcp-fuzz-ci"))


pytestmark = pytest.mark.usefixtures("module_index_env")  # a user of the loopback index


# -- the damage -------------------------------------------------------------------------------


Mutation = Callable[[Path], str]  # applies itself to a file; returns what it did


def _raw(edit: Callable[[bytes], bytes], what: str) -> Mutation:
    def apply(path: Path) -> str:
        if path.exists():
            path.write_bytes(edit(path.read_bytes()))
        return what

    return apply


def _delete(path: Path) -> str:
    path.unlink()
    return "deleted"


@st.composite
def truncations(draw: st.DrawFn, size: int) -> Mutation:
    at = draw(st.integers(0, max(size - 1, 0)))
    return _raw(lambda data: data[:at], f"truncate at {at}")


@st.composite
def flips(draw: st.DrawFn, size: int) -> Mutation:
    spots = draw(
        st.lists(
            st.tuples(st.integers(0, max(size - 1, 0)), st.integers(1, 255)), min_size=1, max_size=8
        )
    )

    def edit(data: bytes) -> bytes:
        buf = bytearray(data)
        for at, xor in spots:
            if at < len(buf):
                buf[at] ^= xor
        return bytes(buf)

    return _raw(edit, f"flip {spots}")


_VERSIONS = (
    *(b"cc=%d," % n for n in (0, 1, 2, 3, 5, 44, -1)),
    b"cc=,",
    b"cc=4",
    b"CC=4,",
    b"cc=" + b"9" * 5000 + b",",
    b"",
)


@st.composite
def versions(draw: st.DrawFn) -> Mutation:
    prefix = draw(st.sampled_from(_VERSIONS) | st.binary(max_size=8).map(lambda b: b"cc=" + b))

    def edit(data: bytes) -> bytes:
        return prefix + data.removeprefix(fuzzkit.PREFIX)

    return _raw(edit, f"version prefix {prefix[:20]!r}")


@st.composite
def huge_lengths(draw: st.DrawFn, data: bytes) -> Mutation:
    """A map32/array32/str32/bin32 header declaring up to 4 GiB, in place of a real one."""
    try:
        headers = fuzzkit.msgpack_headers(data, len(fuzzkit.PREFIX))
    except (ValueError, IndexError):
        headers = []
    if not headers or not data.startswith(fuzzkit.PREFIX):
        at = draw(st.integers(0, len(data)))
        tag = draw(st.sampled_from([b"\xdf", b"\xdd", b"\xdb", b"\xc6"])) + b"\xff" * 4
        return _raw(lambda d: d[:at] + tag + d[at:], f"insert {tag!r} at {at}")
    header = draw(st.sampled_from(headers))
    length = draw(st.sampled_from([fuzzkit.HUGE, 2**31, 2**16 + 1, len(data), len(data) + 1]))

    def edit(d: bytes) -> bytes:
        return fuzzkit.declare_length(d, header, length)

    return _raw(edit, f"{header.family} at {header.offset} declares {length}")


_BODIES: dict[str, Callable[[], bytes]] = {
    "zip bomb 64 MiB": lambda: fuzzkit.zip_bomb(64),
    "zip bomb 4 GiB declared": fuzzkit.zip_declared_bomb,
    "zip overlapping x200": lambda: fuzzkit.zip_overlapping(200),
    "zip lying directory": fuzzkit.zip_lying_directory,
    "zip lying directory (small)": lambda: fuzzkit.zip_lying_directory(3, 1 << 20),
    "tar.gz 32 MiB filler": lambda: fuzzkit.gzip_tar_bomb(32),
    "tar.gz pax bomb": lambda: fuzzkit.pax_bomb(80),
    "tar PKG-INFO declares 8 GiB": lambda: fuzzkit.sdist_tar(pkg_info_size=8 << 30),
    "tar pax header declares 64 GiB": lambda: fuzzkit.sdist_tar(pax_size=64 << 30),
    "tar PKG-INFO after 2 MiB": lambda: fuzzkit.sdist_tar(filler_mib=2),
    "gzip bomb 64 MiB": lambda: fuzzkit.gzip_zeros(64),
    "gzip of a 256 MiB gzip bomb": lambda: gzip.compress(fuzzkit.gzip_zeros(256), mtime=0),
    "empty": lambda: b"",
}
_LENGTHS = ("0", "1", "-1", "abc", "", " 12 ", "1e3", "99999999999999999999999999", "٣")
_ENCODINGS = (
    *("gzip", "x-gzip", "deflate", "br", "compress", "zstd", "xz", "bzip2", "chunked"),
    *("gzip, br", "gzip, gzip", "identity", "GZIP", " ", "gzip, identity"),
)
_TYPES = (
    *("application/vnd.pypi.simple.v1+json", "application/json", "application/octet-stream"),
    *("text/html; charset=utf-8", "text/html", "text/html; charset=bogus-9"),
)
_DATES = (
    *("Mon, 01 Jan 2024 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "yesterday", ""),
    *("Thu, 01 Jan 1970 00:00:00 +9999", "Sun, 06 Nov 1994 08:49:37 GMT" * 50),
)
_CACHE_CONTROLS = (
    *("max-age=99999999999999999999999", "max-age=-5", "max-age=abc, immutable", "no-store"),
    *("max-age=1e9", "MAX-AGE=5", ",,,=,", "max-age=" + "9" * 5000),
)
#: What an entry edit can change, and the values it draws.
_EDITS: dict[str, st.SearchStrategy[Any]] = {
    "body": st.sampled_from(sorted(_BODIES)),
    "random body": st.binary(max_size=2048),
    "truncate body": st.floats(0, 1),
    "flip body": st.lists(st.integers(0, 1 << 16), min_size=1, max_size=5),
    "Content-Length": st.sampled_from(_LENGTHS) | st.integers(0, 1 << 40).map(str),
    "Content-Encoding": st.sampled_from(_ENCODINGS),
    "Content-Type": st.sampled_from(_TYPES),
    "Date": st.sampled_from(_DATES),
    "Expires": st.sampled_from(_DATES),
    "Cache-Control": st.sampled_from(_CACHE_CONTROLS),
    "status": st.sampled_from([0, 203, 301, 304, 308, 500, -1, 2**40]),
}
_EDIT = st.sampled_from(sorted(_EDITS)).flatmap(lambda name: st.tuples(st.just(name), _EDITS[name]))


@st.composite
def entry_edits(draw: st.DrawFn) -> Mutation:
    """Changes to a parsed HTTP entry: its body, its headers, its status."""
    fix_length = draw(st.booleans())
    changes: list[tuple[str, Any]] = draw(st.lists(_EDIT, min_size=1, max_size=4))

    def apply(target: Path) -> str:
        entry = HttpEntry.load(target)
        assert entry is not None
        body = entry.body
        for name, value in changes:
            if name == "body":
                body = _BODIES[value]()
            elif name == "random body":
                body = value
            elif name == "truncate body":
                body = body[: int(len(body) * value)]
            elif name == "flip body":
                buf = bytearray(body)
                for at in value:
                    if buf:
                        buf[at % len(buf)] ^= 0x5A
                body = bytes(buf)
            elif name == "status":
                entry.response["status"] = value
            else:
                entry.set_header(name, value)
        if fix_length:  # else Content-Length stops verify before the body is looked at
            entry.set_header("Content-Length", str(len(body)))
        entry.save(body)
        return f"entry edits {changes}, Content-Length {'fixed' if fix_length else 'kept'}"

    return apply


@st.composite
def origin_edits(draw: st.DrawFn) -> Mutation:
    data = draw(st.sampled_from(fuzzkit.ORIGIN_VARIANTS) | st.binary(max_size=200))
    return _raw(lambda _: data, f"origin.json = {data[:60]!r}")


@st.composite
def wheel_edits(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(_BODIES)))
    return _raw(lambda _: _BODIES[name](), f"wheel body = {name}")


@st.composite
def mutations(draw: st.DrawFn, path: Path) -> Mutation:
    if not path.exists():  # deleted by an earlier mutation
        return _raw(lambda d: d, "nothing")
    data = path.read_bytes()
    options: list[st.SearchStrategy[Mutation]] = [truncations(len(data)), flips(len(data))]
    # Gone: a page (its files are then sniffed), half an entry, a built wheel's origin.
    options.append(st.just(_delete))
    if path.name == "origin.json":
        options.append(origin_edits())
    elif path.suffix == ".whl" or path.name.endswith(".body"):
        options.append(wheel_edits())
    elif len(path.name) == 56:
        options += [versions(), huge_lengths(data)]
        if HttpEntry.load(path) is not None:  # (not after another mutation broke it)
            options += [entry_edits()] * 3
    mutation: Mutation = draw(st.one_of(options))
    return mutation


# -- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sources(
    built_legacy_cache: BuiltCache, built_v2_cache: BuiltCache, built_mixed_cache: BuiltCache
) -> dict[str, Path]:
    return {
        "legacy": built_legacy_cache.path,
        "v2": built_v2_cache.path,
        "mixed": built_mixed_cache.path,
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.realpip
@FUZZ
@given(data=st.data())
def test_every_command_survives_damaged_entries(
    sources: dict[str, Path], workdir: Path, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(sorted(sources)), label="cache")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work = Path(tmp)
        cache = work / "cache"
        shutil.copytree(sources[kind], cache, symlinks=True)
        files = _files(cache)
        for _ in range(data.draw(st.integers(1, 3), label="damaged files")):
            rel = data.draw(st.sampled_from(files), label="file")
            mutation = data.draw(mutations(cache / rel), label="mutation")
            note(f"{rel}: {mutation(cache / rel)}")
        everycommand.age(cache)
        everycommand.run_every_command(cache, work)


BOMBS: dict[str, Callable[[], bytes]] = {
    "zip member decompressing to 1 GiB": lambda: fuzzkit.zip_bomb(1024),
    "zip overlapping 5000 x 1 MiB": lambda: fuzzkit.zip_overlapping(5000),
    "zip members declaring 4 GiB": fuzzkit.zip_declared_bomb,
    "tar.gz pax header over 64 GiB": lambda: fuzzkit.pax_bomb(200),
    "tar.gz 300 MiB before PKG-INFO": lambda: fuzzkit.gzip_tar_bomb(300),
    "Content-Encoding gzip x3, 1 GiB": lambda: gzip.compress(
        gzip.compress(fuzzkit.gzip_zeros(1024, prefix=b"PK\x03\x04"), mtime=0), mtime=0
    ),
}


@pytest.mark.realpip
@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("zip member decompressing to 1 GiB", "wheels"),  # verify --deep reads it all
        ("zip overlapping 5000 x 1 MiB", "http-v2"),
        ("zip members declaring 4 GiB", "http"),
        # In entries no cached page names, so they are sniffed:
        ("tar.gz pax header over 64 GiB", "http-v2 unnamed"),
        ("tar.gz 300 MiB before PKG-INFO", "http unnamed"),
        ("Content-Encoding gzip x3, 1 GiB", "http-v2 unnamed"),
        ("Content-Encoding gzip x3, 1 GiB", "http"),
    ],
)
def test_bombs_every_command(
    request: pytest.FixtureRequest, index_server: IndexServer, tmp_path: Path, body: str, where: str
) -> None:
    """The big ones, once each: time and memory stay bounded whatever they expand to."""
    built: BuiltCache = request.getfixturevalue("built_mixed_cache")
    cache = tmp_path / "cache"
    shutil.copytree(built.path, cache, symlinks=True)
    bomb: bytes = BOMBS[body]()
    if where == "wheels":
        (wheel,) = (cache / "wheels").rglob("*.whl")
        wheel.write_bytes(bomb)
    else:
        http_dir, _, unnamed = where.partition(" ")
        entry = fuzzkit.find_wheel(cache, http_dir)
        if unnamed:
            meta = _orphan(entry, f"{index_server.base_url}/lost/bomb")
            entry = HttpEntry.load(meta)  # type: ignore[assignment]
        if body.startswith("Content-Encoding"):
            entry.set_header("Content-Encoding", "gzip, gzip, gzip")
        entry.set_header("Content-Length", str(len(bomb)))
        entry.save(bomb)
    everycommand.age(cache)
    everycommand.run_every_command(cache, tmp_path)


# -- what fuzzing found, each on its own ------------------------------------------------------


def test_reading_a_small_page_reserves_no_big_buffer() -> None:
    """``read(limit)`` allocates ``limit`` bytes at once: 64 MiB for every cached page."""
    page = gzip.compress(b'{"meta": {"api-version": "1.1"}, "files": []}')
    tracemalloc.start()
    try:
        data = streams.decode_body(io.BytesIO(page), "gzip", 64 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.startswith(b'{"meta"')
    assert peak < MiB


def _orphan(entry: HttpEntry, url: str) -> Path:
    """A copy of ``entry`` under the key of ``url``, which no cached page lists."""
    key = hashlib.sha224(url.encode()).hexdigest()
    meta = entry.meta.parents[5].joinpath(*key[:5], key)
    meta.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(entry.meta, meta)
    if entry.body_path is not None:
        shutil.copy2(entry.body_path, meta.with_name(key + ".body"))
    return meta


def test_nested_content_encoding_bomb_is_cut_short(
    v2_cache: BuiltCache, tmp_path: Path, index_server: IndexServer
) -> None:
    """230 bytes of ``gzip, gzip, gzip`` decode to 1 GiB: export wrote all of it into DIR
    (as a wheel, when the page gave no hash), and each ``list`` spooled 256 MiB of it."""
    inner = fuzzkit.gzip_zeros(1024, prefix=b"PK\x03\x04")  # starts like a zip, like a wheel
    bomb = gzip.compress(gzip.compress(inner, mtime=0), mtime=0)
    assert len(bomb) < 1024
    entries = list(fuzzkit.http_entries(v2_cache.path))
    for page in (e for e in entries if fuzzkit.is_page(e)):  # no hashes to catch it
        fuzzkit.rewrite_page(page, lambda b: re.sub(rb'"hashes": \{[^}]*\}, ', b"", b))
    wheel = fuzzkit.find_wheel(v2_cache.path, "http-v2", "dotted-pkg")
    wheel.set_header("Content-Encoding", "gzip, gzip, gzip")
    wheel.set_header("Content-Length", str(len(bomb)))
    wheel.save(bomb)
    orphans = [_orphan(wheel, f"{index_server.base_url}/lost/{n}.whl") for n in range(4)]
    cache, dest = str(v2_cache.path), str(tmp_path / "dest")

    listed = everycommand.run_command("list", "--format", "json", "--cache-dir", cache)
    exported = everycommand.run_command(
        "export", "*", "-d", dest, "--format", "json", "--cache-dir", cache
    )

    kinds = {e["path"]: e["kind"] for e in json.loads(listed.out)["entries"]}
    assert {kinds[str(o)] for o in orphans} == {"wheel"}  # from PyPI's headers, as a hint
    # CPU time, not wall: other processes' load must not fail it (1.05 s wall seen under
    # load for ~0.1 s of work); decoding and spooling 256 MiB per orphan took seconds.
    assert listed.cpu_seconds < 1.0, listed.cpu_seconds
    report = json.loads(exported.out)
    (failed,) = [f for f in report["failed"] if f["entry_path"] == str(wheel.meta)]
    assert "limit" in failed["reason"]
    assert not (tmp_path / "dest" / "dotted_pkg-2.0-py3-none-any.whl").exists()
    assert exported.cpu_seconds < 5.0, exported.cpu_seconds


def test_gzip_bomb_in_place_of_an_index_page(v2_cache: BuiltCache) -> None:
    """Found by fuzzing: a page's 64 kB gzip body decoding to 64 MiB was read whole, by
    every command, to recover URLs. Pages are now cut at 100 times their cached size."""
    page = next(e for e in fuzzkit.http_entries(v2_cache.path) if fuzzkit.is_page(e))
    bomb = fuzzkit.gzip_zeros(64)
    page.set_header("Content-Length", str(len(bomb)))
    page.save(bomb)

    listed = everycommand.run_command("list", "--format", "json", "--cache-dir", str(v2_cache.path))

    everycommand.check(listed)  # within MEMORY_LIMIT
    assert listed.memory < 16 * MiB
    entries = json.loads(listed.out)["entries"]
    assert [e["kind"] for e in entries if e["path"] == str(page.meta)] == ["other"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda: fuzzkit.pax_bomb(100), id="tar.gz"),
        pytest.param(lambda: fuzzkit.sdist_tar(pax_size=64 << 30) + bytes(80 * MiB), id="tar"),
    ],
)
def test_pax_header_bomb_is_not_read_whole(body: Callable[[], bytes]) -> None:
    """Found by fuzzing: tarfile reads a pax header whole; one declaring 64 GiB in front of
    a gzip bomb held 65 MiB (the decoder's backstop), one in a plain tar all of the body."""
    data = body()
    tracemalloc.start()
    try:
        # Refused like any member past the scan bounds: named by its top directory, if any.
        found = sniff.sniff_body(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB
    assert found.kind in ("sdist", "other")


def test_deeply_nested_origin_json(v2_cache: BuiltCache, tmp_path: Path) -> None:
    """Found by fuzzing: ``json.loads`` of 100,000 ``[`` raises RecursionError, which is no
    ValueError: list, show, verify and export crashed on such an ``origin.json``."""
    (origin,) = (v2_cache.path / "wheels").rglob("origin.json")
    origin.write_bytes(b"[" * 100_000)
    outcomes = everycommand.run_every_command(v2_cache.path, tmp_path)
    verified = next(o for o in outcomes if o.argv[:3] == ("verify", "--format", "json"))
    problems = {p["path"]: p["problem"] for p in json.loads(verified.out)["problems"]}
    assert "not valid JSON" in problems[str(origin)]
