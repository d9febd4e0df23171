"""Cache content is never executed, secrets never printed, shared modes kept, unreadable
files reported: on caches real pip wrote, through every command.

- Pickle: a ``cc=1`` entry (pip 6.0) is a pickle; unpickling this one would create a file.
- Secrets: index pages whose file URLs carry credentials (``user:s3cret@``, ``tok3n@``),
  and an index URL that does: no output of any command shows them.
- Permissions: a group-shared cache (setgid directories, group-writable files) stays
  group-shared through ``migrate`` and the lock; a file or directory we cannot read is
  reported, and every other entry is still handled.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
import os
import pickle
import shutil
import stat
import string
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import everycommand
import fuzzkit
from everycommand import Outcome
from fuzzkit import HttpEntry
from pip_cache_plus.cli.app import main
from pip_cache_plus.inventory.urls import redact
from realpip import BuiltCache, IndexServer, scrubbed_env

SRC = Path(__file__).resolve().parent.parent / "src"


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def outcome_of(outcomes: list[Outcome], command: str, *args: str) -> Outcome:
    """The first run of ``command`` with all of ``args`` (in any order) on its line."""
    return next(o for o in outcomes if o.argv[0] == command and set(args) <= set(o.argv))


def json_of(outcomes: list[Outcome], command: str, *args: str) -> Any:
    return json.loads(outcome_of(outcomes, command, *args, "--format", "json").out)


# -- pickle -------------------------------------------------------------------------------


class _Trap:
    """Unpickling this opens ``path`` for writing, which creates it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return open, (str(self.path), "w")


@pytest.mark.parametrize("kind", ["legacy", "v2", "mixed"])
def test_pickle_entries_are_never_unpickled(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    sentinel = tmp_path / "unpickled"
    payload = b"cc=1," + pickle.dumps(_Trap(sentinel))
    pickles: list[Path] = []
    for http_dir in cache.http_dirs:
        entry = fuzzkit.find_wheel(cache.path, http_dir)
        entry.meta.write_bytes(payload)  # a real wheel's entry, so its URL is recovered
        pickles.append(entry.meta)
        if entry.body_path is not None:
            entry.body_path.write_bytes(pickle.dumps(_Trap(sentinel)))  # a pickle body, too
    (wheel,) = (cache.path / "wheels").rglob("*.whl")
    wheel.write_bytes(pickle.dumps(_Trap(sentinel)))
    everycommand.age(cache.path)

    outcomes = everycommand.run_every_command(cache.path, tmp_path / "work")

    assert not sentinel.exists()
    listed = {e["path"]: e for e in json_of(outcomes, "list")["entries"]}
    problems = {p["path"]: p["problem"] for p in json_of(outcomes, "verify")["problems"]}
    shown = {e["path"]: e for e in json_of(outcomes, "show", "*")["entries"]}
    for path in map(str, pickles):
        assert listed[path]["kind"] == "invalid"
        assert "pickle" in listed[path]["problem"]
        assert "pickle" in problems[path]
        assert "pickle" in shown[path]["problem"]
    if "http" in cache.http_dirs:
        migration = json_of(outcomes, "migrate", "--dry-run")
        unreadable = {u["path"]: u["problem"] for u in migration["unreadable_entries"]}
        assert "pickle" in unreadable[str(pickles[0])]
    exported = json_of(outcomes, "export")
    assert wheel.name not in {e["filename"] for e in exported["exported"]}


# -- secrets ------------------------------------------------------------------------------

SECRETS = ("s3cret", "tok3n", "pa55word")


def _html_page(page: dict[str, Any], href: Any) -> bytes:
    links = "".join(
        f'<a href="{html.escape(href(f))}#sha256={f["hashes"]["sha256"]}">'
        f"{html.escape(f['filename'])}</a><br/>\n"
        for f in page["files"]
    )
    title = f"Links for {html.escape(page['name'])}"
    return f"<!DOCTYPE html><html><body><h1>{title}</h1>\n{links}</body></html>\n".encode()


def add_credentials(cache: Path, file_base: str) -> int:
    """Rewrite the cached index pages so their file URLs carry credentials: absolute
    ``user:s3cret@`` URLs (JSON), absolute ``tok3n@`` URLs (HTML) and relative links
    (HTML, resolved against an index URL with credentials). Returns the pages rewritten."""
    pages = [e for e in fuzzkit.http_entries(cache) if fuzzkit.is_page(e)]
    host = file_base.removeprefix("http://")
    for index, page in enumerate(pages):
        style = index % 3
        if style == 0:
            fuzzkit.rewrite_page(
                page, lambda b: b.replace(file_base.encode(), f"http://user:s3cret@{host}".encode())
            )
            continue
        body = page.body
        if (page.header("content-encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        doc = json.loads(body)
        if style == 1:
            data = _html_page(doc, lambda f: f["url"].replace(file_base, f"http://tok3n@{host}"))
        else:
            data = _html_page(doc, lambda f: f"../../files/{f['filename']}")
        page.set_header("Content-Type", "text/html")
        fuzzkit.rewrite_page(page, lambda _, data=data: data)  # type: ignore[misc]
    return len(pages)


@pytest.mark.parametrize("kind", ["legacy", "v2", "mixed"])
def test_credentials_in_urls_are_never_printed(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    index_server: IndexServer,
    tmp_path: Path,
    kind: str,
) -> None:
    cache: BuiltCache = request.getfixturevalue(f"{kind}_cache")
    assert add_credentials(cache.path, index_server.base_url) >= 3
    (origin,) = (cache.path / "wheels").rglob("origin.json")
    data = json.loads(origin.read_text())
    data["url"] = "https://__token__:s3cret@files.example.org/sdist_only-0.5.tar.gz"
    origin.write_text(json.dumps(data))
    host = index_server.base_url.removeprefix("http://")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://admin:pa55word@{host}/simple/")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"http://tok3n@{host}/other/")
    everycommand.age(cache.path)

    outcomes = everycommand.run_every_command(cache.path, tmp_path / "work")

    for outcome in outcomes:
        for secret in SECRETS:
            assert secret not in outcome.out + outcome.err, (outcome.argv, secret)
    for path in (tmp_path / "work").rglob("*"):
        assert not any(secret in path.name for secret in SECRETS)
    # The URLs were recovered (from the pages, with their credentials), then redacted.
    urls = {e["url"] for e in json_of(outcomes, "list")["entries"] if e["url"]}
    assert any(f"user:****@{host}/files/" in url for url in urls)
    assert any(f"****@{host}/files/" in url and "user" not in url for url in urls)
    assert any(f"admin:****@{host}/files/" in url for url in urls)
    assert any(f"admin:****@{host}/simple/" in url for url in urls)
    assert "__token__:****@files.example.org" in outcome_of(outcomes, "show", "*").out


_USERINFO_CHARS = st.text(alphabet=string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:")


@settings(deadline=None)  # a loaded machine, not the code, makes one example slow
@given(
    scheme=st.sampled_from(["https", "http", "git+https", "file", "HTTPS"]),
    user=_USERINFO_CHARS,
    secret=st.text(alphabet=string.ascii_letters + string.digits, min_size=6),
    host=st.text(alphabet=string.ascii_letters + string.digits + ".-:[]@", min_size=1),
    rest=st.text(alphabet=string.ascii_letters + string.digits + string.punctuation),
    password=st.booleans(),
)
# Found by hypothesis in stop 11: a host holding "@" made the token look like a user name.
@example(scheme="https", user="", secret="000000", host=":@", rest="", password=False)
def test_redact_never_shows_a_password_or_a_lone_token(
    scheme: str, user: str, secret: str, host: str, rest: str, password: bool
) -> None:
    """Whatever the rest of the URL is (hosts urlsplit refuses included), no exception and
    no secret: the password of ``user:secret@``, or ``secret@`` alone (a token)."""
    assume(secret not in user + host + rest)
    userinfo = f"{user}:{secret}" if password else secret
    url = f"{scheme}://{userinfo}@{host}/{rest}"
    assert secret not in redact(url)


def test_unparsable_origin_url_is_redacted_not_fatal(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    """Found writing the tests above: ``urlsplit`` raises on a broken IPv6 host, and an
    ``origin.json`` holding one made list, show and export crash."""
    (origin,) = (v2_cache.path / "wheels").rglob("origin.json")
    origin.write_text(json.dumps({"url": "https://user:s3cret@[::1/sdist_only-0.5.tar.gz"}))
    outcomes = [
        everycommand.run_command(*argv, "--cache-dir", str(v2_cache.path))
        for argv in (
            ("list", "--format", "json"),
            ("show", "sdist_only"),
            ("export", "sdist_only", "-d", str(tmp_path / "dest")),
        )
    ]
    for outcome in outcomes:
        everycommand.check(outcome)
        assert "s3cret" not in outcome.out + outcome.err
    assert "https://****@[::1/sdist_only-0.5.tar.gz" in outcomes[1].out


@pytest.mark.parametrize("url", ["http://[oops/simple/", "https://user:s3cret@[::1/simple"])
def test_index_url_urlsplit_refuses_is_no_crash(
    monkeypatch: pytest.MonkeyPatch, v2_cache: BuiltCache, url: str
) -> None:
    """Found writing the tests above: a configured index URL that ``urlsplit`` refuses made
    every command that identifies entries crash; such an index names no page."""
    monkeypatch.setenv("PIP_INDEX_URL", url)
    outcome = everycommand.run_command(
        "list", "--format", "json", "--cache-dir", str(v2_cache.path)
    )
    everycommand.check(outcome)
    assert outcome.code == 0
    assert "s3cret" not in outcome.out + outcome.err


# -- permissions: group-shared caches ---------------------------------------------------------

_GROUP = 65534  # nogroup: any group but ours shows the group is inherited, not ours


@pytest.fixture
def umask_002() -> Iterator[None]:
    old = os.umask(0o002)  # what members of a shared cache's group run with
    try:
        yield
    finally:
        os.umask(old)


def share_with_group(root: Path, dir_mode: int = 0o2775, file_mode: int = 0o664) -> None:
    """Make a cache group-shared as an admin would: chgrp -R, setgid dirs, g+w files."""
    for path in [root, *root.rglob("*")]:
        if os.geteuid() == 0:
            os.chown(path, -1, _GROUP)
        path.chmod(dir_mode if path.is_dir() else file_mode)


def _modes(root: Path) -> set[tuple[str, int, int]]:
    return {
        ("dir" if p.is_dir() else "file", stat.S_IMODE(p.stat().st_mode), p.stat().st_gid)
        for p in root.rglob("*")
    }


@pytest.mark.parametrize("v2_exists", [True, False], ids=["into-http-v2", "creates-http-v2"])
def test_migrate_keeps_a_group_shared_mode(
    capsys: pytest.CaptureFixture[str],
    legacy_cache: BuiltCache,
    umask_002: None,
    v2_exists: bool,
) -> None:
    root = legacy_cache.path
    if v2_exists:
        (root / "http-v2").mkdir()
    share_with_group(root)
    group = _GROUP if os.geteuid() == 0 else os.getegid()
    code = main(["migrate", "--cache-dir", str(root)])
    assert code == 0, capsys.readouterr().err
    assert not (root / "http").exists()
    # pip's rules: files get the http-v2 dir's rw bits (and the owner's); directories are
    # made like pip's makedirs (umask), and a setgid parent passes on its group and bit.
    assert _modes(root / "http-v2") == {("dir", 0o2775, group), ("file", 0o664, group)}
    assert stat.S_IMODE((root / "http-v2").stat().st_mode) == 0o2775
    lock = root / ".pip_cache_plus.fs.lock"
    if lock.exists():
        assert stat.S_IMODE(lock.stat().st_mode) & 0o060 == 0o060


@functools.cache
def _other_user() -> tuple[str, ...] | None:
    """A command prefix that runs us as an unprivileged user, or None if we cannot: root
    without setpriv or runuser, or an interpreter that does not start as that user (a
    Python built with a shared libpython under /root, as pyenv's 3.13 here is)."""
    if os.geteuid() != 0:
        return ()  # we are one: chmod 0 makes a file unreadable to us
    if shutil.which("setpriv"):
        prefix: tuple[str, ...] = (
            "setpriv",
            f"--reuid={_GROUP}",
            f"--regid={_GROUP}",
            "--clear-groups",
        )
    elif shutil.which("runuser"):
        prefix = ("runuser", "-u", "nobody", "--")
    else:
        return None
    return prefix if run_as_other(prefix, "--version").returncode == 0 else None


_NO_OTHER_USER = "cannot act as another user (root without setpriv or runuser, or this "
_NO_OTHER_USER += "Python does not start as that user)"


def other_user_or_skip(*, as_root: str | None = None) -> tuple[str, ...]:
    """:func:`_other_user`'s prefix, or skip the test; ``as_root``: why the test also
    needs to be root (to own what the other user may not touch)."""
    prefix = _other_user()
    if prefix is None:
        pytest.skip(_NO_OTHER_USER)
    if as_root is not None and os.geteuid() != 0:
        pytest.skip(as_root)
    return prefix


def run_as_other(prefix: Sequence[str], *argv: str) -> subprocess.CompletedProcess[str]:
    env = scrubbed_env()  # no PIP_* of this machine, no pip config file
    env.update(
        PYTHONPATH=str(SRC),
        PIP_INDEX_URL=os.environ["PIP_INDEX_URL"],
        PYTHONDONTWRITEBYTECODE="1",
        HOME="/",
    )
    cmd = [*prefix, sys.executable, "-m", "pip_cache_plus", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory any user can reach (pytest's tmp_path is private to us)."""
    path = Path(tempfile.mkdtemp(prefix="pcp-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def lock_out(path: Path) -> None:
    """Make ``path`` unreadable to the other user (root's, mode 0; or just mode 0)."""
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    path.chmod(0o000)


def test_lock_file_of_a_shared_cache_works_for_the_whole_group(
    built_v2_cache: BuiltCache, open_dir: Path
) -> None:
    """One member of the group runs a mutating command, then another does."""
    prefix = other_user_or_skip(as_root="needs root, to act as two users")
    cache = open_dir / "cache"
    shutil.copytree(built_v2_cache.path, cache, symlinks=True)
    share_with_group(cache)
    old = os.umask(0o022)  # the first user does not care about the group
    try:
        assert main(["prune", "--cache-dir", str(cache)]) == 0
    finally:
        os.umask(old)
    proc = run_as_other(prefix, "remove", "tiny_pure", "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


# -- permissions: what we cannot read --------------------------------------------------------


def _unreadable_setup(built: BuiltCache, root: Path) -> dict[str, Path]:
    """A mixed cache the other user owns, but for one file of each kind and one directory."""
    cache = root / "cache"
    shutil.copytree(built.path, cache, symlinks=True)
    if os.geteuid() == 0:
        for path in [cache, *cache.rglob("*")]:
            os.chown(path, _GROUP, _GROUP, follow_symlinks=False)

    def wheel(http_dir: str, name: str, version: str) -> HttpEntry:
        return fuzzkit.find_wheel(cache, http_dir, name, version)

    (built_wheel,) = (cache / "wheels").rglob("*.whl")
    legacy = wheel("http", "tiny-pure", "1.0")
    body = wheel("http-v2", "tiny-pure", "1.0")
    meta = wheel("http-v2", "dotted-pkg", "2.0")
    hidden = wheel("http-v2", "mixed-case", "0.2")
    assert body.body_path is not None
    targets = {
        "legacy file": legacy.meta,
        "http-v2 metadata": meta.meta,
        "http-v2 body": body.body_path,
        "built wheel": built_wheel,
        "directory": hidden.meta.parent,
    }
    for path in targets.values():
        lock_out(path)
    return targets


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("list", "--format", "json"), id="list"),
        pytest.param(("verify", "--format", "json"), id="verify"),
        pytest.param(("verify", "--deep", "--format", "json"), id="verify-deep"),
        pytest.param(("export", "*", "-d", "{dest}", "--format", "json"), id="export"),
        pytest.param(("migrate", "--format", "json"), id="migrate"),
        pytest.param(("remove", "*", "--format", "json"), id="remove"),
        pytest.param(("remove", "*", "--dry-run", "--format", "json"), id="remove-dry-run"),
        pytest.param(("prune", "--max-size", "0", "--format", "json"), id="prune"),
    ],
)
def test_unreadable_files_are_reported_not_fatal(
    built_mixed_cache: BuiltCache, open_dir: Path, argv: tuple[str, ...]
) -> None:
    prefix = other_user_or_skip()
    targets = _unreadable_setup(built_mixed_cache, open_dir)
    cache = open_dir / "cache"
    dest = open_dir / "dest"
    dest.mkdir()
    if os.geteuid() == 0:
        os.chown(dest, _GROUP, _GROUP)
    args = [a.format(dest=dest) for a in argv]
    proc = run_as_other(prefix, *args, "--cache-dir", str(cache))
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    text = proc.stdout
    variant = next((a for a in argv if a in ("--deep", "--dry-run")), "")
    check = _CHECKS[f"{argv[0]}-{variant[2:]}" if variant else argv[0]]
    check(report, text, targets, cache, dest)
    if argv[0] == "remove":  # what could not be removed is an error: exit 1
        assert proc.returncode == 1, proc.stderr


def _reported(text: str, path: Path) -> bool:
    return json.dumps(str(path)) in text


def _check_list(report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path) -> None:
    by_path = {e["path"]: e for e in report["entries"]}
    for name in ("legacy file", "http-v2 metadata"):
        entry = by_path[str(targets[name])]
        assert entry["kind"] == "invalid" and "cannot be read" in entry["problem"], name
    assert "cannot be read" in by_path[str(targets["directory"])]["problem"]
    valid = [e for e in report["entries"] if e["kind"] != "invalid"]
    assert len(valid) >= 30  # the rest of the mixed cache, identified as ever


def _check_verify(
    report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path
) -> None:
    problems = {p["path"]: p["problem"] for p in report["problems"]}
    for name in ("legacy file", "http-v2 metadata", "http-v2 body", "built wheel", "directory"):
        assert "Permission denied" in problems.get(str(targets[name]), ""), (name, problems)
    assert report["bad_entries"] == 5
    assert report["entries"] >= 35


def _check_export(
    report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path
) -> None:
    exported = {e["filename"] for e in report["exported"]}
    failed = {e["filename"]: e["reason"] for e in report["failed"]}
    # tiny_pure-1.0's two copies are both unreadable; the built wheel is; the rest goes.
    assert "Permission denied" in failed["tiny_pure-1.0-py3-none-any.whl"]
    assert "Permission denied" in failed["sdist_only-0.5-py3-none-any.whl"]
    assert {"dotted_pkg-2.0-py3-none-any.whl", "tiny_pure-1.1.tar.gz"} <= exported
    assert all((dest / name).is_file() for name in exported)


def _check_migrate(
    report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path
) -> None:
    unreadable = {u["path"]: u["problem"] for u in report["unreadable_entries"]}
    assert "Permission denied" in unreadable[str(targets["legacy file"])]
    # The entry whose http-v2 directory is not ours stays, said so; the run goes on.
    hidden = targets["directory"]
    blocked = cache / "http" / hidden.relative_to(cache / "http-v2")
    assert not report["stopped"]
    assert [str(hidden) in e and str(blocked) in e for e in report["errors"]] == [True]
    # Every other legacy entry is in http-v2 (already, or now) and gone from http/.
    assert report["migrated"] + report["already_present"] >= 15
    left = {p for p in (cache / "http").rglob("*") if p.is_file()}
    assert left == {targets["legacy file"], *blocked.iterdir()}


def _files(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.startswith("."))


def _check_remove(
    report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path
) -> None:
    # Removing needs no reading: only what sits in the unreadable directory stays, and
    # it is an error, not a removed entry.
    assert all(targets["directory"] in p.parents for p in _files(cache)), _files(cache)
    assert str(targets["directory"]) not in {e["path"] for e in report["entries"]}
    (error,) = [e for e in report["errors"] if e.startswith(f"{targets['directory']}:")]
    assert "cannot be read" in error and "nothing in it was removed" in error


def _check_remove_dry_run(
    report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path
) -> None:
    # What the real run does (above), announced: the directory is an error, not counted.
    assert str(targets["directory"]) not in {e["path"] for e in report["entries"]}
    assert any(e.startswith(f"{targets['directory']}:") for e in report["errors"])
    assert targets["directory"].exists() and targets["http-v2 body"].exists()


def _check_prune(report: Any, text: str, targets: dict[str, Path], cache: Path, dest: Path) -> None:
    # What cannot be read is not prune's to judge: kept, and said so; the rest goes.
    kept = {e["path"]: e["reason"] for e in report["kept"]}
    for name in ("legacy file", "http-v2 metadata", "directory"):
        assert kept[str(targets[name])] == "unreadable", name
    assert not targets["http-v2 body"].exists()
    assert not targets["built wheel"].exists()
    left = {p for p in _files(cache) if targets["directory"] not in p.parents}
    meta = targets["http-v2 metadata"]
    assert left == {targets["legacy file"], meta, meta.with_name(meta.name + ".body")}


_CHECKS = {
    "list": _check_list,
    "verify": _check_verify,
    "verify-deep": _check_verify,
    "export": _check_export,
    "migrate": _check_migrate,
    "remove": _check_remove,
    "remove-dry-run": _check_remove_dry_run,
    "prune": _check_prune,
}


@pytest.mark.parametrize("where", ["cache", "cache/sub"])
def test_a_cache_dir_we_cannot_read_is_one_line_exit_1(
    built_v2_cache: BuiltCache, open_dir: Path, where: str
) -> None:
    """Someone else's private cache (mode 700), or a path below it: one error line for
    every command that reads it, never a traceback; ``dir`` just says where it is."""
    prefix = other_user_or_skip()
    cache = open_dir / "cache"
    shutil.copytree(built_v2_cache.path, cache, symlinks=True)
    cache.chmod(0o700)
    if prefix == ():
        cache.chmod(0)  # not root: our own cache, made unreadable to us
    target = str(open_dir / where)
    for command in (["list"], ["info"], ["verify"], ["purge"], ["prune"], ["migrate"]):
        proc = run_as_other(prefix, *command, "--cache-dir", target)
        assert proc.returncode == 1, (command, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "cannot be read" in proc.stderr, proc.stderr
    proc = run_as_other(prefix, "dir", "--cache-dir", target)
    assert proc.returncode == 0 and proc.stdout.strip() == target, proc.stderr
    if prefix == ():
        cache.chmod(0o700)  # so that the fixture can remove it


def test_entries_that_could_not_be_removed_are_errors_not_removed(
    built_mixed_cache: BuiltCache, open_dir: Path
) -> None:
    """An entry in a directory the user may not write to stays: it is an error line and
    exit 1, and the report does not list it among the removed."""
    prefix = other_user_or_skip()
    targets = _unreadable_setup(built_mixed_cache, open_dir)
    for path in targets.values():  # the other user's again...
        path.chmod(0o755 if path.is_dir() else 0o644)
        if os.geteuid() == 0:
            os.chown(path, _GROUP, _GROUP)
    stuck = targets["http-v2 metadata"]
    stuck.parent.chmod(0o555)  # ...but this entry's directory is not writable
    if os.geteuid() == 0:
        os.chown(stuck.parent, 0, 0)
    cache = open_dir / "cache"
    proc = run_as_other(prefix, "remove", "*", "--format", "json", "--cache-dir", str(cache))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert str(stuck) not in {e["path"] for e in report["entries"]}
    assert any(e.startswith(str(stuck)) and "ermission denied" in e for e in report["errors"])
    assert f"error: could not remove {stuck}" in proc.stderr
    assert stuck.exists()
    assert [p for p in _files(cache) if p.parent != stuck.parent] == []


def test_a_cache_dir_we_may_not_write_to_says_so(
    built_v2_cache: BuiltCache, open_dir: Path
) -> None:
    """No lock file yet, and none can be made: not 'another user made it'."""
    prefix = other_user_or_skip(as_root="needs root, to own the cache")
    cache = open_dir / "cache"
    shutil.copytree(built_v2_cache.path, cache, symlinks=True)
    cache.chmod(0o755)  # root's: readable, not writable, by the other user
    proc = run_as_other(prefix, "remove", "*", "--cache-dir", str(cache))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"you may not write to {cache}" in proc.stderr and "another user" not in proc.stderr


def test_an_export_dir_that_cannot_be_created_is_exit_1(
    built_v2_cache: BuiltCache, open_dir: Path
) -> None:
    """Not bad usage (exit 2): the place is refused."""
    prefix = other_user_or_skip(as_root="needs root, to own the parent")
    cache = open_dir / "cache"
    shutil.copytree(built_v2_cache.path, cache, symlinks=True)
    parent = open_dir / "closed"
    parent.mkdir(mode=0o755)  # root's
    dest = parent / "wheelhouse"
    proc = run_as_other(prefix, "export", "*", "-d", str(dest), "--cache-dir", str(cache))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot create {dest}" in proc.stderr and not dest.exists()


@pytest.mark.parametrize("command", [["purge"], ["purge", "--legacy"], ["migrate"]])
def test_dry_run_counts_match_with_an_unreadable_source_dir(
    built_mixed_cache: BuiltCache, open_dir: Path, command: list[str]
) -> None:
    """The real run cannot list (so never removes) a source dir it may not read; the
    dry run must not count it either."""
    prefix = other_user_or_skip()
    counts = []
    for name in ("dry", "real"):
        cache = open_dir / name
        shutil.copytree(built_mixed_cache.path, cache, symlinks=True)
        if os.geteuid() == 0:
            for path in [cache, *cache.rglob("*")]:
                os.chown(path, _GROUP, _GROUP, follow_symlinks=False)
        lock_out(cache / ("http" if command != ["purge"] else "http-v2"))
        extra = ["--dry-run"] if name == "dry" else []
        proc = run_as_other(prefix, *command, *extra, "--format", "json", "--cache-dir", str(cache))
        assert "Traceback" not in proc.stderr, proc.stderr
        report = json.loads(proc.stdout)
        key = "directories_removed" if command == ["migrate"] else "directories"
        counts.append(report[key])
    assert counts[0] == counts[1]
