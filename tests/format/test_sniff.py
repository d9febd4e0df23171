"""Tests for sniff.py: what a cached body is, read with bounded memory."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import struct
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pip_cache_plus.errors import CacheFormatError
from pip_cache_plus.format import sniff, streams
from pip_cache_plus.format.sniff import Sniffed, sniff_body
from pip_cache_plus.format.streams import decode_body, open_decoded, spool

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# --- builders --------------------------------------------------------------------------


def core_metadata(name: str, version: str, *, body: str = "A description.\n") -> bytes:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test package\n\n{body}"
    ).encode()


def wheel_file(tags: Iterable[str], build: str | None = None) -> bytes:
    lines = ["Wheel-Version: 1.0", "Generator: test", "Root-Is-Purelib: true"]
    lines += [f"Tag: {tag}" for tag in tags]
    if build is not None:
        lines.append(f"Build: {build}")
    return ("\n".join(lines) + "\n").encode()


def make_zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_wheel(
    stem: str,
    name: str,
    version: str,
    tags: Iterable[str] = ("py3-none-any",),
    build: str | None = None,
) -> bytes:
    return make_zip(
        {
            f"{stem.split('-', maxsplit=1)[0]}/__init__.py": b"",
            f"{stem}.dist-info/METADATA": core_metadata(name, version),
            f"{stem}.dist-info/WHEEL": wheel_file(tags, build),
            f"{stem}.dist-info/RECORD": b"",
        }
    )


def make_tar(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_sdist(top: str, name: str, version: str, mode: str = "w:gz") -> bytes:
    return make_tar(
        {
            f"{top}/setup.py": b"from setuptools import setup\nsetup()\n",
            f"{top}/PKG-INFO": core_metadata(name, version),
            f"{top}/src/mod.py": os.urandom(2000),
        },
        mode,
    )


class Window:
    """[offset, offset + length) of ``fp`` as a file of its own: seek/read/tell only."""

    def __init__(self, fp: BinaryIO, offset: int, length: int) -> None:
        self._fp, self._offset, self._length, self._pos = fp, offset, length, 0

    def seek(self, pos: int, whence: int = 0) -> int:
        new = (0, self._pos, self._length)[whence] + pos
        if new < 0:
            raise OSError(22, "Invalid argument")
        self._pos = new
        return new

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._length - self._pos)
        n = left if n is None or n < 0 else min(n, left)
        self._fp.seek(self._offset + self._pos)
        data = self._fp.read(n)
        self._pos += len(data)
        return data


def window(fp: BinaryIO, offset: int, length: int) -> BinaryIO:
    return cast(BinaryIO, Window(fp, offset, length))


class Unseekable(io.RawIOBase):
    """A stream that cannot seek or tell, like a decoded body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._data.read(min(len(view), 777))  # short reads on purpose
        view[: len(data)] = data
        return len(data)


def unseekable(data: bytes) -> BinaryIO:
    return cast(BinaryIO, Unseekable(data))


MANYLINUX = ("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64")

# --- wheels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wheel", "expected"),
    [
        pytest.param(
            make_wheel("six-1.16.0", "six", "1.16.0", ("py2-none-any", "py3-none-any")),
            Sniffed("wheel", "six", "1.16.0", "six-1.16.0-py2.py3-none-any.whl"),
            id="py2.py3",
        ),
        pytest.param(
            make_wheel("charset_normalizer-3.4.0", "charset-normalizer", "3.4.0", MANYLINUX),
            Sniffed(
                "wheel",
                "charset-normalizer",
                "3.4.0",
                "charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ),
            id="manylinux-multi-tag",
        ),
        pytest.param(
            make_wheel(
                "numpy-2.0.0",
                "numpy",
                "2.0.0",
                ("cp311-cp311-macosx_10_9_x86_64", "cp311-cp311-macosx_11_0_arm64"),
            ),
            Sniffed(
                "wheel",
                "numpy",
                "2.0.0",
                "numpy-2.0.0-cp311-cp311-macosx_10_9_x86_64.macosx_11_0_arm64.whl",
            ),
            id="two-platforms",
        ),
        pytest.param(
            make_wheel("foo-2.0", "foo", "2.0", build="1"),
            Sniffed("wheel", "foo", "2.0", "foo-2.0-1-py3-none-any.whl"),
            id="build-tag",
        ),
        pytest.param(
            make_wheel(
                "zope.interface-6.1", "zope.interface", "6.1", ("cp311-cp311-linux_x86_64",)
            ),
            Sniffed(
                "wheel", "zope-interface", "6.1", "zope.interface-6.1-cp311-cp311-linux_x86_64.whl"
            ),
            id="dotted-legacy-name",
        ),
        pytest.param(
            make_wheel("zope_interface-7.2", "zope.interface", "7.2"),
            Sniffed("wheel", "zope-interface", "7.2", "zope_interface-7.2-py3-none-any.whl"),
            id="dotted-name-escaped",
        ),
        pytest.param(
            make_wheel("PyYAML-6.0.1", "PyYAML", "6.0.1"),
            Sniffed("wheel", "pyyaml", "6.0.1", "PyYAML-6.0.1-py3-none-any.whl"),
            id="mixed-case",
        ),
        pytest.param(
            make_wheel("My_Odd__Pkg-1.0", "My-Odd..Pkg", "1.0"),
            Sniffed("wheel", "my-odd-pkg", "1.0", "My_Odd__Pkg-1.0-py3-none-any.whl"),
            id="underscores",
        ),
        pytest.param(
            make_wheel("renamed-1.0", "Real.Name", "1.0"),
            Sniffed("wheel", "real-name", "1.0", "real_name-1.0-py3-none-any.whl"),
            id="dist-info-does-not-match-name",
        ),
        pytest.param(
            make_wheel("foo-1.0rc1", "foo", "1.0-RC1"),
            Sniffed("wheel", "foo", "1.0rc1", "foo-1.0rc1-py3-none-any.whl"),
            id="version-normalized",
        ),
        pytest.param(
            make_wheel("foo-banana", "foo", "banana"),
            Sniffed("wheel", "foo", "banana", "foo-banana-py3-none-any.whl"),
            id="invalid-version-kept",
        ),
        pytest.param(
            make_wheel("foo-1.0", "foo", "1.0", ()),
            Sniffed("wheel", "foo", "1.0", None),
            id="no-tags",
        ),
    ],
)
def test_wheel(wheel: bytes, expected: Sniffed) -> None:
    assert sniff_body(io.BytesIO(wheel)) == expected
    assert sniff_body(wheel) == expected


@pytest.mark.parametrize(
    ("members", "message"),
    [
        pytest.param(
            {"a-1.dist-info/WHEEL": wheel_file(["py3-none-any"])}, "no METADATA", id="no-metadata"
        ),
        pytest.param(
            {
                "a-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
                "b-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
            },
            "several",
            id="two-dist-infos",
        ),
        pytest.param(
            {
                "a-1.dist-info/WHEEL": wheel_file(["py3-any"]),
                "a-1.dist-info/METADATA": core_metadata("a", "1"),
            },
            "malformed Tag",
            id="bad-tag",
        ),
        pytest.param(
            {
                "a-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
                "a-1.dist-info/METADATA": b"Metadata-Version: 2.1\nSummary: nameless\n",
            },
            "no Name",
            id="metadata-without-name",
        ),
    ],
)
def test_broken_wheel(members: dict[str, bytes], message: str) -> None:
    with pytest.raises(CacheFormatError, match=message):
        sniff_body(make_zip(members))


def test_wheel_member_compressed_with_bzip2_is_refused() -> None:
    wheel = make_zip(
        {
            "a-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
            "a-1.dist-info/METADATA": core_metadata("a", "1"),
        },
        zipfile.ZIP_BZIP2,
    )
    with pytest.raises(CacheFormatError, match="compression method 12"):
        sniff_body(wheel)


def test_stored_wheel() -> None:
    wheel = make_zip(
        {
            "a-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
            "a-1.dist-info/METADATA": core_metadata("a", "1"),
        },
        zipfile.ZIP_STORED,
    )
    assert sniff_body(wheel) == Sniffed("wheel", "a", "1", "a-1-py3-none-any.whl")


def test_encrypted_member_is_refused() -> None:
    wheel = bytearray(
        make_zip(
            {
                "a-1.dist-info/WHEEL": wheel_file(["py3-none-any"]),
                "a-1.dist-info/METADATA": core_metadata("a", "1"),
            }
        )
    )
    # Set the "encrypted" flag bit in every local and central header.
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = wheel.find(signature)
        while at >= 0:
            wheel[at + flag_at] |= 1
            at = wheel.find(signature, at + 1)
    with pytest.raises(CacheFormatError, match="encrypted"):
        sniff_body(bytes(wheel))


# --- sdists ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            make_sdist("my_pkg-1.0", "My.Pkg", "1.0"),
            Sniffed("sdist", "my-pkg", "1.0", "my_pkg-1.0.tar.gz"),
            id="pep625",
        ),
        pytest.param(
            make_sdist("My.Pkg-1.0", "My.Pkg", "1.0"),
            Sniffed("sdist", "my-pkg", "1.0", "My.Pkg-1.0.tar.gz"),
            id="legacy-name",
        ),
        pytest.param(
            make_sdist("Django-4.2.1", "Django", "4.2.1"),
            Sniffed("sdist", "django", "4.2.1", "Django-4.2.1.tar.gz"),
            id="mixed-case",
        ),
        pytest.param(
            make_sdist("./foo-1.0", "foo", "1.0"),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz"),
            id="dot-slash-names",
        ),
        pytest.param(
            make_sdist("checkout", "foo", "1.0"),
            Sniffed("sdist", "foo", "1.0", None),
            id="top-dir-not-name-version",
        ),
        pytest.param(
            make_sdist("foo-1.0", "foo", "1.0", "w:bz2"),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.bz2"),
            id="bz2",
        ),
        pytest.param(
            make_sdist("foo-1.0", "foo", "1.0", "w:xz"),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.xz"),
            id="xz",
        ),
        pytest.param(
            make_sdist("foo-1.0", "foo", "1.0", "w"),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar"),
            id="plain-tar",
        ),
        pytest.param(
            make_tar({"foo-1.0/setup.py": b"", "foo-1.0/foo.egg-info/PKG-INFO": b"junk"}),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz"),
            id="no-pkg-info-name-from-top-dir",
        ),
        pytest.param(make_tar({"stuff/a.txt": b"x"}), Sniffed("other", None, None, None), id="tar"),
        pytest.param(
            make_tar({".": b"", "./foo-1.0/PKG-INFO": core_metadata("foo", "1.0")}),
            Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz"),
            id="dot-member-first",
        ),
        pytest.param(
            make_zip(
                {"foo_bar-2.0/PKG-INFO": core_metadata("foo-bar", "2.0"), "foo_bar-2.0/x": b""}
            ),
            Sniffed("sdist", "foo-bar", "2.0", "foo_bar-2.0.zip"),
            id="zip-sdist",
        ),
        pytest.param(
            make_zip({"EGG-INFO/PKG-INFO": core_metadata("foo", "1.0"), "foo/__init__.py": b""}),
            Sniffed("other", None, None, None),
            id="egg",
        ),
        pytest.param(
            make_zip({"docs/index.html": b"<html>"}),
            Sniffed("other", None, None, None),
            id="plain-zip",
        ),
        pytest.param(
            gzip.compress(b"<html><title>Links for six</title></html>"),
            Sniffed("other", None, None, None),
            id="gzip-not-tar",
        ),
    ],
)
def test_sdist_and_archives(body: bytes, expected: Sniffed) -> None:
    assert sniff_body(body) == expected


def test_tar_scan_stops_at_member_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    members = {f"foo-1.0/f{i}": b"x" for i in range(10)} | {"foo-1.0/PKG-INFO": b"Name: bar"}
    monkeypatch.setattr(sniff, "TAR_MEMBERS_LIMIT", 5)
    assert sniff_body(make_tar(members)) == Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz")


def test_tar_scan_stops_at_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    members = {"foo-1.0/big": b"\0" * 100_000, "foo-1.0/PKG-INFO": b"Name: bar"}
    monkeypatch.setattr(sniff, "TAR_BYTES_LIMIT", 50_000)
    assert sniff_body(make_tar(members)) == Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz")


def test_tar_bound_without_parsable_top_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    members = {f"src/f{i}": b"x" for i in range(10)}
    monkeypatch.setattr(sniff, "TAR_MEMBERS_LIMIT", 3)
    assert sniff_body(make_tar(members)).kind == "other"


def test_huge_pax_header_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(tarfile.TarInfo("foo-1.0/setup.py"))
        info = tarfile.TarInfo("foo-1.0/a")
        info.pax_headers = {"comment": "x" * (2 << 20)}
        archive.addfile(info)
        info = tarfile.TarInfo("foo-1.0/PKG-INFO")
        info.size = len(data := core_metadata("bar", "2.0"))
        archive.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(sniff, "TAR_BYTES_LIMIT", 100_000)
    # The pax header alone is past the bound: the top directory names it instead.
    assert sniff_body(buffer.getvalue()) == Sniffed("sdist", "foo", "1.0", "foo-1.0.tar.gz")


# --- core metadata (.metadata) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(core_metadata("Foo.Bar", "1.0"), ("foo-bar", "1.0"), id="plain"),
        pytest.param(
            core_metadata("foo", "1.0").replace(b"\n", b"\r\n"), ("foo", "1.0"), id="crlf"
        ),
        pytest.param(b"\xef\xbb\xbf" + core_metadata("foo", "01.0"), ("foo", "1.0"), id="bom"),
        pytest.param(
            b"metadata-version: 1.0\nname: foo\nversion: 2\n", ("foo", "2"), id="lower-case"
        ),
        pytest.param(
            b"Metadata-Version: 1.0\nName: foo\nVersion: 1\nDescription: " + b"x" * (3 << 20),
            ("foo", "1"),
            id="huge-description-header",
        ),
    ],
)
def test_metadata(body: bytes, expected: tuple[str, str]) -> None:
    assert sniff_body(body) == Sniffed("metadata", *expected, None)


def test_metadata_without_version() -> None:
    with pytest.raises(CacheFormatError, match="no Version"):
        sniff_body(b"Metadata-Version: 2.1\nName: foo\n\nVersion: 1\n")


# --- index pages -----------------------------------------------------------------------

JSON_PAGE = (
    b'{"meta": {"api-version": "1.1"}, "name": "Foo.Bar", "files": [{"filename": "x.whl",'
    b' "url": "x.whl", "hashes": {}}], "versions": []}'
)
HTML_PAGE = b"""<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1">
<title>Links for Foo.Bar</title></head>
<body><h1>Links for Foo.Bar</h1>
<a href="foo_bar-1.0.tar.gz#sha256=00">foo_bar-1.0.tar.gz</a><br/></body></html>
"""


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        pytest.param(JSON_PAGE, None, ("index", "foo-bar"), id="json-project"),
        pytest.param(
            b'{"meta": {"api-version": "1.0"}, "projects": [{"name": "a"}]}',
            "application/vnd.pypi.simple.v1+json",
            ("index", None),
            id="json-root",
        ),
        pytest.param(HTML_PAGE, "text/html", ("index", "foo-bar"), id="html-project"),
        pytest.param(
            b"\n\n"
            + HTML_PAGE.replace(b'<meta name="pypi:repository-version" content="1.1">', b""),
            None,
            ("index", "foo-bar"),
            id="html-leading-blank-no-meta",
        ),
        pytest.param(
            b"<html><head><title>Simple index</title></head><body>"
            + b"".join(b'<a href="/simple/p%d/">p%d</a>' % (i, i) for i in range(50))
            + b"</body></html>",
            "text/html",
            ("index", None),
            id="html-root",
        ),
        pytest.param(
            b"<html><body><a href='pkg-1.0-py3-none-any.whl'>pkg</a></body></html>",
            None,
            ("index", None),
            id="html-bare-links",
        ),
        pytest.param(
            b"<html><title>Sign in</title><body>Please log in</body></html>",
            "text/html",
            ("other", None),
            id="html-not-index",
        ),
        pytest.param(
            b'{"error": "not found"}', "application/json", ("other", None), id="json-other"
        ),
        pytest.param(b"{not json", None, ("other", None), id="json-invalid"),
        pytest.param(b"[[[[" * 100_000, None, ("other", None), id="not-an-object"),
    ],
)
def test_index_pages(
    body: bytes, content_type: str | None, expected: tuple[str, str | None]
) -> None:
    result = sniff_body(body, content_type=content_type)
    assert (result.kind, result.project, result.version, result.filename) == (*expected, None, None)


def test_invalid_json_typed_as_index_is_corrupt() -> None:
    with pytest.raises(CacheFormatError, match="not valid JSON"):
        sniff_body(b'{"meta": {', content_type="application/vnd.pypi.simple.v1+json")


def test_deeply_nested_json_is_bounded() -> None:
    body = b'{"a":' * 200_000
    with pytest.raises(CacheFormatError):
        sniff_body(body, content_type="application/vnd.pypi.simple.v1+json")
    assert sniff_body(body).kind == "other"


def test_huge_json_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sniff, "JSON_LIMIT", 1000)
    with pytest.raises(CacheFormatError, match="larger than 1000"):
        sniff_body(b'{"x": "' + b"a" * 2000 + b'"}')


# --- other -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello, world\n", id="text"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(100), id="png"),
        pytest.param(bytes(range(256)) * 4, id="binary"),
    ],
)
def test_other(body: bytes) -> None:
    assert sniff_body(body) == Sniffed("other", None, None, None)


# --- windows and streams ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            make_wheel("charset_normalizer-3.4.0", "charset-normalizer", "3.4.0", MANYLINUX),
            "charset_normalizer-3.4.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            id="wheel",
        ),
        pytest.param(make_sdist("foo-1.0", "foo", "1.0"), "foo-1.0.tar.gz", id="sdist"),
        pytest.param(
            make_zip({"foo-1.0/PKG-INFO": core_metadata("foo", "1.0")}), "foo-1.0.zip", id="zip"
        ),
    ],
)
def test_body_inside_a_bigger_file(tmp_path: Path, body: bytes, expected: str) -> None:
    path = tmp_path / "entry"
    before, after = os.urandom(5000), make_zip({"x": b"y"}) + os.urandom(3000)
    path.write_bytes(before + body + after)
    with path.open("rb") as f:
        assert sniff_body(window(f, len(before), len(body))).filename == expected
        # The body starts at the position it is given at, too.
        f.seek(len(before))
        inner = window(f, 0, len(before) + len(body))
        inner.seek(len(before))
        assert sniff_body(inner).filename == expected


def test_window_that_is_too_short_for_a_zip() -> None:
    f = io.BytesIO(os.urandom(100) + make_wheel("foo-1.0", "foo", "1.0"))
    with pytest.raises(CacheFormatError):
        sniff_body(window(f, 100, 50))


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(make_sdist("foo-1.0", "foo", "1.0"), "sdist", id="tar.gz"),
        pytest.param(core_metadata("foo", "1.0"), "metadata", id="metadata"),
        pytest.param(JSON_PAGE, "index", id="json"),
        pytest.param(b"junk", "other", id="other"),
    ],
)
def test_unseekable_stream(body: bytes, kind: str) -> None:
    assert sniff_body(unseekable(body)).kind == kind


def test_unseekable_zip_needs_a_spool() -> None:
    wheel = make_wheel("foo-1.0", "foo", "1.0")
    with pytest.raises(CacheFormatError, match="spool"):
        sniff_body(unseekable(wheel))
    with spool(unseekable(wheel), limit=len(wheel)) as body:
        assert sniff_body(body).filename == "foo-1.0-py3-none-any.whl"


def test_gzip_encoded_wheel_through_a_spool() -> None:
    wheel = make_wheel("foo-1.0", "foo", "1.0")
    encoded = io.BytesIO(gzip.compress(wheel))
    with spool(open_decoded(encoded, "gzip"), limit=1 << 20, in_memory=100) as body:
        assert sniff_body(body).filename == "foo-1.0-py3-none-any.whl"


def test_spool_limit() -> None:
    with pytest.raises(CacheFormatError, match="spool limit"):
        spool(io.BytesIO(bytes(1000)), limit=999)


# --- corrupt and hostile bodies --------------------------------------------------------

WHEEL = make_wheel("charset_normalizer-3.4.0", "charset-normalizer", "3.4.0", MANYLINUX)
SDIST = make_tar(
    {
        "foo-1.0/big.bin": os.urandom(50_000),
        "foo-1.0/PKG-INFO": core_metadata("foo", "1.0"),
    }
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(WHEEL[:-10], id="zip-cut-in-end-record"),
        pytest.param(WHEEL[: len(WHEEL) // 2], id="zip-cut-in-half"),
        pytest.param(WHEEL[:40], id="zip-cut-in-first-header"),
        pytest.param(SDIST[: len(SDIST) // 2], id="tar.gz-cut-before-pkg-info"),
        pytest.param(SDIST[:5], id="tar.gz-cut-in-gzip-header"),
        pytest.param(SDIST[:10] + os.urandom(len(SDIST) - 10), id="tar.gz-random-data"),
        pytest.param(b"BZh9" + os.urandom(200), id="bz2-random-data"),
        pytest.param(b"\xfd7zXZ\x00" + os.urandom(200), id="xz-random-data"),
        pytest.param(b"PK\x03\x04" + os.urandom(2000), id="zip-magic-random-data"),
    ],
)
def test_corrupt(body: bytes) -> None:
    with pytest.raises(CacheFormatError):
        sniff_body(body)


def test_corrupt_wheel_member_data() -> None:
    wheel = bytearray(WHEEL)
    # Scribble over the compressed METADATA, keeping the headers intact.
    info = zipfile.ZipFile(io.BytesIO(WHEEL)).getinfo("charset_normalizer-3.4.0.dist-info/METADATA")
    start = info.header_offset + 30 + len(info.filename)
    wheel[start : start + info.compress_size] = os.urandom(info.compress_size)
    with pytest.raises(CacheFormatError):
        sniff_body(bytes(wheel))


def zip_bomb(size: int, prefix: bytes = b"") -> bytes:
    """A wheel whose METADATA decompresses to ``size`` bytes (zeros after ``prefix``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bomb-1.dist-info/WHEEL", wheel_file(["py3-none-any"]))
        info = zipfile.ZipInfo("bomb-1.dist-info/METADATA")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(prefix)
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb(256 << 20)


def assert_quick_and_small(body: bytes) -> Sniffed | CacheFormatError:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result: Sniffed | CacheFormatError = sniff_body(body)
    except CacheFormatError as e:
        result = e
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < 5
    assert peak < 16 << 20
    return result


def test_zip_bomb(bomb: bytes) -> None:
    assert len(bomb) < 1 << 20
    assert isinstance(assert_quick_and_small(bomb), CacheFormatError)


def test_zip_bomb_after_valid_headers() -> None:
    body = zip_bomb(64 << 20, b"Metadata-Version: 2.1\nName: bomb\nVersion: 1\n")
    assert assert_quick_and_small(body) == Sniffed("wheel", "bomb", "1", "bomb-1-py3-none-any.whl")


def test_zip_bomb_with_declared_size() -> None:
    """METADATA that declares ~4 GiB (and inflates past its declared size)."""
    wheel = bytearray(zip_bomb(8 << 20))
    archive = zipfile.ZipFile(io.BytesIO(bytes(wheel)))
    info = archive.getinfo("bomb-1.dist-info/METADATA")
    central = wheel.find(b"PK\x01\x02")
    while not wheel[central + 46 :].startswith(info.filename.encode()):
        central = wheel.find(b"PK\x01\x02", central + 1)
    struct.pack_into("<L", wheel, central + 24, 0xFFFF_FF00)
    assert isinstance(assert_quick_and_small(bytes(wheel)), CacheFormatError)


def test_gzip_tar_bomb() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = compressor.compress(bytes(256 << 20)) + compressor.flush()
    assert assert_quick_and_small(body) == Sniffed("other", None, None, None)
    big_member = make_tar({"x-1/a": bytes(256 << 20)})
    assert assert_quick_and_small(big_member) == Sniffed("sdist", "x", "1", "x-1.tar.gz")


def test_bzip2_bomb_is_bounded() -> None:
    header = tarfile.TarInfo("bomb-1/a")
    header.size = 1 << 30
    body = bz2.compress(header.tobuf() + bytes(64 << 20))
    result = assert_quick_and_small(body)
    assert result == Sniffed("sdist", "bomb", "1", "bomb-1.tar.bz2")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("<L", 100 << 20, "104857600 bytes", id="size"),
        pytest.param("<H", 0xFFFE, "65534 entries", id="entries"),
    ],
)
def test_central_directory_too_big(
    monkeypatch: pytest.MonkeyPatch, field: str, value: int, message: str
) -> None:
    monkeypatch.setattr(sniff, "ZIP_ENTRIES_LIMIT", 1000)
    wheel = bytearray(make_wheel("foo-1.0", "foo", "1.0"))
    end = wheel.rfind(b"PK\x05\x06")
    struct.pack_into(field, wheel, end + (12 if field == "<L" else 10), value)
    with pytest.raises(CacheFormatError, match=f"too big.*{message}"):
        sniff_body(bytes(wheel))


def test_zip64_central_directory_too_big() -> None:
    wheel = make_wheel("foo-1.0", "foo", "1.0")
    end = wheel.rfind(b"PK\x05\x06")
    eocd = bytearray(wheel[end:])
    struct.pack_into("<HHLL", eocd, 8, 0xFFFF, 0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 3, 3, 1 << 40, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    with pytest.raises(CacheFormatError, match=f"too big.*{1 << 40} bytes"):
        sniff_body(wheel[:end] + record + locator + bytes(eocd))


# --- decoding --------------------------------------------------------------------------

PAYLOAD = b"<html>" + os.urandom(100_000).hex().encode() + b"</html>"


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        pytest.param(None, PAYLOAD, id="none"),
        pytest.param("identity", PAYLOAD, id="identity"),
        pytest.param("gzip", gzip.compress(PAYLOAD), id="gzip"),
        pytest.param("X-GZIP", gzip.compress(PAYLOAD), id="x-gzip"),
        pytest.param("deflate", zlib.compress(PAYLOAD), id="deflate-zlib"),
        pytest.param("deflate", deflate_raw(PAYLOAD), id="deflate-raw"),
        pytest.param("gzip, deflate", zlib.compress(gzip.compress(PAYLOAD)), id="two-codings"),
    ],
)
def test_decode_body(encoding: str | None, encoded: bytes) -> None:
    assert decode_body(io.BytesIO(encoded), encoding, len(PAYLOAD)) == PAYLOAD
    assert open_decoded(io.BytesIO(encoded), encoding).read() == PAYLOAD
    with pytest.raises(CacheFormatError, match="limit"):
        decode_body(io.BytesIO(encoded), encoding, len(PAYLOAD) - 1)


def test_decode_brotli() -> None:
    brotli = pytest.importorskip("brotli")
    encoded = brotli.compress(PAYLOAD)
    assert decode_body(io.BytesIO(encoded), "br", len(PAYLOAD)) == PAYLOAD
    with pytest.raises(CacheFormatError):
        decode_body(io.BytesIO(encoded), "br", 1000)
    with pytest.raises(CacheFormatError):
        decode_body(io.BytesIO(encoded[:-20]), "br", len(PAYLOAD))


@pytest.mark.parametrize(
    ("encoding", "encoded", "message"),
    [
        pytest.param("gzip", gzip.compress(PAYLOAD)[:-100], "truncated", id="truncated-gzip"),
        pytest.param("gzip", b"\x1f\x8b" + os.urandom(500), "corrupt", id="corrupt-gzip"),
        pytest.param("deflate", b"", "truncated", id="empty-deflate"),
        pytest.param("compress", PAYLOAD, "unsupported", id="unknown-coding"),
    ],
)
def test_decode_errors(encoding: str, encoded: bytes, message: str) -> None:
    with pytest.raises(CacheFormatError, match=message):
        decode_body(io.BytesIO(encoded), encoding, 1 << 30)


def test_decode_bomb_is_bounded() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    encoded = compressor.compress(bytes(256 << 20)) + compressor.flush()
    tracemalloc.start()
    try:
        with pytest.raises(CacheFormatError, match="limit"):
            decode_body(io.BytesIO(encoded), "gzip", 1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


# --- properties ------------------------------------------------------------------------

SAMPLES = [
    WHEEL,
    make_wheel("six-1.16.0", "six", "1.16.0", ("py2-none-any", "py3-none-any"), build="2"),
    make_sdist("foo-1.0", "foo", "1.0"),
    make_sdist("foo-1.0", "foo", "1.0", "w:bz2"),
    make_sdist("foo-1.0", "foo", "1.0", "w:xz"),
    make_zip({"foo-1.0/PKG-INFO": core_metadata("foo", "1.0")}),
    core_metadata("foo", "1.0"),
    JSON_PAGE,
    HTML_PAGE,
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(body) - 1))
        body[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(body)))
    return bytes(body[: cut if draw(st.booleans()) else len(body)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(), st.sampled_from([None, "text/html", "application/vnd.pypi.simple.v1+json"]))
def test_mutated_bodies_never_raise_anything_else(body: bytes, content_type: str | None) -> None:
    try:
        result = sniff_body(body, content_type=content_type)
    except CacheFormatError:
        return
    assert isinstance(result, Sniffed)


@settings(max_examples=200, deadline=None)
@given(mutated(), st.sampled_from(["gzip", "deflate", "gzip, deflate"]))
def test_mutated_encoded_bodies(body: bytes, encoding: str) -> None:
    encoded = zlib.compress(body) if encoding == "deflate" else gzip.compress(body)
    if encoding == "gzip, deflate":
        encoded = zlib.compress(gzip.compress(body))
    data = bytearray(encoded)
    if data:
        data[len(data) // 3] ^= 0x55
    with contextlib.suppress(CacheFormatError):
        decode_body(io.BytesIO(bytes(data)), encoding, 1 << 20)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=3000), st.sampled_from([b"", b"PK\x03\x04", b"\x1f\x8b", b"BZh", b"<", b"{"])
)
def test_random_bytes(body: bytes, magic: bytes) -> None:
    with contextlib.suppress(CacheFormatError):
        sniff_body(magic + body)


def test_xz_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # An xz stream whose dictionary needs more memory than the decoder allows.
    body = lzma.compress(make_tar({"a-1/x": b""}, "w"), format=lzma.FORMAT_XZ, preset=9)
    monkeypatch.setattr(streams, "XZ_MEMORY_LIMIT", 1 << 20)
    with pytest.raises(CacheFormatError, match="corrupt"):
        sniff_body(body)
