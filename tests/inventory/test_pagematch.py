"""pagematch: naming a cached file from the pages that list it, route by route."""

from __future__ import annotations

import hashlib
import json

import pytest

from pip_cache_plus.format.simple import load_page
from pip_cache_plus.inventory.pagematch import Match, PageFiles, Unnamed, match

PAGE_KEY = "p" * 56
PAGE_URL = "https://pkgs.example/simple/pkg/"
PLAT = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _json_page(files: list[dict[str, object]]) -> bytes:
    doc = {"meta": {"api-version": "1.1"}, "name": "pkg", "files": files}
    return json.dumps(doc).encode()


def _file(filename: str, body: str, metadata: str | None = None) -> dict[str, object]:
    item: dict[str, object] = {
        "filename": filename,
        "url": f"../../files/{filename}",
        "hashes": {"sha256": _sha(body)},
    }
    if metadata is not None:
        item["core-metadata"] = {"sha256": _sha(metadata)}
    return item


def _files(*items: dict[str, object], page_url: str | None = None) -> PageFiles:
    files = PageFiles({"pkg"})
    files.add(PAGE_KEY, page_url, load_page(_json_page(list(items)), content_type=None))
    return files


class _Body:
    """A body hasher that counts its calls."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return None if self.text is None else _sha(self.text)


def _match(
    files: PageFiles, kind: str, content_name: str | None, body: _Body, key: str = "k" * 56
) -> Match:
    return match(Unnamed(key, kind, "pkg", "1.0", content_name), files, body)  # type: ignore[arg-type]


def test_the_tag_set_names_the_wheel_in_the_pages_tag_order() -> None:
    files = _files(
        _file("pkg-1.0-py3-none-any.whl", "pure"),
        _file(f"pkg-1.0-{PLAT}.whl", "plat"),
        _file("pkg-1.0.tar.gz", "sdist"),
    )
    body = _Body("plat")
    # Rebuilt from WHEEL's Tag lines in another order than the real file's name.
    rebuilt = "pkg-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    found = _match(files, "wheel", rebuilt, body)
    assert (found.filename, found.filename_from) == (f"pkg-1.0-{PLAT}.whl", "page")
    assert found.link == f"../../files/pkg-1.0-{PLAT}.whl"
    assert found.sha256 == _sha("plat")
    assert (found.url, found.url_unknown, found.page) == (None, "page-url-unknown", PAGE_KEY)
    assert body.calls == 0  # names and tags sufficed: the body is not read


def test_the_sdist_is_named_by_its_extension() -> None:
    files = _files(_file("pkg-1.0.zip", "zip"), _file("pkg-1.0.tar.gz", "tgz"))
    found = _match(files, "sdist", "pkg-1.0.tar.gz", _Body("tgz"))
    assert (found.filename, found.filename_from) == ("pkg-1.0.tar.gz", "page")


@pytest.mark.parametrize(
    ("content_name", "why"),
    [
        pytest.param(None, "several", id="no-tag-lines-several-wheels"),
        pytest.param("pkg-1.0-py2-none-any.whl", "none", id="tags-fit-no-listed-name"),
    ],
)
def test_the_body_hash_decides_when_names_do_not(content_name: str | None, why: str) -> None:
    files = _files(
        _file("pkg-1.0-1-py3-none-any.whl", "first"),
        _file("pkg-1.0-2-py3-none-any.whl", "second"),
    )
    body = _Body("second")
    found = _match(files, "wheel", content_name, body)
    assert (found.filename, found.filename_from) == ("pkg-1.0-2-py3-none-any.whl", "page"), why
    assert body.calls == 1


def test_a_body_whose_sha256_no_page_lists_keeps_its_content_name() -> None:
    files = _files(
        _file("pkg-1.0-1-py3-none-any.whl", "first"),
        _file("pkg-1.0-2-py3-none-any.whl", "second"),
    )
    found = _match(files, "wheel", "pkg-1.0-3-py3-none-any.whl", _Body("third"))
    assert (found.filename, found.filename_from) == ("pkg-1.0-3-py3-none-any.whl", "content")
    assert (found.link, found.url_unknown, found.candidates) == (None, "not-listed", ())


def test_metadata_is_checked_against_the_pages_hash() -> None:
    files = _files(
        _file("pkg-1.0-py3-none-any.whl", "wheel", metadata="meta"),
        _file("pkg-1.0.tar.gz", "sdist"),  # no metadata offered: never a candidate
    )
    found = _match(files, "metadata", None, _Body("meta"))
    assert (found.filename, found.filename_from) == ("pkg-1.0-py3-none-any.whl.metadata", "page")
    assert found.link == "../../files/pkg-1.0-py3-none-any.whl.metadata"
    assert found.sha256 is None  # the page's sha256 is the wheel's, not this body's
    other = _match(files, "metadata", None, _Body("other metadata"))
    assert (other.filename, other.filename_from, other.url_unknown) == (None, None, "not-listed")


def test_metadata_that_fits_several_wheels_says_which_not_one() -> None:
    files = _files(
        _file("pkg-1.0-py3-none-any.whl", "pure", metadata="same"),
        _file(f"pkg-1.0-{PLAT}.whl", "plat", metadata="same"),
        _file("pkg-1.0-cp312-cp312-win_amd64.whl", "win", metadata="different"),
    )
    found = _match(files, "metadata", None, _Body("same"))
    assert (found.filename, found.filename_from) == (None, None)
    assert found.candidates == (
        "pkg-1.0-py3-none-any.whl.metadata",
        f"pkg-1.0-{PLAT}.whl.metadata",
    )
    # Without hashes on the page, every wheel that offers metadata is a candidate.
    bare = PageFiles({"pkg"})
    html = b"".join(
        b'<a href="../../files/%s" data-core-metadata="true">x</a>' % name.encode()
        for name in ("pkg-1.0-py3-none-any.whl", f"pkg-1.0-{PLAT}.whl")
    )
    bare.add(PAGE_KEY, None, load_page(b"<title>Links for pkg</title>" + html, content_type=None))
    unhashed = _match(bare, "metadata", None, _Body("same"))
    assert unhashed.filename is None and len(unhashed.candidates) == 2


def test_no_page_of_the_project_means_no_hashing() -> None:
    body = _Body("plat")
    found = _match(PageFiles({"pkg"}), "wheel", "pkg-1.0-py3-none-any.whl", body)
    assert (found.filename, found.filename_from, found.url_unknown) == (
        "pkg-1.0-py3-none-any.whl",
        "content",
        "not-listed",
    )
    assert body.calls == 0


def test_a_page_whose_url_is_known_proves_the_url_or_says_the_link_is_elsewhere() -> None:
    files = _files(_file("pkg-1.0-py3-none-any.whl", "pure"), page_url=PAGE_URL)
    url = "https://pkgs.example/files/pkg-1.0-py3-none-any.whl"
    key = hashlib.sha224(url.encode()).hexdigest()
    found = _match(files, "wheel", "pkg-1.0-py3-none-any.whl", _Body("pure"), key=key)
    assert (found.url, found.url_unknown) == (url, None)
    # Cached under another URL (a redirect, a mirror): the link is not this entry's.
    elsewhere = _match(files, "wheel", "pkg-1.0-py3-none-any.whl", _Body("pure"))
    assert (elsewhere.filename, elsewhere.url, elsewhere.url_unknown) == (
        "pkg-1.0-py3-none-any.whl",
        None,
        "link-elsewhere",
    )
