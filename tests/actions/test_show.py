"""show: freshness by cachecontrol's rules, and "where is my cached wheel coming from?"."""

from __future__ import annotations

import calendar
import email.utils
import json
import os
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.actions.show import READERS, cache_control, freshness, http_date
from pip_cache_plus.cli.app import main
from pip_cache_plus.cli.render import iso
from pip_cache_plus.format.records import CachedResponse, serialize_v2_metadata
from realpip import BuiltCache, cache_entry_path

DATE = calendar.timegm((2026, 1, 1, 0, 0, 0))  # the response's Date header
HTTP_DATE = "Thu, 01 Jan 2026 00:00:00 GMT"
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z


# Every test runs as a user whose pip is configured for the loopback index.
pytestmark = pytest.mark.usefixtures("index_env")


def response(status: int = 200, /, **headers: str) -> CachedResponse:
    """Headers as keyword arguments: ``cache_control="..."`` -> ``Cache-Control``."""
    named = tuple((name.replace("_", "-").title(), value) for name, value in headers.items())
    return CachedResponse(status, named, 11, "OK", False, ())


def http(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# -- freshness: pure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "age", "fresh", "basis", "lifetime"),
    [
        pytest.param({"cache_control": "max-age=600"}, 100, True, "max-age", 600, id="max-age"),
        pytest.param(
            {"cache_control": "max-age=600"}, 601, False, "max-age", 600, id="max-age-stale"
        ),
        # cachecontrol: fresh only while lifetime > age.
        pytest.param(
            {"cache_control": "max-age=600"}, 600, False, "max-age", 600, id="max-age-boundary"
        ),
        pytest.param({"cache_control": "max-age=0"}, 0, False, "max-age", 0, id="max-age-0"),
        pytest.param(
            {"cache_control": "max-age=365000000, immutable, public"},
            10**7,
            True,
            "max-age",
            365000000,
            id="pypi-file",
        ),
        pytest.param(
            {"cache_control": "public, immutable"}, 1, False, "none", 0, id="immutable-alone"
        ),
        pytest.param({"expires": http(DATE + 3600)}, 10, True, "expires", 3600, id="expires"),
        pytest.param({"expires": http(DATE - 60)}, 0, False, "expires", 0, id="expires-past"),
        pytest.param({"expires": "0"}, 0, False, "bad-expires", 0, id="expires-junk"),
        pytest.param(
            {"cache_control": "max-age=60", "expires": http(DATE + 3600)},
            120,
            False,
            "max-age",
            60,
            id="max-age-beats-expires",
        ),
        pytest.param(
            {"cache_control": "max-age=soon", "expires": http(DATE + 3600)},
            120,
            True,
            "expires",
            3600,
            id="bad-max-age-falls-back-to-expires",
        ),
        pytest.param({"cache_control": "max-age"}, 0, False, "none", 0, id="max-age-without-value"),
        pytest.param(
            {"cache_control": '"max-age=600"'}, 0, False, "none", 0, id="quoted-directive"
        ),
        # cachecontrol looks directive names up case-sensitively.
        pytest.param({"cache_control": "Max-Age=600"}, 0, False, "none", 0, id="name-case"),
        pytest.param(
            {"cache_control": "max-age=-5"}, 0, False, "max-age", -5, id="negative-max-age"
        ),
        pytest.param(
            {"cache_control": "max-age=5, max-age"}, 1, True, "max-age", 5, id="later-bad-kept"
        ),
        pytest.param(
            {"cache_control": "max-age=5, max-age=50"}, 10, True, "max-age", 50, id="last-wins"
        ),
        pytest.param({"cache_control": "max-age=600"}, -50, True, "max-age", 600, id="skew"),
        pytest.param({}, 0, False, "none", 0, id="no-lifetime"),
    ],
)
def test_freshness_follows_cachecontrol(
    headers: dict[str, str], age: int, fresh: bool, basis: str, lifetime: int
) -> None:
    result = freshness(response(date=HTTP_DATE, **headers), DATE + age)
    assert (result.fresh, result.basis, result.lifetime) == (fresh, basis, lifetime)
    assert result.until == max(0, DATE + lifetime)


URL = "https://files.example/tiny_pure-1.0-py3-none-any.whl"


def cachecontrol_serves(resp: CachedResponse, now: float) -> bool:
    """Would cachecontrol itself (the library pip vendors) answer from the cache at ``now``?"""
    import requests
    from cachecontrol.cache import DictCache
    from cachecontrol.controller import CacheController

    controller = CacheController(DictCache())
    request = requests.Request("GET", URL).prepare()
    controller.cache.set(controller.cache_url(URL), serialize_v2_metadata(resp))
    with mock.patch("time.time", return_value=now):
        return controller.cached_request(request) is not False


_DIRECTIVES = st.sampled_from(
    ["max-age=600", "max-age=0", "max-age", "max-age=x", "Max-Age=60", "max-age=-3",
     "immutable", "public", "no-cache", "s-maxage=9", "max-age=86400"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    directives=st.lists(_DIRECTIVES, max_size=3),
    expires=st.one_of(st.none(), st.integers(-7200, 7200), st.just("junk")),
    etag=st.booleans(),
    status=st.sampled_from([200, 203, 300, 301, 308]),
    age=st.integers(-100, 100000),
)
def test_freshness_agrees_with_cachecontrol(
    directives: list[str], expires: int | str | None, etag: bool, status: int, age: int
) -> None:
    headers = {"date": HTTP_DATE, "cache_control": ", ".join(directives)}
    if expires is not None:
        headers["expires"] = expires if isinstance(expires, str) else http(DATE + expires)
    if etag:
        headers["etag"] = '"abc"'
    resp = response(status, **headers)
    assert freshness(resp, DATE + age).fresh is cachecontrol_serves(resp, DATE + age)


@pytest.mark.parametrize("etag", [False, True])
def test_without_date_cachecontrol_agrees(etag: bool) -> None:
    resp = response(cache_control="max-age=600", **({"etag": '"x"'} if etag else {}))
    assert freshness(resp, DATE).fresh is cachecontrol_serves(resp, DATE) is False


@pytest.mark.parametrize(
    ("value", "immutable"),
    [
        pytest.param("max-age=365000000, immutable, public", True, id="pypi"),
        pytest.param("IMMUTABLE", True, id="any-case"),
        pytest.param("max-age=600, public", False, id="page"),
        pytest.param("", False, id="none"),
    ],
)
def test_immutable_is_noted_but_changes_nothing(value: str, immutable: bool) -> None:
    result = freshness(response(date=HTTP_DATE, cache_control=value), DATE + 10**6)
    assert result.immutable is immutable
    without = freshness(response(date=HTTP_DATE, cache_control="max-age=600"), DATE + 10**6)
    assert without.fresh is False


@pytest.mark.parametrize(
    ("headers", "basis", "revalidate"),
    [
        pytest.param({"etag": '"x"', "cache_control": "max-age=600"}, "no-date", True, id="etag"),
        pytest.param({"cache_control": "max-age=600"}, "no-date", False, id="no-etag"),
        pytest.param(
            {"date": "yesterday", "cache_control": "max-age=6"}, "bad-date", False, id="bad-date"
        ),
        pytest.param({"date": ""}, "bad-date", False, id="empty-date"),
    ],
)
def test_without_a_usable_date_pip_never_serves_it_unasked(
    headers: dict[str, str], basis: str, revalidate: bool
) -> None:
    result = freshness(response(**headers), DATE)
    assert (result.fresh, result.basis, result.until, result.revalidate) == (
        False,
        basis,
        None,
        revalidate,
    )


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirects_are_fresh_for_ever(status: int) -> None:
    result = freshness(response(status, cache_control="no-cache"), DATE + 10**9)
    assert (result.fresh, result.basis, result.until) == (True, "permanent-redirect", None)


def test_temporary_redirects_follow_the_headers() -> None:
    result = freshness(response(302, date=HTTP_DATE, cache_control="max-age=5"), DATE + 10)
    assert (result.fresh, result.basis) == (False, "max-age")


def test_dates_ignore_the_zone_offset_like_cachecontrol() -> None:
    # cachecontrol reads dates with timegm(parsedate_tz(v)[:6]): the +0100 is dropped.
    assert http_date("Thu, 01 Jan 2026 01:00:00 +0100") == DATE + 3600
    local = response(date="Thu, 01 Jan 2026 01:00:00 +0100", expires=HTTP_DATE)
    assert freshness(local, DATE).lifetime == 0


@pytest.mark.parametrize(
    ("max_age", "until"),
    [
        pytest.param(10**15, LATEST, id="past-year-9999"),
        pytest.param(10**400, LATEST, id="too-big-for-a-float"),
        pytest.param(-(10**15), 0.0, id="before-1970"),
    ],
)
def test_until_is_clamped_to_a_printable_date(max_age: int, until: float) -> None:
    result = freshness(response(date=HTTP_DATE, cache_control=f"max-age={max_age}"), DATE)
    assert (result.fresh, result.lifetime, result.until) == (max_age > 0, max_age, until)
    assert iso(until)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("max-age=600, public", {"max-age": 600, "public": None}, id="page"),
        pytest.param(" max-age = 60 ,, ", {"max-age": 60}, id="spaces"),
        pytest.param("max-age=1_000", {"max-age": 1000}, id="python-int"),  # int() says so
        pytest.param("max-age=ten", {}, id="junk"),
        pytest.param("no-store", {"no-store": None}, id="flag"),
    ],
)
def test_cache_control_parses_like_cachecontrol(value: str, expected: dict[str, Any]) -> None:
    assert cache_control(value) == expected


def test_readers() -> None:
    assert READERS == {"http": "pip < 23.3", "http-v2": "pip >= 23.3", "wheels": "all pips"}


# -- show on caches real pip wrote ------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def show_json(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> list[Any]:
    code, out, err = run(capsys, "show", "--cache-dir", str(cache), "--format", "json", *args)
    assert code == 0, err
    data = json.loads(out)
    assert (data["version"], data["cache_dir"]) == (1, str(cache))
    entries: list[Any] = data["entries"]
    return entries


def age_atimes(root: Path) -> None:
    """Make every atime a month old: relatime would update those on a read."""
    old = time.time_ns() - 30 * 86400 * 10**9
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, ns=(old, path.stat().st_mtime_ns))


def times(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("fixture", "source", "read_by", "suffixes"),
    [
        pytest.param("legacy_cache", "http", "pip < 23.3", [""], id="old-pip"),
        pytest.param("v2_cache", "http-v2", "pip >= 23.3", ["", ".body"], id="new-pip"),
    ],
)
def test_where_is_my_cached_wheel_coming_from(
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    fixture: str,
    source: str,
    read_by: str,
    suffixes: list[str],
) -> None:
    cache: BuiltCache = request.getfixturevalue(fixture)
    package = cache.package("tiny_pure-1.0-py3-none-any.whl")
    url = next(u for u in cache.fetched_urls(kinds=["file"]) if u.endswith(package.filename))
    age_atimes(cache.path)
    before = times(cache.path)
    entries = show_json(capsys, cache.path, "tiny_pure==1.0", "--kind", "wheel")
    assert times(cache.path) == before, "show changed an atime or mtime"
    assert len(entries) == 1
    entry = entries[0]
    meta = cache_entry_path(cache.path, url, source)
    assert (entry["filename"], entry["project"], entry["version"]) == (
        package.filename,
        "tiny-pure",
        "1.0",
    )
    assert (entry["source"], entry["kind"], entry["url"], entry["read_by"]) == (
        source,
        "wheel",
        url,
        read_by,
    )
    assert [f["path"] for f in entry["files"]] == [f"{meta}{suffix}" for suffix in suffixes]
    assert entry["size"] == sum(f["size"] for f in entry["files"]) > package.size
    headers = entry["headers"]
    assert headers["Content-Length"] == str(package.size)
    assert headers["Cache-Control"] == "max-age=365000000, immutable, public"
    assert headers["ETag"].startswith('"')
    date = http_date(headers["Date"])
    assert date is not None
    assert entry["freshness"] == {
        "fresh": True,
        "basis": "max-age",
        "lifetime": 365000000,
        "until": iso(date + 365000000),
        "immutable": True,
        "revalidate": True,
    }
    assert entry["stored"] == iso(date)
    assert entry["index_sha256"] == package.sha256
    assert entry["origin"] is None


def test_show_human_answers_the_question(
    capsys: pytest.CaptureFixture[str], legacy_cache: BuiltCache
) -> None:
    code, out, err = run(capsys, "show", "--cache-dir", str(legacy_cache.path), "tiny_pure-1.0")
    assert code == 0, err
    url = f"{legacy_cache.index_url.removesuffix('/simple/')}/files/tiny_pure-1.0-py3-none-any.whl"
    assert out.startswith("tiny_pure-1.0-py3-none-any.whl\n")
    assert f"  URL:            {url}\n" in out
    assert "  Cache:          http, read by pip < 23.3\n" in out
    assert "  Freshness:      fresh until 2" in out
    assert "(max-age=365000000, immutable: ignored by pip); then pip revalidates it by ETag" in out
    assert str(legacy_cache.path / "http") in out


def test_show_built_wheel_names_its_sdist(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    sdist = v2_cache.package("sdist_only-0.5.tar.gz")
    entries = show_json(capsys, v2_cache.path, "sdist_only", "--source", "wheels")
    assert len(entries) == 1
    entry = entries[0]
    assert entry["filename"].startswith("sdist_only-0.5-")
    assert (entry["read_by"], entry["freshness"], entry["headers"]) == ("all pips", None, {})
    assert entry["origin"]["url"].endswith("/files/sdist_only-0.5.tar.gz")
    assert entry["origin"]["hash"] == f"sha256={sdist.sha256}"
    assert [Path(f["path"]).name for f in entry["files"]] == [entry["filename"], "origin.json"]
    code, out, _ = run(capsys, "show", "--cache-dir", str(v2_cache.path), "sdist_only-0.5-py3")
    assert code == 0
    assert "read by all pips" in out
    assert f"Source hash: sha256={sdist.sha256}" in out
    assert "never expires" in out


def test_show_index_page_notes_old_pips_revalidate(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    entries = show_json(capsys, v2_cache.path, "dotted.pkg", "--kind", "index")
    assert len(entries) == 1
    page = entries[0]
    assert page["url"] == f"{v2_cache.index_url}dotted-pkg/"
    assert page["freshness"]["basis"] == "max-age"
    assert page["freshness"]["lifetime"] == 600
    assert page["headers"]["Content-Encoding"] == "gzip"
    assert "revalidates index pages" in page["note"]


def test_show_invalid_entry_tells_the_problem(
    capsys: pytest.CaptureFixture[str], v2_cache: BuiltCache
) -> None:
    stray = v2_cache.path / "http-v2" / "0" / "stray.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half")
    entries = show_json(capsys, v2_cache.path, "*", "--kind", "invalid")
    assert [(e["path"], e["read_by"], e["freshness"]) for e in entries] == [
        (str(stray), "pip >= 23.3", None)
    ]
    assert "temporary file" in entries[0]["problem"]
    code, out, _ = run(capsys, "show", "--cache-dir", str(v2_cache.path), "*", "--kind", "invalid")
    assert code == 0
    assert "  Problem:" in out


@pytest.mark.parametrize("fmt", ["human", "json"])
def test_show_nothing_matched_exits_1(
    capsys: pytest.CaptureFixture[str], any_cache: BuiltCache, fmt: str
) -> None:
    code, out, err = run(
        capsys, "show", "--cache-dir", str(any_cache.path), "--format", fmt, "no-such-project"
    )
    assert code == 1
    assert err == 'No matching entries for pattern "no-such-project"\n'
    if fmt == "json":
        assert json.loads(out)["entries"] == []
    else:
        assert out == ""


def test_show_needs_a_pattern(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["show", "--cache-dir", str(tmp_path)])
    assert exc.value.code == 2
