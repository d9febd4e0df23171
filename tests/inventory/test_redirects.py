"""Cached redirects name the entries they point to (pip caches 301 and 308 responses)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

import fuzzkit
from pip_cache_plus import Cache
from pip_cache_plus.model import CacheEntry

LINK = "https://idx.example/dl/pkg-1.0-py3-none-any.whl"
TARGET = "https://cdn.example/blobs/ab12/pkg-1.0-py3-none-any.whl"


def _wheel() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
        )
        zf.writestr("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    return buf.getvalue()


def _write(cache: Path, url: str, status: int, headers: dict[str, str], body: bytes) -> None:
    fuzzkit.write_v2(cache, url, body, headers, status=status, reason="")


def _page(cache: Path) -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "pkg",
        "files": [
            {"filename": "pkg-1.0-py3-none-any.whl", "url": "../../dl/pkg-1.0-py3-none-any.whl"}
        ],
    }
    headers = {"Content-Type": "application/vnd.pypi.simple.v1+json"}
    _write(cache, "https://idx.example/simple/pkg/", 200, headers, json.dumps(doc).encode())


def _entries(cache: Path, index_urls: list[str], memo: Path | None) -> dict[str, CacheEntry]:
    found = Cache(cache, index_urls=index_urls, memo_dir=memo).entries()
    return {e.raw.key or "": e for e in found}


def _key(url: str) -> str:
    return hashlib.sha224(url.encode()).hexdigest()


@pytest.mark.parametrize("memo", [False, True], ids=["no-memo", "memo"])
def test_an_absolute_location_names_its_target_with_nothing_configured(
    tmp_path: Path, memo: bool
) -> None:
    cache = tmp_path / "cache"
    _write(cache, LINK, 301, {"Location": TARGET, "Cache-Control": "max-age=600"}, b"")
    _write(cache, TARGET, 200, {"Content-Type": "application/octet-stream"}, _wheel())
    memo_dir = tmp_path / "memo" if memo else None
    for _ in range(2):  # cold, then (with the memo) remembered
        target = _entries(cache, [], memo_dir)[_key(TARGET)]
        assert (target.url, target.filename, target.naming.filename_from) == (
            TARGET,
            "pkg-1.0-py3-none-any.whl",
            "url",
        )


@pytest.mark.parametrize("memo", [False, True], ids=["no-memo", "memo"])
def test_a_relative_location_needs_the_redirects_own_url(tmp_path: Path, memo: bool) -> None:
    cache = tmp_path / "cache"
    _page(cache)
    relative = "/blobs/ab12/pkg-1.0-py3-none-any.whl"
    _write(cache, LINK, 308, {"Location": relative}, b"")
    target_url = "https://idx.example" + relative
    _write(cache, target_url, 200, {"Content-Type": "application/octet-stream"}, _wheel())
    memo_dir = tmp_path / "memo" if memo else None
    unknown = _entries(cache, [], memo_dir)[_key(target_url)]
    assert unknown.url is None  # the redirect's own URL is not known: neither is this one
    assert unknown.filename == "pkg-1.0-py3-none-any.whl"
    for _ in range(2):
        found = _entries(cache, ["https://idx.example/simple/"], memo_dir)
        assert found[_key(LINK)].url == LINK
        assert found[_key(target_url)].url == target_url
        assert found[_key(target_url)].naming.filename_from == "url"
