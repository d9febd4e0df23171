"""Nothing from the cache reaches the terminal raw: control and bidi characters planted in
every place cache content is shown (an index page's link, a METADATA and a PKG-INFO
``Name``, a built wheel's file name, a foreign file's name, a header value, a URL's user
name, an unreadable legacy entry's name) come out of every human output and every message
on stderr escaped; JSON and the paths of ``--format abspath`` off a terminal stay
exact; ``remove``, ``export`` and ``migrate`` still act on the real names.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import everycommand
import fuzzkit
from pip_cache_plus.actions import export as export_mod
from pip_cache_plus.cli.app import main
from pip_cache_plus.cli.render.escape import visible, visible_text
from pip_cache_plus.format.records import key_path
from pip_cache_plus.inventory.urls import cache_key
from realpip import BuiltCache, IndexServer

pytestmark = pytest.mark.usefixtures("index_env")

CLEAR, TITLE, CR, RLO = "\x1b[2J", "\x1b]0;pwned\x07", "\r", "\u202e"
EVIL = CLEAR + TITLE + CR + RLO
#: What a terminal obeys: C0 but newline and tab, DEL, C1, zero-width, bidi.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

# Named by a page link; the override in its platform tag, where pip still takes the name.
LINKED = f"linked-9.9-py3-none-any{RLO}lmth.whl"
PROJECT = f"named{CLEAR}proj"  # a wheel's METADATA Name, no URL names it
BUILT = f"built{TITLE}-1.0-py3-none-any.whl"  # in wheels/ (not a valid name: "invalid")
FOREIGN = f"foreign{CR}{CLEAR}file"  # not pip's, in http-v2/
ETAG = f'"etag{TITLE}{CR}"'
USER = f"us{CLEAR}er"  # the user name of a page link's URL (the password is redacted)


def _place(cache: Path, source_dir: str, url: str, like: fuzzkit.HttpEntry, body: bytes) -> Path:
    """An entry stored under ``url``'s key: ``like``'s response, with ``body``."""
    meta = cache.joinpath(source_dir, *key_path(cache_key(url)))
    meta.parent.mkdir(parents=True, exist_ok=True)
    entry = fuzzkit.HttpEntry(meta, meta.with_name(meta.name + ".body"), copy.deepcopy(like.doc))
    if source_dir == "http":
        entry.body_path = None
    entry.set_header("ETag", ETAG)
    entry.set_header("Content-Length", str(len(body)))
    entry.save(body)
    return meta


def _wheel(name: str, version: str) -> bytes:
    stem = f"x-{version}"
    wheel, _ = fuzzkit.wheel_members(stem)
    metadata = fuzzkit.Member.deflated(
        f"{stem}.dist-info/METADATA",
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
    )
    return fuzzkit.make_zip([wheel, metadata])


def plant(cache: BuiltCache, server: IndexServer) -> None:
    """Every kind of hostile name, in a cache real pip wrote."""
    source_dir = "http-v2" if (cache.path / "http-v2").is_dir() else "http"
    wheel = fuzzkit.find_wheel(cache.path, source_dir)
    host = server.base_url.removeprefix("http://")
    # A page lists a file whose URL (and so its name) holds a bidi override, behind a user
    # name with a clear-screen sequence; the file is cached under that URL's key.
    url = f"http://{quote(USER)}:pw@{host}/files/{quote(LINKED)}"
    page = next(e for e in fuzzkit.http_entries(cache.path) if fuzzkit.is_page(e))

    def add_link(body: bytes) -> bytes:
        data = json.loads(body)
        data["files"].append({"filename": LINKED, "url": url, "hashes": {}})
        return json.dumps(data).encode()

    fuzzkit.rewrite_page(page, add_link)
    linked = _wheel(LINKED.split("-", maxsplit=1)[0], "9.9")
    _place(cache.path, source_dir, url.replace(f"{quote(USER)}:pw@", ""), wheel, linked)
    # A wheel no URL or page names: its name comes from its METADATA.
    _place(cache.path, source_dir, f"http://{host}/unlisted.whl", wheel, _wheel(PROJECT, "1.0"))
    (built,) = {p.parent for p in (cache.path / "wheels").rglob("*.whl")}
    shutil.copy(next(built.glob("*.whl")), built / BUILT)
    (cache.path / "http-v2").mkdir(exist_ok=True)
    (cache.path / "http-v2" / FOREIGN).write_bytes(b"not pip's")


def _raw_in(text: str) -> list[str]:
    return sorted({repr(c) for c in RAW.findall(text)})


def _is_json(argv: tuple[str, ...]) -> bool:
    return "json" in argv


@pytest.mark.parametrize("kind", ["v2", "legacy"])
def test_no_command_prints_cache_content_raw(
    request: pytest.FixtureRequest, index_server: IndexServer, tmp_path: Path, kind: str
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    plant(cache, index_server)
    everycommand.age(cache.path)

    outcomes = everycommand.run_every_command(cache.path, tmp_path / "work")

    for outcome in outcomes:
        assert not _raw_in(outcome.err), (outcome.argv, outcome.err)
        if not _is_json(outcome.argv) and "abspath" not in outcome.argv:
            assert not _raw_in(outcome.out), (outcome.argv, _raw_in(outcome.out))
    where = ("--cache-dir", str(cache.path))
    human = everycommand.run_command("list", *where).out
    shown = everycommand.run_command("show", "*", *where).out
    # Escaped, not dropped: each planted name is there, made visible.
    planted = [e for e in _entries(where) if RAW.search(e["filename"] or e["path"])]
    names = {e["filename"] or Path(e["path"]).name for e in planted}
    assert {LINKED, BUILT, FOREIGN} <= names and len(names) == 4, names
    for name in names:
        assert visible(name) in human and visible(name) in shown
    assert visible(ETAG) in shown
    assert visible(USER) not in shown and "pw@" not in shown  # quoted in the URL: %1B


@pytest.mark.parametrize("kind", ["v2", "legacy"])
def test_json_and_piped_paths_stay_exact(
    request: pytest.FixtureRequest, index_server: IndexServer, kind: str
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    plant(cache, index_server)
    where = ("--cache-dir", str(cache.path))

    listed = json.loads(everycommand.run_command("list", "--format", "json", *where).out)
    shown = json.loads(everycommand.run_command("show", "*", "--format", "json", *where).out)
    paths = everycommand.run_command("list", "--format", "abspath", *where).out

    assert LINKED in {e["filename"] for e in listed["entries"]}
    assert BUILT in {Path(e["path"]).name for e in listed["entries"]}
    assert PROJECT.lower() in {e["project"] for e in listed["entries"]}
    assert any(e["url"] and f"{quote(USER)}:****@" in e["url"] for e in listed["entries"])
    assert ETAG in [h.get("ETag") for h in (e["headers"] for e in shown["entries"])]
    for name in (BUILT, FOREIGN):
        assert f"/{name}\n" in paths


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_paths_on_a_terminal_are_escaped(
    v2_cache: BuiltCache, index_server: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    plant(v2_cache, index_server)
    out = _Terminal()
    monkeypatch.setattr("sys.stdout", out)

    assert main(["list", "--format", "abspath", "--cache-dir", str(v2_cache.path)]) == 0

    assert not _raw_in(out.getvalue())
    assert f"/{visible(BUILT)}\n" in out.getvalue()


def test_remove_export_and_migrate_act_on_the_real_names(
    legacy_cache: BuiltCache, index_server: IndexServer, tmp_path: Path
) -> None:
    plant(legacy_cache, index_server)
    where = ("--cache-dir", str(legacy_cache.path))
    named = f"{PROJECT.lower()}-1.0-py3-none-any.whl"
    before = {e["filename"]: e for e in _entries(where) if e["filename"]}
    assert {LINKED, named} <= before.keys()

    migrated = everycommand.run_command("migrate", *where)
    export = everycommand.run_command("export", "*", "-d", str(tmp_path / "out"), *where)

    assert migrated.code == 0 and not _raw_in(migrated.out + migrated.err)
    after = {e["filename"]: e for e in _entries(where) if e["filename"]}
    assert after[LINKED]["source"] == "http-v2" and after[LINKED]["url"] == before[LINKED]["url"]
    assert export.code == 0 and not _raw_in(export.out + export.err)
    exported = {p.name for p in (tmp_path / "out").iterdir()}
    assert LINKED in exported
    # A name rebuilt from content that pip would not take is not written (export's rule),
    # and is said so, escaped.
    assert named not in exported
    assert f"{visible(named)} (http-v2): {export_mod.REASON_NOT_PIPS}" in export.out
    body = after[LINKED]["body_path"]
    assert (tmp_path / "out" / LINKED).read_bytes() == Path(body).read_bytes()

    for pattern in ("linked*", "named*"):  # one pattern per remove, as pip's
        removed = everycommand.run_command("remove", pattern, *where)
        assert removed.code == 0 and not _raw_in(removed.out + removed.err)
    assert not {LINKED, named} & {e["filename"] for e in _entries(where)}
    for gone in (after[LINKED], after[named]):
        assert not Path(gone["path"]).exists() and not Path(gone["body_path"]).exists()


def _entries(where: tuple[str, ...]) -> list[dict[str, Any]]:
    out = everycommand.run_command("list", "--format", "json", *where).out
    entries: list[dict[str, Any]] = json.loads(out)["entries"]
    return entries


@pytest.mark.parametrize(
    ("text", "value", "within"),
    [
        (CLEAR, "\\x1b[2J", "\\x1b[2J"),
        (TITLE, "\\x1b]0;pwned\\x07", "\\x1b]0;pwned\\x07"),
        ("a\rb\nc\td", "a\\x0db\\x0ac\\x09d", "a\\x0db\nc\td"),
        (RLO + "\u200b\u2066\x7f\x85\x9b", "\\u202e\\u200b\\u2066\\x7f\\x85\\x9b", None),
        ("caf\u00e9 \u4e2d \\x1b", "caf\u00e9 \u4e2d \\x1b", None),  # printable: as it is
        ("bad\udc9bbyte\udce9", "bad\\x9bbyte\udce9", None),  # a C1 byte of a file name
    ],
)
def test_escapes(text: str, value: str, within: str | None) -> None:
    assert visible(text) == value
    assert visible_text(text) == (value if within is None else within)


def _sdist(name: str, version: str) -> bytes:
    """An sdist whose PKG-INFO says ``name`` (and so does its top directory)."""
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{name}-{version}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return buf.getvalue()


#: In a core metadata field a CR ends the line (for pip's parser too): the rest of EVIL.
IN_FIELD = CLEAR + TITLE + RLO


@pytest.mark.parametrize("kind", ["v2", "legacy"])
def test_a_pkg_info_name_is_shown_escaped(
    request: pytest.FixtureRequest, index_server: IndexServer, kind: str
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    source_dir = "http-v2" if kind == "v2" else "http"
    like = fuzzkit.find_wheel(cache.path, source_dir)
    url = f"{index_server.base_url}/unlisted.tar.gz"
    _place(cache.path, source_dir, url, like, _sdist(f"sd{IN_FIELD}x", "6.6"))
    where = ("--cache-dir", str(cache.path))

    project = f"sd{IN_FIELD}x".lower()
    assert project in {e["project"] for e in _entries(where)}  # exact in JSON
    for argv in (("list",), ("show", "*"), ("du",), ("remove", "sd*", "--dry-run")):
        outcome = everycommand.run_command(*argv, *where)
        assert not _raw_in(outcome.out + outcome.err), (argv, outcome.out)
        assert visible(f"{TITLE}{RLO}x") in outcome.out, argv  # list: its rebuilt filename


def test_errors_on_stderr_quote_names_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_dir = tmp_path / f"file{EVIL}"
    not_a_dir.write_bytes(b"")
    # cli/app's error path (exit 1), the missing-cache note, and a usage error (exit 2).
    error = everycommand.run_command("list", "--cache-dir", str(not_a_dir))
    missing = everycommand.run_command("list", "--cache-dir", str(tmp_path / f"gone{EVIL}"))
    with pytest.raises(SystemExit):
        main(["export", "*", "-d", str(not_a_dir), "--cache-dir", str(tmp_path)])
    usage = capsys.readouterr().err

    assert error.code == 1
    for err in (error.err, missing.err, usage):
        assert visible(EVIL) in err
        assert not _raw_in(err), err


def test_migrate_lists_an_unreadable_legacy_entry_escaped_and_leaves_it(
    legacy_cache: BuiltCache,
) -> None:
    broken = legacy_cache.path / "http" / "e" / "v" / "i" / "l" / "x" / f"broken{EVIL}"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"cc=4,\xff")
    where = ("--cache-dir", str(legacy_cache.path))

    dry = everycommand.run_command("migrate", "--dry-run", *where)
    done = everycommand.run_command("migrate", *where)

    for outcome in (dry, done):
        assert not _raw_in(outcome.out + outcome.err), outcome
        assert visible(f"broken{EVIL}") in outcome.out
    assert broken.read_bytes() == b"cc=4,\xff"
