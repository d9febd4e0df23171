"""How uncertain names show: a .metadata several wheels share, a name rebuilt from content."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import msgpack
import pytest

from pip_cache_plus.cli.app import main

META = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\n"
PURE = "pkg-1.0-py3-none-any.whl"
PLAT = "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def _write(cache: Path, url: str, headers: dict[str, str], body: bytes) -> None:
    key = hashlib.sha224(url.encode()).hexdigest()
    directory = cache.joinpath("http-v2", *key[:5])
    directory.mkdir(parents=True)
    response = {
        "body": b"", "headers": headers, "status": 200, "version": 11, "reason": "OK",
        "decode_content": False,
    }  # fmt: skip
    (directory / (key + ".body")).write_bytes(body)
    (directory / key).write_bytes(b"cc=4," + msgpack.packb({"response": response, "vary": {}}))


def _wheel(tags: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg-1.0.dist-info/METADATA", META)
        wheel = "Wheel-Version: 1.0\n" + "".join(f"Tag: {t}\n" for t in tags)
        zf.writestr("pkg-1.0.dist-info/WHEEL", wheel)
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    return buf.getvalue()


def _cache(tmp_path: Path) -> Path:
    """A private index's page (relative links) listing two wheels whose metadata is the
    same; one .metadata and a third wheel (listed nowhere) cached."""
    cache = tmp_path / "cache"
    meta_sha = hashlib.sha256(META).hexdigest()
    files = [
        {"filename": name, "url": f"../../files/{name}", "hashes": {"sha256": "0" * 64},
         "core-metadata": {"sha256": meta_sha}}
        for name in (PURE, PLAT)
    ]  # fmt: skip
    page = {"meta": {"api-version": "1.1"}, "name": "pkg", "files": files}
    page_type = {"Content-Type": "application/vnd.pypi.simple.v1+json"}
    _write(cache, "https://pkgs.example/simple/pkg/", page_type, json.dumps(page).encode())
    _write(cache, f"https://pkgs.example/files/{PURE}.metadata", {}, META)
    tags = ["cp312-cp312-win_amd64", "cp312-cp312-win32"]
    _write(cache, "https://pkgs.example/files/other.whl", {}, _wheel(tags))
    return cache


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


@pytest.mark.usefixtures("isolated_pip_env")
def test_uncertain_names_say_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cache = str(_cache(tmp_path))
    entries = json.loads(_run(capsys, "--cache-dir", cache, "list", "--format", "json"))["entries"]
    by_kind = {e["kind"]: e for e in entries}
    metadata, wheel = by_kind["metadata"], by_kind["wheel"]
    assert (metadata["filename"], metadata["filename_from"]) == (None, None)
    assert metadata["candidates"] == [f"{PURE}.metadata", f"{PLAT}.metadata"]
    assert metadata["url_unknown"] == "page-url-unknown"
    rebuilt = "pkg-1.0-cp312-cp312-win_amd64.win32.whl"
    assert (wheel["filename"], wheel["filename_from"], wheel["candidates"]) == (
        rebuilt,
        "content",
        None,
    )
    assert wheel["url_unknown"] == "not-listed"  # the page lists no file with its sha256
    human = _run(capsys, "--cache-dir", cache, "list")
    assert (
        " - pkg 1.0 [metadata] (" in human
        and f"metadata, http-v2; one of: {PURE}.metadata, " in human
    )
    assert f" - {rebuilt} (" in human and "wheel, http-v2; name rebuilt from content)" in human
    shown = _run(capsys, "--cache-dir", cache, "show", "pkg", "--kind", "metadata")
    assert f"Name from: one of several files the cached pages list: {PURE}.metadata" in shown
    # With the page's URL known, the .metadata's own URL is proven: one file, no doubt.
    named = json.loads(
        _run(capsys, "--cache-dir", cache, "list", "--format", "json",
             "-i", "https://pkgs.example/simple/")
    )["entries"]  # fmt: skip
    (metadata,) = (e for e in named if e["kind"] == "metadata")
    assert (metadata["filename"], metadata["filename_from"]) == (f"{PURE}.metadata", "url")
