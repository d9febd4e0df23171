"""Each shortcut taken for speed answers exactly as the general code it skips.

The shortcuts (plain URLs, IMF-fixdate dates, the C JSON encoder) are what make listing
tens of thousands of entries fast; these tests hold them to the slow path's answers, on
generated inputs and on the corner cases the shortcut must leave to the slow path.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from posixpath import basename
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.format import simple
from pip_cache_plus.format.records import key_digest, key_hash
from pip_cache_plus.inventory import recover, urls
from pip_cache_plus.inventory.responses import parse_http_date

_HOSTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,20}(:[0-9]{1,5})?", fullmatch=True)
_PATHS = st.from_regex(r"(/[A-Za-z0-9_.~%@+ -]{0,12}){1,5}", fullmatch=True)
_URLS = st.builds(
    lambda scheme, host, path, tail: f"{scheme}://{host}{path}{tail}",
    st.sampled_from(["http", "https", "HTTPS"]),
    _HOSTS,
    _PATHS,
    st.sampled_from(["", "#sha256=" + "ab" * 32, "?x=1", "#frag", "#"]),
)


def _slow_cache_key(url: str) -> str:
    parts = urlsplit(urls.strip_credentials(url))
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )


@settings(max_examples=400, deadline=None)
@given(_URLS)
def test_cache_key_shortcut_agrees(url: str) -> None:
    assert urls.cache_key(url) == _slow_cache_key(url)


@settings(max_examples=400, deadline=None)
@given(_URLS)
def test_url_filename_shortcut_agrees(url: str) -> None:
    assert urls.url_filename(url) == unquote(basename(urlsplit(url).path))


@settings(max_examples=400, deadline=None)
@given(_URLS, st.sampled_from([None, "https://pypi.org/simple/foo/"]))
def test_resolve_shortcut_agrees(href: str, base: str | None) -> None:
    assert simple._resolve(base, href) == simple._resolve_any(base, href)


@pytest.mark.parametrize(
    "url",
    [
        "https://u:secret@host/x",
        "https://host/x?token=1",
        "HTTPS://Files.Example.org/a/b.whl#sha256=00",
        "https://host",
        "https://host/a%2Fb@c.whl",
    ],
)
def test_urls_the_shortcut_leaves_to_the_general_path(url: str) -> None:
    assert urls.cache_key(url) == _slow_cache_key(url)
    assert urls.url_filename(url) == unquote(basename(urlsplit(url).path))


def test_redact_without_user_info_is_the_url_itself() -> None:
    assert urls.redact("https://host/a@b.whl") == "https://host/a@b.whl"
    assert urls.redact("https://user:pw@host/x") == "https://user:****@host/x"


def _email_date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@settings(max_examples=400, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_http_date_shortcut_agrees_on_real_dates(moment: datetime) -> None:
    value = format_datetime(moment.replace(tzinfo=timezone.utc, microsecond=0), usegmt=True)
    assert parse_http_date(value) == _email_date(value)


@settings(max_examples=400, deadline=None)
@given(
    st.from_regex(
        r"(Mon|Sun), [0-9]{2} (Jan|Feb|Dec|Foo) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|UTC)",
        fullmatch=True,
    )
)
def test_http_date_shortcut_agrees_on_impossible_dates(value: str) -> None:
    assert parse_http_date(value) == _email_date(value)


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Thu, 01 Jan 0099 00:00:00 GMT",
        "Mon, 30 Feb 2026 00:00:00 GMT",
        "garbage",
        "",
    ],
)
def test_http_date_forms(value: str) -> None:
    assert parse_http_date(value) == _email_date(value)


@settings(max_examples=400, deadline=None)
@given(_URLS, st.booleans(), st.booleans(), st.booleans())
def test_cached_in_agrees_with_the_keys(
    url: str, has_metadata: bool, file_cached: bool, metadata_cached: bool
) -> None:
    url = url.partition("#")[0]  # pages give file URLs without their fragment
    keys = {"0" * 56}
    if file_cached:
        keys.add(key_digest(_slow_cache_key(url)))
    if metadata_cached:
        keys.add(key_digest(_slow_cache_key(url + ".metadata")))
    wanted = recover._cached_in(keys)
    assert wanted(url, has_metadata) == (file_cached or (has_metadata and metadata_cached))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "application/vnd.pypi.simple.v1+json",
            b'{"meta": {"api-version": "1.1"}, "name": "p", "files": ['
            b'{"filename": "p-1.tar.gz", "url": "https://h/p-1.tar.gz", "hashes": {}},'
            b'{"filename": "p-2.whl", "url": "https://h/p-2.whl", "hashes": {},'
            b' "core-metadata": true}]}',
        ),
        (
            "text/html",
            b'<a href="https://h/p-1.tar.gz">p-1.tar.gz</a>'
            b'<a href="https://h/p-2.whl" data-core-metadata="true">p-2.whl</a>',
        ),
    ],
)
def test_files_builds_only_the_wanted(content_type: str, body: bytes) -> None:
    page = simple.load_page(body, content_type=content_type)
    asked: list[tuple[str, bool]] = []

    def wanted(url: str, has_metadata: bool) -> bool:
        asked.append((url, has_metadata))
        return has_metadata

    assert [f.url for f in page.files("https://h/simple/p/", wanted)] == ["https://h/p-2.whl"]
    assert asked == [("https://h/p-1.tar.gz", False), ("https://h/p-2.whl", True)]
    assert len(list(page.files("https://h/simple/p/"))) == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(_URLS, min_size=1, max_size=6), st.sampled_from([None, "https://h/simple/p/"]))
def test_json_files_resolve_as_the_general_path(hrefs: list[str], base: str | None) -> None:
    """``_json_files`` inlines ``_resolve``'s shortcut: every link as ``_resolve_any`` has it."""
    items = [{"filename": f"f{i}", "url": href} for i, href in enumerate(hrefs)]
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "p", "files": items})
    page = simple.load_page(body.encode(), content_type="application/vnd.pypi.simple.v1+json")
    resolved = [simple._resolve_any(base, href) for href in hrefs]
    expected = [r[0] for r in resolved if r is not None]
    assert [f.url for f in page.files(base)] == expected


@settings(max_examples=100, deadline=None)
@given(_URLS)
def test_key_hash_extended_is_the_longer_keys_digest(url: str) -> None:
    digest = key_hash(url)
    assert digest.hexdigest() == key_digest(url)
    digest.update(b".metadata")
    assert digest.hexdigest() == key_digest(url + ".metadata")
