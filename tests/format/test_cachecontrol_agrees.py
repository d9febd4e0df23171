"""cachecontrol is the rule book: where our code answers instead, it answers the same.

Two copies of cachecontrol are asked: the declared one (``cachecontrol``) and pip's vendored
one (``pip._vendor.cachecontrol``, skipped when the installed pip has none there), whose
answer is pip's. nox's ``pip_compat`` sessions run this against each pip version. Every
entry handed to a ``Serializer.loads`` starts with ``cc=4,``: pip 23.2's copy (0.12) still
unpickles ``cc=1``, and nothing here gives it the chance.
"""

from __future__ import annotations

import calendar
import email.utils
import importlib
import importlib.util
import types
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any
from unittest import mock

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pip_cache_plus.actions.show import cache_control, freshness
from pip_cache_plus.errors import CacheFormatError
from pip_cache_plus.format import records
from pip_cache_plus.format.records import (
    CachedResponse,
    key_digest,
    key_path,
    parse_legacy,
    parse_legacy_head,
    parse_metadata,
    serialize_v2_metadata,
)
from pip_cache_plus.inventory.urls import cache_key
from realpip import BuiltCache

URL = "https://files.example/tiny_pure-1.0-py3-none-any.whl"
DATE = calendar.timegm((2026, 1, 1, 0, 0, 0))
V4 = b"cc=4,"


@dataclass(frozen=True)
class Lib:
    """One copy of cachecontrol and the requests/urllib3 it works with."""

    name: str
    controller: Any
    cache: Any
    serialize: Any
    file_cache: Any
    requests: Any
    urllib3: Any

    def request(self, headers: dict[str, str] | None = None) -> Any:
        request = self.requests.Request("GET", URL).prepare()
        request.headers = self.requests.structures.CaseInsensitiveDict(headers or {})
        return request

    def loads(self, data: bytes, request: Any = None) -> Any:
        assert data.startswith(V4), "only cc=4 ever reaches a Serializer (cc=1 is a pickle)"
        return self.serialize.Serializer().loads(request or self.request(), data)

    def serves(self, data: bytes, now: float) -> bool:
        """Whether ``cached_request`` answers from the cache at ``now`` (what pip does)."""
        assert data.startswith(V4)
        controller = self.controller.CacheController(self.cache.DictCache())
        controller.cache.set(controller.cache_url(URL), data)
        with mock.patch.object(self.controller.time, "time", return_value=now):
            return controller.cached_request(self.request()) is not False

    def dumps(self, response: CachedResponse) -> bytes:
        vary = {k: v for k, v in response.vary if v is not None}
        http = self.urllib3.HTTPResponse(
            body=b"",
            headers=dict(response.headers),
            status=response.status,
            version=response.version,
            reason=response.reason,
            decode_content=response.decode_content,
            preload_content=False,
        )
        data: bytes = self.serialize.Serializer().dumps(self.request(vary), http, b"")
        return data

    def path_parts(self, key: str) -> tuple[str, ...]:
        # FileCache._fn unbound: pip 23.2's FileCache cannot be built without lockfile.
        fake = types.SimpleNamespace(directory="", encode=self.file_cache.FileCache.encode)
        return PurePath(self.file_cache.FileCache._fn(fake, key)).parts


def _load(base: str, vendor: str) -> Lib:
    modules = ["controller", "cache", "serialize", "caches.file_cache"]
    controller, cache, serialize, file_cache = (
        importlib.import_module(f"{base}.{m}") for m in modules
    )
    return Lib(
        base,
        controller,
        cache,
        serialize,
        file_cache,
        importlib.import_module(f"{vendor}requests"),
        importlib.import_module(f"{vendor}urllib3"),
    )


def _vendored() -> Lib:
    try:
        found = importlib.util.find_spec("pip._vendor.cachecontrol.controller")
    except ModuleNotFoundError:
        found = None
    if found is None:
        pytest.skip("the installed pip vendors no cachecontrol at pip._vendor.cachecontrol")
    importlib.import_module("pip._vendor.requests.structures")
    return _load("pip._vendor.cachecontrol", "pip._vendor.")


def _declared() -> Lib:
    importlib.import_module("requests.structures")
    return _load("cachecontrol", "")


def _pip_version() -> tuple[int, ...]:
    import pip

    return tuple(int(p) for p in pip.__version__.split(".")[:2] if p.isdigit())


@pytest.fixture(scope="module", params=["declared", "pip-vendored"])
def lib(request: pytest.FixtureRequest) -> Lib:
    return _declared() if request.param == "declared" else _vendored()


@pytest.fixture(scope="module")
def pips() -> Lib:
    return _vendored()


# -- generated inputs ---------------------------------------------------------------------

_HEADER_NAMES = st.sampled_from(
    ["Date", "date", "DATE", "Expires", "expires", "Cache-Control", "cache-control", "ETag",
     "etag", "Last-Modified", "Content-Type", "Vary", "X-Other"]
)  # fmt: skip
_DIRECTIVE = st.one_of(
    st.sampled_from(
        ["max-age=600", "max-age=0", "max-age", "max-age=", "max-age=x", "Max-Age=60",
         "max-age=-3", "max-age = 7", "max-age=1_0", "max-age=+5", "max-age=5=6", "immutable",
         "Immutable", "public", "no-cache", "no-store", "s-maxage=9", "min-fresh=100",
         "max-stale", '"max-age=600"', "max-age=86400", "max-age=365000000", ""]
    ),
    st.integers(-(10**6), 10**12).map(lambda n: f"max-age={n}"),
)  # fmt: skip


def _http_dates() -> st.SearchStrategy[str]:
    offsets = st.integers(-(10**7), 10**7)
    valid = offsets.map(lambda s: email.utils.formatdate(DATE + s, usegmt=True))
    zoned = st.tuples(offsets, st.sampled_from(["+0100", "-0930", "+0000", "EST", "UT"])).map(
        lambda t: email.utils.formatdate(DATE + t[0])[:-5] + t[1]
    )
    junk = st.sampled_from(
        ["", "0", "yesterday", "Thu, 01 Jan 2026", "Thu, 32 Jan 2026 00:00:00 GMT"]
    )
    return st.one_of(valid, zoned, junk, st.text(max_size=30))


def _header_value(name: str) -> st.SearchStrategy[str]:
    lowered = name.lower()
    if lowered in ("date", "expires", "last-modified"):
        return _http_dates()
    if lowered == "cache-control":
        return st.lists(_DIRECTIVE, max_size=4).map(", ".join)
    return st.sampled_from(['"abc"', "text/html", "Accept-Encoding", "*", ""])


@st.composite
def responses(draw: st.DrawFn) -> CachedResponse:
    names = draw(st.lists(_HEADER_NAMES, max_size=7, unique=True))
    headers = tuple((name, draw(_header_value(name))) for name in names)
    status = draw(st.sampled_from([200, 203, 300, 301, 302, 308]))
    return CachedResponse(status, headers, 11, "OK", draw(st.booleans()), ())


_SLOW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- freshness: show's steps are cached_request's ------------------------------------------


@_SLOW
@given(response=responses(), age=st.integers(-100, 10**8))
def test_freshness_is_what_cached_request_does(
    lib: Lib, response: CachedResponse, age: int
) -> None:
    now = DATE + age
    ours = freshness(response, now)
    try:
        theirs = lib.serves(serialize_v2_metadata(response), now)
    except (AssertionError, TypeError):
        # cachecontrol asserts that Date parses (a TypeError under -O): pip's request fails.
        assert (ours.fresh, ours.basis) == (False, "bad-date")
        return
    assert ours.fresh is theirs


@_SLOW
@given(value=st.lists(_DIRECTIVE, max_size=5).map(", ".join))
def test_cache_control_is_parse_cache_control(lib: Lib, value: str) -> None:
    controller = lib.controller.CacheController(lib.cache.DictCache())
    assert cache_control(value) == controller.parse_cache_control({"cache-control": value})


# -- the declared cachecontrol answers as pip's own copy -----------------------------------


def _answer(lib: Lib, data: bytes, now: float) -> bool | str:
    try:
        return lib.serves(data, now)
    except (AssertionError, TypeError):
        # An unparsable Date: 0.14 asserts, 0.12 (pip 23.2) hands None to timegm; either
        # way pip's request fails.
        return "fails"


@_SLOW
@given(response=responses(), age=st.integers(-100, 10**8))
def test_declared_serves_what_pips_copy_serves(
    pips: Lib, response: CachedResponse, age: int
) -> None:
    data = serialize_v2_metadata(response)
    assert _answer(_declared(), data, DATE + age) == _answer(pips, data, DATE + age)


@_SLOW
@given(value=st.lists(_DIRECTIVE, max_size=5).map(", ".join))
def test_declared_parses_cache_control_as_pips_copy(pips: Lib, value: str) -> None:
    ours, theirs = (
        lib.controller.CacheController(lib.cache.DictCache()).parse_cache_control(
            {"cache-control": value}
        )
        for lib in (_declared(), pips)
    )
    assert ours == theirs


@_SLOW
@given(response=responses())
def test_declared_writes_the_bytes_pips_copy_writes(pips: Lib, response: CachedResponse) -> None:
    if _pip_version() < (23, 3):
        pytest.skip("pip < 23.3 writes http/ entries (with 'strict'), not http-v2 metadata")
    assert _declared().dumps(response) == pips.dumps(response)


# -- the serializer: pip's bytes, and our reader held to Serializer.loads --------------------


def _entry_files(cache: Path, source: str) -> list[Path]:
    return sorted(
        p for p in (cache / source).rglob("*") if p.is_file() and records.KEY_RE.fullmatch(p.name)
    )


def test_v2_metadata_pip_wrote_is_what_the_serializer_writes(built_v2_cache: BuiltCache) -> None:
    files = _entry_files(built_v2_cache.path, "http-v2")
    assert files
    for path in files:
        data = path.read_bytes()
        response, body = parse_metadata(data)
        assert body == b""
        assert records._dumps(response) == data, path  # cachecontrol's own dumps, not ours
        assert serialize_v2_metadata(response) == data, path


def test_legacy_entries_pip_wrote_migrate_through_dumps(built_legacy_cache: BuiltCache) -> None:
    files = _entry_files(built_legacy_cache.path, "http")
    assert files
    for path in files:
        data = path.read_bytes()
        response, _ = parse_metadata(data)
        assert response.strict == 0  # pip 23.2 wrote it
        assert serialize_v2_metadata(response) == records._dumps(response), path


def test_fields_dumps_would_change_are_kept() -> None:
    # urllib3 folds names that differ only in case; the entry keeps both, as pip read them.
    response = CachedResponse(200, (("ETag", '"a"'), ("etag", '"b"')), 11, "OK", False, ())
    assert records._dumps(response) != serialize_v2_metadata(response)
    assert parse_metadata(serialize_v2_metadata(response))[0] == response
    bad_length = CachedResponse(200, (("Content-Length", "1, 2"),), 11, "OK", False, ())
    assert records._dumps(bad_length) is None
    assert parse_metadata(serialize_v2_metadata(bad_length))[0] == bad_length


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)


_NO_BODY = st.just(b"")


@st.composite
def entries(draw: st.DrawFn, body: st.SearchStrategy[bytes] = _NO_BODY) -> dict[str, Any]:
    headers = draw(st.dictionaries(_TEXT, _TEXT, max_size=6))
    response: dict[str, Any] = {
        "body": draw(body),
        "headers": headers,
        "status": draw(st.sampled_from([200, 203, 300, 301, 308])),
        "version": draw(st.sampled_from([10, 11, 20])),
        "reason": draw(_TEXT),
        "decode_content": draw(st.booleans()),
    }
    if draw(st.booleans()):
        response["strict"] = 0
    vary = draw(
        st.dictionaries(_TEXT.filter(lambda s: s not in ("", "*")), st.none() | _TEXT, max_size=3)
    )
    return {"response": response, "vary": vary}


def _packed(entry: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(entry, use_bin_type=True)
    return V4 + packed


@_SLOW
@given(entry=entries())
def test_parse_metadata_reads_what_serializer_loads(lib: Lib, entry: dict[str, Any]) -> None:
    data = _packed(entry)
    ours, body = parse_metadata(data)
    vary = {k: v for k, v in entry["vary"].items() if v is not None}
    theirs = lib.loads(data, lib.request(vary))
    # A vary value of None is a header the request lacked: cachecontrol matches the absence.
    assert theirs is not None
    assert (ours.status, ours.version, ours.reason, ours.decode_content, body) == (
        theirs.status,
        theirs.version,
        theirs.reason,
        theirs.decode_content,
        theirs.read(decode_content=False),
    )
    assert {k.lower(): v for k, v in ours.headers if k.lower() != "transfer-encoding"} == {
        k.lower(): v for k, v in theirs.headers.items()
    }


@_SLOW
@given(data=st.binary(max_size=200).map(lambda b: V4 + b))
def test_what_serializer_refuses_we_refuse(lib: Lib, data: bytes) -> None:
    try:
        theirs = lib.loads(data)
    except Exception:  # cachecontrol's error: not a usable entry either way
        theirs = None
    if theirs is None:
        with pytest.raises(CacheFormatError):
            parse_metadata(data)


# -- the legacy head: the body's offset without msgpack over the body ----------------------

_BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([31, 32, 255, 256, 65535, 65536, 70000]).map(
        lambda n: bytes(range(256)) * (n // 256) + b"x" * (n % 256)
    ),
)


@_SLOW
@given(entry=entries(body=_BODIES))
def test_legacy_head_finds_the_body_msgpack_finds(entry: dict[str, Any]) -> None:
    data = _packed(entry)
    full, body = parse_metadata(data)
    layout = parse_legacy_head(data[: records.LEGACY_HEAD_SIZE])
    assert layout is not None
    assert data[layout.body_offset : layout.body_end] == body == entry["response"]["body"]
    head, tail = data[: layout.body_offset], data[layout.body_end :]
    assert parse_legacy(head, tail, layout) == full


# -- keys and paths -----------------------------------------------------------------------


@_SLOW
@given(key=st.text(max_size=120))
def test_key_to_path_is_file_caches(lib: Lib, key: str) -> None:
    try:
        expected = lib.file_cache.FileCache.encode(key)
    except UnicodeEncodeError:  # a lone surrogate: no URL holds one
        with pytest.raises(UnicodeEncodeError):
            key_digest(key)
        return
    assert key_digest(key) == expected
    assert key_path(key) == lib.path_parts(key) == (*expected[:5], expected)


_HOST = st.from_regex(
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}\.)?[A-Za-z0-9]{1,8}(:[0-9]{1,5})?", fullmatch=True
)
_PATH = st.from_regex(r"(/[A-Za-z0-9_.~%+-]{0,12}){0,4}", fullmatch=True)
_QUERY = st.one_of(st.just(""), st.from_regex(r"\?[A-Za-z0-9=&_.%-]{0,12}", fullmatch=True))
_FRAGMENT = st.one_of(st.just(""), st.from_regex(r"#[A-Za-z0-9=&_.-]{0,12}", fullmatch=True))


@_SLOW
@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "HttpS"]),
    host=_HOST,
    path=_PATH,
    query=_QUERY,
    fragment=_FRAGMENT,
)
def test_cache_key_is_cache_url(
    lib: Lib, scheme: str, host: str, path: str, query: str, fragment: str
) -> None:
    url = f"{scheme}://{host}{path}{query}{fragment}"
    assert cache_key(url) == lib.controller.CacheController.cache_url(url)


# -- import cost: only the commands that need the rules pay for them ------------------------

_PROBE = """
import sys
from pip_cache_plus.cli.app import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("cachecontrol", "requests", "urllib3") if m in sys.modules)
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("command", "heavy"),
    [
        pytest.param(["info"], "", id="info"),
        pytest.param(["list", "--format", "json"], "", id="list"),
        pytest.param(
            ["show", "tiny-pure", "--format", "json"], "cachecontrol,requests,urllib3", id="show"
        ),
    ],
)
def test_only_show_and_migrate_import_cachecontrol(
    mixed_cache: BuiltCache, command: list[str], heavy: str
) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _PROBE,
            command[0],
            "--cache-dir",
            str(mixed_cache.path),
            *command[1:],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"HEAVY:{heavy}" in done.stderr.splitlines()
