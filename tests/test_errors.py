"""Bad input gets one clear line and a documented exit code; bad entries are reported."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from pip_cache_plus.cli import main
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
        pytest.param(["list", "--format", "xml"], "invalid choice", id="bad-format"),
        pytest.param(["list", "--source", "ftp"], "invalid choice", id="bad-source"),
        pytest.param(["frobnicate"], "invalid choice", id="bad-command"),
        pytest.param([], "required", id="no-command"),
        pytest.param(["remove"], "required", id="remove-needs-pattern"),
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


@pytest.mark.parametrize("value", ["1", "true", "false", "off"])
def test_disabled_cache_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PIP_NO_CACHE_DIR", value)
    code, _out, err = run(capsys, "info")
    assert code == 1
    assert err.startswith("error: ") and "disabled" in err
    assert err.count("\n") == 1


def test_no_cache_dir_option_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--no-cache-dir")
    assert code == 1
    assert "disabled" in err


def test_missing_cache_is_an_empty_cache(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cache = tmp_path / "does-not-exist"
    assert run(capsys, "list", "--cache-dir", str(cache))[:2] == (0, "No matching entries.\n")
    code, out, _ = run(capsys, "info", "--format", "json", "--cache-dir", str(cache))
    assert code == 0
    info = json.loads(out)
    assert [info[k]["entries"] for k in ("http_v2", "http", "wheels")] == [0, 0, 0]
    assert run(capsys, "remove", "*", "--cache-dir", str(cache))[0] == 0
    assert run(capsys, "purge", "--cache-dir", str(cache))[0] == 0
    assert not cache.exists()


def test_cache_dir_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run(capsys, "list", "--cache-dir", str(tmp_path / "file"))
    assert code == 1
    assert "not a directory" in err


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
