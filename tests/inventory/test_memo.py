"""memo.py: answers remembered between runs are the answers a run without them gives.

Every test compares ``list --format json`` with the memo (``PIP_CACHE_PLUS_MEMO_DIR``,
set per test by conftest) against the same command with the memo turned off, on caches
real pip wrote, before and after the changes that could make a remembered answer stale.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.inventory import identify, memo, recover
from realpip import BuiltCache

pytestmark = pytest.mark.usefixtures("index_env")


def listing(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> Any:
    assert main(["list", "--format", "json", "--cache-dir", str(cache), *args]) == 0
    return json.loads(capsys.readouterr().out)


def fresh(capsys: pytest.CaptureFixture[str], cache: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patch:
        patch.setenv(memo.MEMO_DIR_ENV, "")  # empty: no memo
        return listing(capsys, cache)


class Reads:
    """Counts the entries whose metadata a run reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = identify.read_response  # type: ignore[attr-defined]

        def counting(raw: Any) -> Any:
            self.paths.append(raw.where)
            return real(raw)

        monkeypatch.setattr(identify, "read_response", counting)


def from_memo_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cache: Path
) -> Any:
    """The listing, asserting that no entry's metadata was read for it."""
    reads = Reads(monkeypatch)
    found = listing(capsys, cache)
    assert reads.paths == []
    return found


def memo_files(own_memo_dir: Path) -> list[Path]:
    return sorted(own_memo_dir.glob("*.msgpack"))


def test_second_run_reads_nothing_and_answers_the_same(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    any_cache: BuiltCache,
    own_memo_dir: Path,
) -> None:
    cache = any_cache.path
    expected = fresh(capsys, cache, monkeypatch)
    assert memo_files(own_memo_dir) == []  # turned off: nothing written
    assert listing(capsys, cache) == expected
    (written,) = memo_files(own_memo_dir)
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert from_memo_alone(capsys, monkeypatch, cache) == expected
    assert not list(cache.rglob("*memo*"))  # never inside the cache


def test_a_changed_entry_is_read_again(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
) -> None:
    cache = v2_cache.path
    listing(capsys, cache)
    wheel = next(e for e in listing(capsys, cache)["entries"] if e["kind"] == "wheel")
    meta = Path(wheel["path"])
    st = meta.stat()
    os.utime(meta, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    reads = Reads(monkeypatch)
    after = listing(capsys, cache)
    assert meta.as_posix() in reads.paths
    # The memo was saved again, whole: nothing is read now.
    assert from_memo_alone(capsys, monkeypatch, cache) == after
    assert after == fresh(capsys, cache, monkeypatch)


def test_answers_follow_pages_removed_and_added(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    """A URL comes from a page: when the page goes, a fresh run names the file by its
    content alone, and so must a run that remembers; when it comes back, so does the URL."""
    cache = v2_cache.path
    before = listing(capsys, cache)
    page = next(e for e in before["entries"] if e["kind"] == "index" and e["project"])
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in (page["path"], page["body_path"]):
        os.rename(name, moved / Path(name).name)
    without_page = listing(capsys, cache)
    assert without_page == fresh(capsys, cache, monkeypatch)
    assert without_page != before  # the test needs a page that named something
    for name in (page["path"], page["body_path"]):
        os.rename(moved / Path(name).name, name)
    assert listing(capsys, cache) == fresh(capsys, cache, monkeypatch) == before


def test_only_the_walked_sources_are_replaced(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
) -> None:
    cache = mixed_cache.path
    listing(capsys, cache)
    listing(capsys, cache, "--source", "http")  # remembers http/ anew, keeps http-v2/
    after = from_memo_alone(capsys, monkeypatch, cache)
    assert after == fresh(capsys, cache, monkeypatch)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xdf\xff\xff\xff\xff",
        msgpack.packb({"format": 999, "entries": {}}),
        msgpack.packb([1, 2]),
        b"\x93\x01\x02",
    ],
    ids=["empty", "corrupt", "other-format", "not-a-memo", "truncated"],
)
def test_a_broken_memo_is_ignored_and_replaced(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    own_memo_dir: Path,
    content: bytes,
) -> None:
    cache = v2_cache.path
    expected = listing(capsys, cache)
    (written,) = memo_files(own_memo_dir)
    written.write_bytes(content)
    assert listing(capsys, cache) == expected
    assert msgpack.unpackb(written.read_bytes())["format"] == memo.FORMAT


def test_edited_records_are_not_trusted(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    own_memo_dir: Path,
) -> None:
    cache = v2_cache.path
    expected = listing(capsys, cache)
    (written,) = memo_files(own_memo_dir)
    data = msgpack.unpackb(written.read_bytes())
    for record in data["entries"].values():
        record[2] = 42  # a project that is not a string
    written.write_bytes(msgpack.packb(data))
    assert listing(capsys, cache) == expected


def test_a_json_memo_of_an_earlier_version_is_ignored_and_removed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    own_memo_dir: Path,
) -> None:
    cache = v2_cache.path
    expected = listing(capsys, cache)
    (written,) = memo_files(own_memo_dir)
    old = written.with_suffix(".json")
    # What format 4 wrote: answers that would be wrong now are never read.
    records = msgpack.unpackb(written.read_bytes())["entries"]
    for record in records.values():
        record[2] = "wrong"
    old_data = {"format": 4, "cache_dir": os.path.realpath(cache), "index_urls": None}
    old.write_text(json.dumps({**old_data, "entries": records}))
    written.unlink()
    assert listing(capsys, cache) == expected
    assert not old.exists()
    assert memo_files(own_memo_dir) == [written]
    assert from_memo_alone(capsys, monkeypatch, cache) == expected


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="names must be UTF-8 there")
def test_a_cache_dir_not_named_in_utf8_is_remembered(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    tmp_path: Path,
    own_memo_dir: Path,
) -> None:
    # Its paths are str with surrogate escapes (os.fsdecode), which UTF-8 cannot encode.
    cache = tmp_path / os.fsdecode(b"cache-\xff")
    shutil.copytree(v2_cache.path, cache, symlinks=True)
    expected = fresh(capsys, cache, monkeypatch)
    assert listing(capsys, cache) == expected
    assert len(memo_files(own_memo_dir)) == 1
    assert from_memo_alone(capsys, monkeypatch, cache) == expected


def test_an_unwritable_memo_dir_costs_nothing_but_time(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(memo.MEMO_DIR_ENV, str(blocker / "memo"))
    cache = v2_cache.path
    assert listing(capsys, cache) == fresh(capsys, cache, monkeypatch)
    assert capsys.readouterr().err == ""


def test_default_dir_is_the_users_cache_dir(tmp_path: Path) -> None:
    assert memo.default_dir({memo.MEMO_DIR_ENV: ""}) is None
    assert memo.default_dir({memo.MEMO_DIR_ENV: str(tmp_path)}) == tmp_path
    if sys.platform.startswith("linux"):
        found = memo.default_dir({"XDG_CACHE_HOME": str(tmp_path)})
        assert found == tmp_path / "pip_cache_plus" / "memo"
        assert memo.default_dir({"XDG_CACHE_HOME": "relative"}) == Path(
            os.path.expanduser("~/.cache/pip_cache_plus/memo")
        )


def test_a_changed_index_url_is_noticed(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    v2_cache: BuiltCache,
    own_memo_dir: Path,
) -> None:
    cache = v2_cache.path
    # Only the configured index names the pages here, not the bases their links suggest.
    monkeypatch.setattr(recover, "candidate_bases", lambda clues: [])
    before = listing(capsys, cache)  # pages found through the configured loopback index
    assert any(e["kind"] == "index" and e["url"] for e in before["entries"])
    monkeypatch.setenv("PIP_INDEX_URL", "http://me:s3cret@127.0.0.1:9/elsewhere/simple/")
    after = listing(capsys, cache)
    assert after == fresh(capsys, cache, monkeypatch)
    assert after != before  # the pages' URLs are unknown without that index
    (written,) = memo_files(own_memo_dir)
    assert b"s3cret" not in written.read_bytes()  # the memo keeps a digest of the URLs
    assert from_memo_alone(capsys, monkeypatch, cache) == after  # remembered in turn


@pytest.mark.parametrize("source", ["http-v2", "http"])
def test_one_source_is_named_as_in_a_whole_listing_with_or_without_memo(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mixed_cache: BuiltCache,
    source: str,
) -> None:
    """pip 23.2 and pip >= 23.3 fetch the same URLs: a page in one HTTP dir names entries
    in the other. With that dir's own copy of a page gone, --source must still name them
    as the whole listing does, and a memo must not change that either way."""
    cache = mixed_cache.path
    entries = fresh(capsys, cache, monkeypatch)["entries"]
    for page in [e for e in entries if e["kind"] == "index" and e["source"] == source]:
        for path in (page["path"], page["body_path"]):
            if path:
                os.unlink(path)
    whole = fresh(capsys, cache, monkeypatch)["entries"]
    shown = ("source", "kind", "project", "version", "filename", "url", "path")
    expected = [{k: e[k] for k in shown} for e in whole if e["source"] == source]
    assert any(e["url"] and e["kind"] == "wheel" for e in expected)  # named by a page
    with monkeypatch.context() as patch:
        patch.setenv(memo.MEMO_DIR_ENV, "")
        alone = listing(capsys, cache, "--source", source)["entries"]
    assert [{k: e[k] for k in shown} for e in alone] == expected
    listing(capsys, cache)  # a whole run fills the memo
    remembered = listing(capsys, cache, "--source", source)["entries"]
    assert [{k: e[k] for k in shown} for e in remembered] == expected
    listing(capsys, cache, "--source", source)  # and a memo a partial run wrote
    assert [{k: e[k] for k in shown} for e in listing(capsys, cache)["entries"]] == [
        {k: e[k] for k in shown} for e in whole
    ]
