"""Tests for simple.py: simple-index pages (PEP 503 HTML, PEP 691 JSON)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.errors import CacheFormatError
from pip_cache_plus.format.simple import IndexFile, IndexPage, identify_page, parse_index_page

PAGE_URL = "https://pypi.org/simple/foo-bar/"
FILES = "https://files.pythonhosted.org/packages/ab/cd"
SHA = "8" * 63 + "A"
SHA_LOWER = SHA.lower()
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def json_page(files: list[Any], name: str = "Foo.Bar") -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()


def file_entry(url: str, filename: str = "foo_bar-1.0.tar.gz", **extra: Any) -> dict[str, Any]:
    return {"filename": filename, "url": url, "hashes": {}, **extra}


# --- JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "page_url", "expected"),
    [
        pytest.param(
            file_entry(f"{FILES}/foo_bar-1.0.tar.gz", hashes={"sha256": SHA}),
            PAGE_URL,
            IndexFile(f"{FILES}/foo_bar-1.0.tar.gz", "foo_bar-1.0.tar.gz", SHA_LOWER, False),
            id="absolute-with-hash",
        ),
        pytest.param(
            file_entry("../../packages/foo_bar-1.0.tar.gz#sha256=" + SHA),
            PAGE_URL,
            IndexFile(
                "https://pypi.org/packages/foo_bar-1.0.tar.gz",
                "foo_bar-1.0.tar.gz",
                SHA_LOWER,
                False,
            ),
            id="relative-fragment-hash",
        ),
        pytest.param(
            file_entry(f"{FILES}/f.whl", "f.whl", **{"core-metadata": {"sha256": SHA}}),
            None,
            IndexFile(f"{FILES}/f.whl", "f.whl", None, True),
            id="core-metadata-hashes",
        ),
        pytest.param(
            file_entry(f"{FILES}/f.whl", "f.whl", **{"dist-info-metadata": True}),
            None,
            IndexFile(f"{FILES}/f.whl", "f.whl", None, True),
            id="dist-info-metadata-true",
        ),
        pytest.param(
            file_entry(
                f"{FILES}/f.whl", "f.whl", **{"core-metadata": False, "dist-info-metadata": True}
            ),
            None,
            IndexFile(f"{FILES}/f.whl", "f.whl", None, False),
            id="core-metadata-false-wins",
        ),
        pytest.param(
            file_entry(f"{FILES}/f.whl", "f.whl", **{"core-metadata": "false"}),
            None,
            IndexFile(f"{FILES}/f.whl", "f.whl", None, True),
            id="core-metadata-string-false-is-true-like-pip",
        ),
        pytest.param(
            file_entry(f"{FILES}/f.whl", "f.whl", **{"core-metadata": ""}),
            None,
            IndexFile(f"{FILES}/f.whl", "f.whl", None, False),
            id="core-metadata-empty-string",
        ),
        pytest.param(
            file_entry(f"{FILES}/a b+c%2Fd@e.whl", "a b.whl", hashes={"sha256": "nothex"}),
            None,
            IndexFile(f"{FILES}/a%20b%2Bc%2Fd@e.whl", "a b.whl", None, False),
            id="quoted-like-pip",
        ),
    ],
)
def test_json_file(entry: dict[str, Any], page_url: str | None, expected: IndexFile) -> None:
    page = parse_index_page(json_page([entry]), content_type=JSON_TYPE, page_url=page_url)
    assert page == IndexPage("foo-bar", (expected,))


def test_json_skips_what_it_cannot_use() -> None:
    files = [
        file_entry("relative.tar.gz"),  # no page URL to resolve against
        {"url": f"{FILES}/nameless.whl"},
        {"filename": "urlless.whl"},
        "not an object",
        file_entry("http://[broken/x.whl"),
        file_entry(f"{FILES}/ok.whl", "ok.whl"),
    ]
    page = parse_index_page(json_page(files), content_type=None, page_url=None)
    assert page == IndexPage("foo-bar", (IndexFile(f"{FILES}/ok.whl", "ok.whl", None, False),))


def test_json_root_page() -> None:
    data = json.dumps({"meta": {"api-version": "1.0"}, "projects": [{"name": "a"}]}).encode()
    assert parse_index_page(data, content_type=JSON_TYPE, page_url=None) == IndexPage(None, ())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"meta": {"api-version": "1.0"}, "files": [', id="truncated"),
        pytest.param(b'{"files": []}', id="no-meta"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b"\xff\xfe{", id="bad-encoding"),
        pytest.param(b"[" * 100_000, id="deep"),
    ],
)
def test_json_errors(data: bytes) -> None:
    with pytest.raises(CacheFormatError):
        parse_index_page(data, content_type=JSON_TYPE, page_url=PAGE_URL)


# --- HTML ------------------------------------------------------------------------------

PYPI_HTML = f"""<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.1">
    <title>Links for Foo.Bar</title>
  </head>
  <body>
    <h1>Links for Foo.Bar</h1>
    <a href="{FILES}/foo_bar-1.0.tar.gz#sha256={SHA}" >foo_bar-1.0.tar.gz</a><br />
    <a href="{FILES}/foo_bar-1.0-py3-none-any.whl#sha256={SHA}" data-requires-python="&gt;=3.8"
       data-dist-info-metadata="sha256={SHA}" data-core-metadata="sha256={SHA}"
       >foo_bar-1.0-py3-none-any.whl</a><br />
  </body>
</html>
<!--SERIAL 123-->
""".encode()


def test_pypi_html_page() -> None:
    page = parse_index_page(PYPI_HTML, content_type="text/html", page_url=PAGE_URL)
    assert page == IndexPage(
        "foo-bar",
        (
            IndexFile(f"{FILES}/foo_bar-1.0.tar.gz", "foo_bar-1.0.tar.gz", SHA_LOWER, False),
            IndexFile(
                f"{FILES}/foo_bar-1.0-py3-none-any.whl",
                "foo_bar-1.0-py3-none-any.whl",
                SHA_LOWER,
                True,
            ),
        ),
    )


@pytest.mark.parametrize(
    ("anchor", "page_url", "expected"),
    [
        pytest.param(
            '<a href="../../packages/x-1.0.tar.gz#md5=00&sha256=' + SHA + '">x</a>',
            PAGE_URL,
            IndexFile("https://pypi.org/packages/x-1.0.tar.gz", "x-1.0.tar.gz", SHA_LOWER, False),
            id="relative",
        ),
        pytest.param(
            '<a href="x-1.0.whl?a=1&amp;b=2" data-core-metadata="true">x</a>',
            PAGE_URL,
            IndexFile(f"{PAGE_URL}x-1.0.whl?a=1&b=2", "x-1.0.whl", None, True),
            id="entity-in-href-and-query",
        ),
        pytest.param(
            '<a href="x-1.0.whl" data-core-metadata="false" data-dist-info-metadata="true">x</a>',
            PAGE_URL,
            IndexFile(f"{PAGE_URL}x-1.0.whl", "x-1.0.whl", None, True),
            id="metadata-false-is-a-value-like-pip",  # pip 23.2-26 then fetch .metadata
        ),
        pytest.param(
            '<a href="x-1.0.whl" data-core-metadata data-dist-info-metadata="sha256=00">x</a>',
            PAGE_URL,
            IndexFile(f"{PAGE_URL}x-1.0.whl", "x-1.0.whl", None, True),
            id="bare-attribute-like-pip",
        ),
        pytest.param(
            "<A HREF='x%2D1.0.whl'>x</A>",
            PAGE_URL,
            IndexFile(f"{PAGE_URL}x-1.0.whl", "x-1.0.whl", None, False),
            id="upper-case-tags-and-quoting",
        ),
        pytest.param(
            '<a href="/simple/six/">six</a>',
            "https://example.org/simple/",
            IndexFile("https://example.org/simple/six/", "six", None, False),
            id="root-index-link",
        ),
    ],
)
def test_html_anchor(anchor: str, page_url: str, expected: IndexFile) -> None:
    page = parse_index_page(anchor.encode(), content_type="text/html", page_url=page_url)
    assert page.files == (expected,)


@pytest.mark.parametrize(
    ("base", "page_url", "expected"),
    [
        pytest.param(
            "https://mirror.example/pkgs/", None, "https://mirror.example/pkgs/x.whl", id="abs"
        ),
        pytest.param("../../pkgs/", PAGE_URL, "https://pypi.org/pkgs/x.whl", id="relative-base"),
        pytest.param("../../pkgs/", None, None, id="relative-base-no-page-url"),
    ],
)
def test_html_base(base: str, page_url: str | None, expected: str | None) -> None:
    data = f'<html><head><base href="{base}"><base href="/ignored/"></head><a href="x.whl">x</a>'
    page = parse_index_page(data.encode(), content_type=None, page_url=page_url)
    assert [f.url for f in page.files] == ([expected] if expected else [])


def test_html_without_page_url_keeps_absolute_links_only() -> None:
    data = b'<a href="rel.whl">a</a><a href="https://x.org/abs.whl#sha256=zz">b</a><a href="">c</a>'
    page = parse_index_page(data, content_type="text/html", page_url=None)
    assert page.files == (IndexFile("https://x.org/abs.whl", "abs.whl", None, False),)


@pytest.mark.parametrize(
    ("data", "project"),
    [
        pytest.param(b"<title>Links for Foo_Bar</title>", "foo-bar", id="title"),
        pytest.param(b"<h1>Links for Foo.Bar</h1>", "foo-bar", id="h1"),
        pytest.param(b"<title>root/pypi: links for six</title>", "six", id="devpi"),
        pytest.param(b"<html><h1>six</h1><a href='six-1.0.whl'>", "six", id="bare-h1"),
        pytest.param(b"<title>Simple index</title><h1>Index</h1>", None, id="root"),
        pytest.param(b"<title>Links for &lt;script&gt;</title>", None, id="not-a-name"),
    ],
)
def test_html_project(data: bytes, project: str | None) -> None:
    assert parse_index_page(data, content_type=None, page_url=None).project == project


def test_junk_html() -> None:
    data = (
        b"<html><<a href='a.whl'<a href=\"https://x.org/b.whl\">\x00\xff<![if x]><!-- open"
        b"<a href='http://[::1/c.whl'>"
    )
    page = parse_index_page(data, content_type="text/html; charset=bogus", page_url=PAGE_URL)
    assert [f.filename for f in page.files] == ["b.whl"]


def test_charset_from_content_type() -> None:
    data = '<title>Links for caf\xe9</title><a href="caf\xe9.whl">x</a>'.encode("latin-1")
    page = parse_index_page(data, content_type="text/html; charset=ISO-8859-1", page_url=PAGE_URL)
    assert page.files[0].url == f"{PAGE_URL}caf%C3%A9.whl"
    assert page.files[0].filename == "caf\xe9.whl"


# --- identify_page ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        pytest.param(json_page([]), None, (True, "foo-bar"), id="json"),
        pytest.param(
            b'{"meta": {"api-version": "1.0"}, "projects": []}', None, (True, None), id="root"
        ),
        pytest.param(b'{"a": 1}', "application/json", (False, None), id="other-json"),
        pytest.param(b"{", "application/json", (False, None), id="bad-json"),
        pytest.param(PYPI_HTML, None, (True, "foo-bar"), id="html"),
        pytest.param(b"<p>hi</p>", "application/vnd.pypi.simple.v1+html", (True, None), id="typed"),
        pytest.param(b"<p>hi</p>", "text/html", (False, None), id="other-html"),
    ],
)
def test_identify_page(
    data: bytes, content_type: str | None, expected: tuple[bool, str | None]
) -> None:
    assert identify_page(data, content_type=content_type) == expected


def test_identify_corrupt_typed_json() -> None:
    with pytest.raises(CacheFormatError):
        identify_page(b"{", content_type=JSON_TYPE)


# --- properties ------------------------------------------------------------------------

SAMPLES = [PYPI_HTML, json_page([file_entry("a.whl"), file_entry(f"{FILES}/b.whl", "b.whl")])]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    st.integers(0, 10_000),
    st.sampled_from([None, "text/html", JSON_TYPE]),
    st.sampled_from([None, PAGE_URL]),
)
def test_mutated_pages(
    sample: bytes,
    flips: list[tuple[int, int]],
    cut: int,
    content_type: str | None,
    page_url: str | None,
) -> None:
    data = bytearray(sample)
    for at, value in flips:
        data[at % len(data)] = value
    try:
        page = parse_index_page(bytes(data[:cut]), content_type=content_type, page_url=page_url)
    except CacheFormatError:
        return
    assert all(f.url.startswith(("http://", "https://")) or ":" in f.url for f in page.files)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' a&#;![]-?hrefbas:x.whl")), max_size=300))
def test_arbitrary_markup(text: str) -> None:
    with contextlib.suppress(CacheFormatError):
        parse_index_page(text.encode(), content_type="text/html", page_url=PAGE_URL)


# pip's own Link parser, in each pip's venv: does it ask for <url>.metadata?
_PIP_SAYS = """
import json, sys
from pip._internal.models.link import Link
out = []
for kind, value in json.loads(sys.stdin.read()):
    if kind == "html":
        attrs = {"href": "https://h/x-1.0-py3-none-any.whl"}
        if value is not None:
            attrs["data-core-metadata"] = value
        link = Link.from_element(attrs, page_url="https://h/", base_url="https://h/")
    else:
        item = {"filename": "x-1.0-py3-none-any.whl", "url": "https://h/x-1.0-py3-none-any.whl",
                "hashes": {}, "core-metadata": value}
        link = Link.from_json(item, "https://h/")
    out.append(link is not None and link.metadata_link() is not None)
print(json.dumps(out))
"""
_METADATA_VALUES: list[tuple[str, object]] = [
    *(("html", v) for v in ["true", "false", "False", "", "sha256=" + "0" * 64, "x", None]),
    *(("json", v) for v in [True, False, "true", "false", "", {}, {"sha256": "0" * 64}, 0, 1]),
    ("json", None),
]


@pytest.mark.parametrize("pip_fixture", ["pip_legacy", "pip_current"])
def test_metadata_offered_exactly_when_pip_asks_for_it(
    request: pytest.FixtureRequest, pip_fixture: str
) -> None:
    """Whether a page offers a file's .metadata decides which URLs are hashed: it must
    be pip's own reading of the attribute, odd values included."""
    pip = request.getfixturevalue(pip_fixture)
    proc = subprocess.run(
        [str(pip.python), "-c", _PIP_SAYS],
        input=json.dumps(_METADATA_VALUES),
        capture_output=True,
        text=True,
        check=True,
    )
    pip_says = json.loads(proc.stdout)
    ours = []
    for kind, value in _METADATA_VALUES:
        if kind == "html":
            attr = "" if value is None else f' data-core-metadata="{value}"'
            body = f'<a href="https://h/x-1.0-py3-none-any.whl"{attr}>x</a>'.encode()
            page = parse_index_page(body, content_type="text/html", page_url="https://h/")
        else:
            document = {"meta": {"api-version": "1.0"}, "name": "x", "files": [
                {"filename": "x-1.0-py3-none-any.whl", "url": "https://h/x-1.0-py3-none-any.whl",
                 "hashes": {}, "core-metadata": value}]}  # fmt: skip
            page = parse_index_page(
                json.dumps(document).encode(), content_type=JSON_TYPE, page_url="https://h/"
            )
        ours.append(page.files[0].has_metadata)
    assert ours == pip_says, list(zip(_METADATA_VALUES, pip_says, ours, strict=True))
