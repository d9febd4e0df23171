"""filters.py, names.py, urls.py: the pure rules for patterns, ages, sizes and names."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pip_cache_plus.errors import UsageError
from pip_cache_plus.inventory.filters import (
    Filter,
    any_of,
    close_projects,
    parse_age,
    parse_kinds,
    parse_pattern,
    parse_size,
    unmatched,
)
from pip_cache_plus.inventory.names import classify
from pip_cache_plus.inventory.urls import cache_key, redact, strip_credentials, url_filename
from pip_cache_plus.model import CacheEntry, FileStat, Kind, RawEntry


def entry(
    filename: str | None,
    *,
    kind: Kind = "wheel",
    last_used: float = 1000.0,
    project: str | None = None,
    version: str | None = None,
) -> CacheEntry:
    raw = RawEntry("http-v2", (FileStat("/c/x", 1, last_used, last_used),))
    if filename is not None and project is None:
        named = classify(filename)
        assert named is not None
        project, version, kind = named.project, named.version, named.kind
    return CacheEntry(raw, kind, project, version, filename)


CHARSET = entry("charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.whl")
CHARSET_META = entry("charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.whl.metadata")
CHARSET_PAGE = entry(None, kind="index", project="charset-normalizer")
ZOPE = entry("zope.interface-6.0.tar.gz")
PIP = entry("pip-23.3.2-py3-none-any.whl")
PIPX = entry("pipx-1.0-py3-none-any.whl")
ANON = entry(None, kind="other")


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        pytest.param("*", {CHARSET, CHARSET_META, CHARSET_PAGE, ZOPE, PIP, PIPX, ANON}, id="star"),
        pytest.param("pip", {PIP}, id="project"),
        pytest.param("pip*", {PIP, PIPX}, id="project-glob"),
        pytest.param("Charset_Normalizer", {CHARSET, CHARSET_META, CHARSET_PAGE}, id="case-sep"),
        pytest.param("charset-normalizer", {CHARSET, CHARSET_META, CHARSET_PAGE}, id="canonical"),
        pytest.param("charset_normalizer-3.4.0", {CHARSET, CHARSET_META}, id="pip-filename"),
        pytest.param("pip-23.3.2-py3", {PIP}, id="filename-prefix"),
        pytest.param("pip==23.3.2", {PIP}, id="name==version"),
        pytest.param("pip==23.3.02", {PIP}, id="version-normalized"),
        pytest.param("pip==24.0", set(), id="other-version"),
        pytest.param("zope.interface", {ZOPE}, id="dotted"),
        pytest.param("ZOPE_interface==6", {ZOPE}, id="dotted-version"),
        pytest.param("nothing", set(), id="no-match"),
        pytest.param("pip>=23,<24", {PIP}, id="specifier-range"),
        pytest.param("pip>=24", set(), id="specifier-above"),
        pytest.param("pip~=23.3.0", {PIP}, id="specifier-compatible"),
        pytest.param("pip==23.*", {PIP}, id="specifier-wildcard"),
        pytest.param("pip!=23.3.2", set(), id="specifier-not"),
        pytest.param("pip* >= 1", {PIP, PIPX}, id="specifier-glob-name"),
        pytest.param("charset-normalizer<4", {CHARSET, CHARSET_META}, id="specifier-no-page"),
        pytest.param("pi[pq]", {PIP}, id="glob-brackets"),
        pytest.param("pi[!p]", set(), id="glob-negated"),
    ],
)
def test_pattern(pattern: str, matched: set[CacheEntry]) -> None:
    everything = [CHARSET, CHARSET_META, CHARSET_PAGE, ZOPE, PIP, PIPX, ANON]
    assert {e for e in everything if parse_pattern(pattern).matches(e)} == matched


@pytest.mark.parametrize(
    ("text", "why"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("  ", "empty", id="blank"),
        pytest.param("a/b", "not paths", id="path"),
        pytest.param("..\\x", "not paths", id="backslash"),
        pytest.param("==1.0", "expected NAME", id="no-name"),
        pytest.param("pip==", "no PEP 440", id="no-version"),
        pytest.param("pip==1==2", "no PEP 440", id="two-equals"),
        pytest.param("[", "without its ']'", id="open-bracket"),
        pytest.param("pip]", "without its ']'", id="close-bracket"),
        pytest.param("requests>=x", "no PEP 440", id="bad-specifier"),
        pytest.param("pip~=1", "no PEP 440", id="compatible-one-part"),
        pytest.param("pip>=1,<", "no PEP 440", id="half-range"),
        pytest.param("foo:bar", "':' is in no project", id="colon"),
        pytest.param("foo bar", "' ' is in no project", id="space"),
        pytest.param("a!b", "'!' belongs", id="bang"),
    ],
)
def test_bad_patterns(text: str, why: str) -> None:
    with pytest.raises(UsageError, match="pattern") as exc:
        parse_pattern(text)
    assert why in str(exc.value)


def test_several_patterns_match_any() -> None:
    either = any_of([parse_pattern("pip==23.3.2"), parse_pattern("zope*")])
    assert {e for e in (PIP, PIPX, ZOPE, CHARSET) if either.matches(e)} == {PIP, ZOPE}
    assert either.text == "pip==23.3.2 zope*"
    assert any_of([]).matches(ANON)


def test_unmatched_and_close_projects() -> None:
    patterns = [parse_pattern("pip"), parse_pattern("charset"), parse_pattern("zope-interfac")]
    missed = unmatched(patterns, [PIP, PIPX])
    assert [p.text for p in missed] == ["charset", "zope-interfac"]
    projects = ["charset-normalizer", "pip", "pipx", "zope-interface"]
    assert close_projects(missed[0], projects) == ["charset-normalizer"]
    assert close_projects(missed[1], projects) == ["zope-interface"]
    assert close_projects(parse_pattern("pip"), projects) == []  # it exists: nothing to say
    assert close_projects(parse_pattern("xyz"), projects) == []


NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [
        ("45s", 45),
        ("90m", 5400),
        ("12h", 43200),
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("1.5h", 5400),
        ("30D", 30 * 86400),
    ],
)
def test_age_units(text: str, seconds_ago: float) -> None:
    assert parse_age(text, NOW) == NOW - seconds_ago


def test_age_iso_date_is_utc() -> None:
    expected = datetime(2024, 1, 31, tzinfo=timezone.utc).timestamp()
    assert parse_age("2024-01-31", NOW) == expected
    assert parse_age("2024-01-31T00:00:00+00:00", NOW) == expected


@pytest.mark.parametrize("text", ["", "30", "30x", "-5d", "d", "yesterday", "2024-13-01"])
def test_bad_ages(text: str) -> None:
    with pytest.raises(UsageError, match="bad age"):
        parse_age(text, NOW)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1024", 1024),
        ("500MB", 500_000_000),
        ("500M", 500_000_000),
        ("2GiB", 2 * 1024**3),
        ("1.5GB", 1_500_000_000),
        ("10kB", 10_000),
        ("10KiB", 10240),
        ("7B", 7),
        ("1 TB", 10**12),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text", ["", "MB", "-1", "5XB", "5iB", "1e3", "5 MiBs", "9" * 400, "9" * 400 + "GB"]
)
def test_bad_sizes(text: str) -> None:
    with pytest.raises(UsageError, match="bad size"):
        parse_size(text)


def test_kinds() -> None:
    assert parse_kinds("wheel, sdist") == {"wheel", "sdist"}
    with pytest.raises(UsageError, match="bad kind"):
        parse_kinds("wheel,egg")
    with pytest.raises(UsageError, match="bad kind"):
        parse_kinds(",")


def test_filter_combines_kind_age_and_pattern() -> None:
    old = entry("pip-1.0-py3-none-any.whl", last_used=10.0)
    new = entry("pip-2.0-py3-none-any.whl", last_used=2000.0)
    page = entry(None, kind="index", project="pip", last_used=10.0)
    filt = Filter(parse_pattern("pip"), kinds=frozenset({"wheel"}), unused_since=100.0)
    assert filt.select([old, new, page]) == [old]
    assert Filter().select([old, new, page]) == [old, new, page]


@pytest.mark.parametrize(
    ("filename", "kind", "project", "version"),
    [
        ("Mixed_Case-0.2-py3-none-any.whl", "wheel", "mixed-case", "0.2"),
        ("dotted_pkg-2.0-py3-none-any.whl.metadata", "metadata", "dotted-pkg", "2.0"),
        ("tiny_pure-1.1.tar.gz", "sdist", "tiny-pure", "1.1"),
        ("zope.interface-6.0.zip", "sdist", "zope-interface", "6.0"),
        ("Django-1.0.tar.bz2", "sdist", "django", "1.0"),
        ("pytz-2024.1.tar.xz", "sdist", "pytz", "2024.1"),
    ],
)
def test_classify(filename: str, kind: str, project: str, version: str) -> None:
    named = classify(filename)
    assert named is not None
    assert (named.kind, named.project, named.version) == (kind, project, version)


@pytest.mark.parametrize("filename", ["index.html", "foo.whl", "x.metadata", "README"])
def test_classify_rejects_non_distributions(filename: str) -> None:
    assert classify(filename) is None


def test_urls() -> None:
    assert (
        cache_key("HTTPS://Files.Example.org/a/b.whl#sha256=00")
        == "https://files.example.org/a/b.whl"
    )
    assert cache_key("https://u:p@host/x") == "https://host/x"
    assert strip_credentials("https://u:p@host/x?q=1") == "https://host/x?q=1"
    assert redact("https://user:s3cret@host/simple/") == "https://user:****@host/simple/"
    assert redact("https://tok3n@host/simple/") == "https://****@host/simple/"
    assert redact("https://host/simple/") == "https://host/simple/"
    assert url_filename("https://h/p/a%2Bb-1.0.tar.gz") == "a+b-1.0.tar.gz"
