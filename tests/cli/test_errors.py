"""Bad input gets one clear line and a documented exit code; bad entries are reported."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pip_cache_plus.cli.app import main
from pip_cache_plus.fs.fsio import read_all
from realpip import BuiltCache

MARKER_NAME = "pwned-by-pickle"


pytestmark = pytest.mark.usefixtures("isolated_pip_env")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse exits for usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["list", "--older-than", "5x"], "bad age", id="bad-age"),
        pytest.param(["list", "--older-than", "yesterday"], "bad age", id="bad-age-word"),
        pytest.param(["list", "--kind", "egg"], "bad kind", id="bad-kind"),
        pytest.param(["prune", "--max-size", "9" * 400], "too large", id="huge-size"),
        pytest.param(["list", "--format", "xml"], "invalid choice", id="bad-format"),
        pytest.param(["list", "--source", "ftp"], "invalid choice", id="bad-source"),
        pytest.param(["remove", "a/b"], "bad pattern", id="pattern-with-path"),
        pytest.param(["remove", "pip=="], "bad pattern", id="pattern-no-version"),
        pytest.param(["remove", ""], "pattern is empty", id="empty-pattern"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "keep.txt").write_text("x")
    code, out, err = run(capsys, "--cache-dir", str(cache), *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert words in err
    assert "Traceback" not in err
    assert (cache / "wheels" / "keep.txt").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["frobnicate"], "invalid choice", id="bad-command"),
        pytest.param(["lst"], "did you mean 'list'?", id="misspelt-command"),
        pytest.param([], "required: COMMAND", id="no-command"),
    ],
)
def test_a_missing_or_unknown_command_exits_1_as_pip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], words: str
) -> None:
    # pip cache exits 1 with 'Need an action'; our one line names the choices.
    code, out, err = run(capsys, "--cache-dir", str(tmp_path), *args)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and words in err, err


@pytest.mark.parametrize("value", ["1", "true", "false", "off"])
def test_disabled_cache_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PIP_NO_CACHE_DIR", value)
    code, _out, err = run(capsys, "du")
    assert code == 1
    assert err.startswith("error: ") and "disabled" in err
    assert err.count("\n") == 1
    # pip's own commands say it as pip does.
    code, out, err = run(capsys, "info")
    assert (code, out) == (1, "")
    assert err == "ERROR: pip cache commands can not function since cache is disabled.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["remove"], "Please provide a pattern", id="remove-needs-pattern"),
        pytest.param(["remove", "a", "b"], "Too many arguments", id="remove-two"),
        pytest.param(["list", "a", "b"], "Too many arguments", id="list-two"),
        pytest.param(["dir", "a"], "Too many arguments", id="dir-one"),
        pytest.param(["info", "a"], "Too many arguments", id="info-one"),
        pytest.param(["purge", "a"], "Too many arguments", id="purge-one"),
    ],
)
def test_pip_commands_refuse_words_as_pip(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    cache = tmp_path / "cache"
    (cache / "wheels").mkdir(parents=True)
    (cache / "wheels" / "a-1-py3-none-any.whl").write_text("x")
    code, out, err = run(capsys, "--cache-dir", str(cache), *args)
    assert (code, out, err) == (1, "", f"ERROR: {message}\n")
    assert (cache / "wheels" / "a-1-py3-none-any.whl").exists()


def test_no_cache_dir_option_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--no-cache-dir")
    assert code == 1
    assert "disabled" in err


def test_missing_cache_is_an_empty_cache(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "does-not-exist"
    assert run(capsys, "list", "--cache-dir", str(cache))[:2] == (
        0,
        "No locally built wheels cached.\n",
    )
    code, out, _ = run(capsys, "info", "--format", "json", "--cache-dir", str(cache))
    assert code == 0
    info = json.loads(out)
    assert [info[k]["entries"] for k in ("http_v2", "http", "wheels")] == [0, 0, 0]
    assert run(capsys, "remove", "*", "--cache-dir", str(cache))[0] == 0
    assert run(capsys, "purge", "--cache-dir", str(cache))[0] == 0
    assert not cache.exists()


@pytest.mark.parametrize(
    ("where", "words"),
    [
        pytest.param("file", "is not a directory", id="a-file"),
        pytest.param("file/sub", "a part of its path is a file", id="below-a-file"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["list"], ["info"], ["verify"], ["purge"], ["migrate"], ["prune", "--max-size", "0"]],
    ids=lambda c: c[0],
)
def test_cache_dir_that_cannot_be_a_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str, words: str, command: list[str]
) -> None:
    (tmp_path / "file").write_text("x")
    code, out, err = run(capsys, *command, "--cache-dir", str(tmp_path / where))
    assert code == 1
    assert out == "" and err.count("\n") == 1 and words in err, err
    assert (tmp_path / "file").read_text() == "x"


def _place(cache: Path, source: str, url: str, data: bytes, suffix: str = "") -> Path:
    key = hashlib.sha224(url.encode()).hexdigest()
    path = cache / source / key[0] / key[1] / key[2] / key[3] / key[4] / (key + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class _Marker:
    """Unpickling this creates a file: proof that nothing unpickled the entry."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _bad_entries(cache: Path, marker: Path) -> dict[str, str]:
    """Hand-built broken entries beside real ones; returns path -> expected problem words."""
    legacy = b"cc=4," + msgpack.packb(
        {
            "response": {
                "body": b"x" * 1000,
                "headers": {},
                "status": 200,
                "version": 11,
                "reason": "OK",
                "strict": 0,
                "decode_content": False,
            },
            "vary": {},
        },
        use_bin_type=True,
    )
    made = {
        _place(
            cache, "http", "https://h/pickle", b"cc=1," + pickle.dumps(_Marker(marker))
        ): "never unpickles",
        _place(cache, "http", "https://h/cc2", b"cc=2,xyz"): "cc=2",
        _place(cache, "http", "https://h/truncated", legacy[:200]): "truncated",
        _place(cache, "http", "https://h/garbage", os.urandom(64)): "not a pip cache entry",
        _place(cache, "http-v2", "https://h/nobody", legacy): "without its .body",
        _place(cache, "http-v2", "https://h/nometa", b"body", ".body"): "without its metadata",
        _place(cache, "http-v2", "https://h/tmp", b"half", "x1y2.tmp"): "temporary",
        _place(cache, "http-v2", "https://h/badmeta", b"cc=4,\xc1\xc1", ""): "corrupt",
    }
    _place(cache, "http-v2", "https://h/badmeta", b"body", ".body")
    return {str(path): words for path, words in made.items()}


def test_broken_entries_are_listed_as_invalid_never_a_crash(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache, tmp_path: Path
) -> None:
    marker = tmp_path / MARKER_NAME
    expected = _bad_entries(v2_cache.path, marker)
    code, out, err = run(capsys, "list", "--format", "json", "--cache-dir", str(v2_cache.path))
    assert code == 0, err
    entries = json.loads(out)["entries"]
    invalid = {e["path"]: e["problem"] for e in entries if e["kind"] == "invalid"}
    assert set(invalid) == set(expected)
    for path, words in expected.items():
        assert words in invalid[path], (path, invalid[path])
    assert sum(e["kind"] == "wheel" for e in entries) >= 4  # the real ones still there
    code, out, _ = run(capsys, "list", "--kind", "invalid", "--cache-dir", str(v2_cache.path))
    assert code == 0 and out.count(", invalid, ") == len(expected)
    code, _, _ = run(capsys, "remove", "*", "--kind", "invalid", "--cache-dir", str(v2_cache.path))
    assert code == 0
    assert not any(Path(p).exists() for p in expected)
    assert not marker.exists()


def test_module_entry_point_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_cache_plus",
            "list",
            "--older-than",
            "nope",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("python -m pip_cache_plus list: error: argument --older-than")


def _first(top: Path, pattern: str) -> Path:
    return next(p for p in sorted(top.rglob(pattern)) if p.is_file() and not p.is_symlink())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifos_are_invalid_entries_and_never_block(mixed_cache: BuiltCache, tmp_path: Path) -> None:
    """A FIFO opened for reading blocks until someone writes: in a cache (pip never makes
    one) it would hang every command that reads the file."""
    cache = mixed_cache.path
    meta = _first(cache / "http-v2", "?" * 56)
    fifos = [meta.with_name(meta.name + ".body"), _first(cache / "http", "?" * 56)]
    fifos.append(_first(cache / "wheels", "*.whl"))
    for fifo in fifos:
        fifo.unlink()
        os.mkfifo(fifo)
    commands = [
        ["list", "--format", "json"],
        ["verify", "--format", "json"],
        ["show", "*", "--format", "json"],
        ["export", "*", "-d", str(tmp_path / "out"), "--format", "json"],
        ["remove", "*", "--dry-run", "--format", "json"],
        ["prune", "--max-size", "0", "--dry-run", "--format", "json"],
    ]
    outputs = {}
    for args in commands:
        cmd = [sys.executable, "-m", "pip_cache_plus", "--cache-dir", str(cache), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        assert proc.stdout.startswith("{"), (args, proc.returncode, proc.stderr)
        outputs[args[0]] = json.loads(proc.stdout)
    problems = {e["path"]: e["problem"] for e in outputs["list"]["entries"]}
    for fifo in fifos:
        assert "not a regular file" in problems[str(fifo)]
    assert "without its .body" in problems[str(meta)]
    assert all(fifo.exists() for fifo in fifos)  # --dry-run everywhere: nothing removed


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_in_a_files_place_after_the_walk_reads_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "k"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(read_all(fifo, 1024)), daemon=True)
    reader.start()
    reader.join(timeout=30)  # without O_NONBLOCK the open blocks until a writer comes
    assert got == [b""]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="file names are Unicode there")
def test_file_names_that_are_not_utf8_print_as_they_are(v2_cache: BuiltCache) -> None:
    """Under a UTF-8 locale Python writes stdout strictly; a name's undecodable bytes
    (lone surrogates in Python) made human output fail, after ``remove`` had removed."""
    odd = os.path.join(os.fsencode(v2_cache.path), b"http-v2", b"\xff\xe9-notes")
    with open(odd, "wb") as fp:
        fp.write(b"x")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    prefix = [sys.executable, "-m", "pip_cache_plus", "--cache-dir", str(v2_cache.path)]
    for args in (["list"], ["list", "--format", "abspath"], ["remove", "*", "--kind", "invalid"]):
        proc = subprocess.run([*prefix, *args], capture_output=True, env=env, check=False)
        assert proc.returncode == 0, (args, proc.stderr)
        if args[0] == "list":
            assert b"\xff\xe9-notes" in proc.stdout, args  # the real bytes: a usable path
    assert not os.path.exists(odd)


def test_a_truncated_body_is_invalid_in_list_as_verify_says(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    """pip would serve a body shorter than its Content-Length, and the wheel then fails
    to install: list calls it invalid (so prune clears it), with verify's words."""
    code, out, _ = run(capsys, "list", "--format", "json", "--cache-dir", str(v2_cache.path))
    wheel = next(e for e in json.loads(out)["entries"] if e["kind"] == "wheel" and e["body_path"])
    meta, body = wheel["path"], Path(wheel["body_path"])
    with open(body, "r+b") as fp:
        fp.truncate(100)
    for _ in range(2):  # the second run answers from the memo
        code, out, _ = run(capsys, "list", "--format", "json", "--cache-dir", str(v2_cache.path))
        assert code == 0
        entry = next(e for e in json.loads(out)["entries"] if e["path"] == meta)
        assert entry["kind"] == "invalid", entry
        assert entry["problem"].startswith("body is 100 bytes, Content-Length says ")
        assert (entry["filename"], entry["url"]) == (wheel["filename"], wheel["url"])  # named
    code, out, _ = run(capsys, "verify", "--format", "json", "--cache-dir", str(v2_cache.path))
    (problem,) = [p for p in json.loads(out)["problems"] if p["path"] in (meta, str(body))]
    assert problem["problem"] == entry["problem"]
