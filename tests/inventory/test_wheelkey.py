"""A built wheel without origin.json gets its sdist's URL only when its directory's name
is the hash pip would file a wheel built from that URL under (pip 21.3's own cache code
gives the same hash: tests/inventory/test_noconfig_realpip.py on real caches)."""

from __future__ import annotations

import hashlib

from pip_cache_plus.inventory.wheelkey import prove_built_origins, wheel_dir_hash
from pip_cache_plus.model import CacheEntry, FileStat, Naming, RawEntry

URL = "https://pkgs.example/files/demo-1.0.tar.gz"
SHA = "ab" * 32
NO_ORIGIN = Naming("file", url_unknown="no-origin")


def _wheel(h: str, version: str = "1.0") -> CacheEntry:
    where = f"/c/wheels/{h[:2]}/{h[2:4]}/{h[4:6]}/{h[6:]}/demo-{version}-py3-none-any.whl"
    raw = RawEntry("wheels", (FileStat(where, 1, 0.0, 0.0),))
    filename = f"demo-{version}-py3-none-any.whl"
    return CacheEntry(raw, "wheel", "demo", version, filename, naming=NO_ORIGIN)


def _sdist(url: str = URL, sha256: str | None = SHA, version: str = "1.0") -> CacheEntry:
    raw = RawEntry("http-v2", (FileStat("/c/http-v2/x", 1, 0.0, 0.0),), key="x")
    filename = f"demo-{version}.tar.gz"
    return CacheEntry(
        raw, "sdist", "demo", version, filename, url, sha256=sha256, naming=Naming("url")
    )


def test_pips_own_hash_of_a_link() -> None:
    # pip 21.3's Cache._get_cache_path_parts for this link on CPython 3.11, by hand:
    # sha224('{"interpreter_name":"cp","interpreter_version":"311","sha256":"abab...",
    #          "url":"https://pkgs.example/files/demo-1.0.tar.gz"}')
    text = f'{{"interpreter_name":"cp","interpreter_version":"311","sha256":"{SHA}","url":"{URL}"}}'
    assert wheel_dir_hash(URL + "#sha256=" + SHA, ("cp", "311"), "sha256", SHA) == (
        hashlib.sha224(text.encode()).hexdigest()
    )


def test_the_sdist_whose_link_gives_the_directory_is_the_origin() -> None:
    answers = [_sdist(), _wheel(wheel_dir_hash(URL, ("cp", "311"), "sha256", SHA))]
    prove_built_origins(answers)
    assert (answers[1].url, answers[1].naming) == (URL, Naming("file"))


def test_a_link_without_a_hash_is_tried_too() -> None:
    answers = [_sdist(sha256=None), _wheel(wheel_dir_hash(URL, ("pp", "310")))]
    prove_built_origins(answers)
    assert answers[1].url == URL


def test_no_proof_no_url() -> None:
    other = "https://mirror.example/files/demo-1.0.tar.gz"
    h = wheel_dir_hash(other, ("cp", "311"), "sha256", SHA)
    cases = [
        [_sdist(), _wheel(h)],  # another URL built it
        [_sdist(url=other, version="2.0"), _wheel(h)],  # the right URL, another release
        [_sdist(url=other), _wheel("0" * 55 + "g")],  # not a hash at all
        [_wheel(h)],  # no sdist known
    ]
    for answers in cases:
        prove_built_origins(answers)
        assert (answers[-1].url, answers[-1].naming) == (None, NO_ORIGIN)
