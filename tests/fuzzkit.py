"""Damaged cache entries for the fuzz and security tests.

The damage starts from entries real pip wrote (see ``realpip.py``) and breaks them the way
disks, killed writes and hostile indexes do: bodies, headers, msgpack lies. The bombs are
built without compressing what they expand to: a raw deflate stream of zeros is one
full-flushed block repeated, so a gigabyte costs a millisecond to make (and as long as
ever to decompress). :func:`run_every_command` runs each command in-process and checks
what every command owes a damaged cache (:func:`check`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

MiB = 1 << 20
PREFIX = b"cc=4,"
HUGE = 2**32 - 1  # the biggest length a 32-bit msgpack header can declare

# -- deflate, gzip ------------------------------------------------------------------------


@functools.cache
def _zeros_block() -> bytes:
    """1 MiB of zeros as non-final deflate blocks that leave no state behind (full flush),
    so the block can be repeated to make a stream of any length."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return data


_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a final, empty, fixed-Huffman block


@functools.cache
def _zeros_crc(mib: int, start: int = 0) -> int:
    crc, block = start, bytes(MiB)
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    return crc


def deflate_zeros(mib: int, prefix: bytes = b"") -> bytes:
    """A raw deflate stream of ``prefix`` then ``mib`` MiB of zeros (about 1 kB per MiB)."""
    head = b""
    if prefix:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + _zeros_block() * mib + _FINAL_EMPTY_BLOCK


def gzip_zeros(mib: int, prefix: bytes = b"") -> bytes:
    """A gzip member of ``prefix`` and ``mib`` MiB of zeros, with the right CRC and size."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    crc = _zeros_crc(mib, zlib.crc32(prefix))
    trailer = struct.pack("<LL", crc, (len(prefix) + mib * MiB) & 0xFFFFFFFF)
    return header + deflate_zeros(mib, prefix) + trailer


# -- zip ----------------------------------------------------------------------------------

_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_EOCD = struct.Struct("<4s4H2LH")


@dataclass(frozen=True, slots=True)
class Member:
    """One zip member as it is stored: ``data`` is already compressed (``method`` 8)."""

    name: str
    data: bytes
    method: int = 0
    crc: int | None = None  # None: the CRC of ``data`` (right for stored members)
    size: int | None = None  # declared uncompressed size; None: len(data)

    @classmethod
    def deflated(cls, name: str, plain: bytes) -> Member:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        data = compressor.compress(plain) + compressor.flush()
        return cls(name, data, 8, zlib.crc32(plain), len(plain))


def make_zip(members: list[Member], *, directory: list[tuple[int, int]] | None = None) -> bytes:
    """A zip of ``members``. ``directory``: central entries as (member index, local header
    offset to claim), to make overlapping or lying directories; default: one per member."""
    out = bytearray()
    offsets = []
    for member in members:
        offsets.append(len(out))
        out += _local(member) + member.data
    start = len(out)
    rows = directory if directory is not None else [(i, offsets[i]) for i in range(len(members))]
    for index, offset in rows:
        out += _central(members[index], offset)
    out += _EOCD.pack(b"PK\x05\x06", 0, 0, len(rows), len(rows), len(out) - start, start, 0)
    return bytes(out)


def _fields(member: Member) -> tuple[int, int, int, bytes]:
    crc = zlib.crc32(member.data) if member.crc is None else member.crc
    size = len(member.data) if member.size is None else member.size
    return crc, len(member.data), size, member.name.encode()


def _local(member: Member) -> bytes:
    crc, csize, size, name = _fields(member)
    header = _LOCAL.pack(
        b"PK\x03\x04", 20, 0, member.method, 0, 0x21, crc, csize, size, len(name), 0
    )
    return header + name


def _central(member: Member, offset: int) -> bytes:
    crc, csize, size, name = _fields(member)
    row = _CENTRAL.pack(
        b"PK\x01\x02", 20, 20, 0, member.method, 0, 0x21, crc, csize, size, len(name), 0, 0, 0,
        0, 0, offset,
    )  # fmt: skip
    return row + name


def wheel_members(stem: str = "bomb-1.0") -> list[Member]:
    """WHEEL and METADATA of a small, valid wheel: what sniffing looks for first."""
    name, version = stem.split("-")
    return [
        Member.deflated(f"{stem}.dist-info/WHEEL", b"Wheel-Version: 1.0\nTag: py3-none-any\n"),
        Member.deflated(
            f"{stem}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode(),
        ),
    ]


def zip_bomb(mib: int) -> bytes:
    """A wheel with a member that really decompresses to ``mib`` MiB (CRC and size right)."""
    bomb = Member("bomb/zeros.bin", deflate_zeros(mib), 8, _zeros_crc(mib), mib * MiB)
    return make_zip([*wheel_members(), bomb])


def zip_declared_bomb(size: int = HUGE) -> bytes:
    """A wheel whose METADATA declares ``size`` bytes but holds a few: lies in the headers."""
    head, metadata = wheel_members()
    liar = Member(metadata.name, metadata.data, 8, metadata.crc, size)
    return make_zip([head, liar, Member("x.bin", deflate_zeros(1), 8, 0, size)])


def zip_overlapping(copies: int, mib: int = 1) -> bytes:
    """A "better zip bomb": ``copies`` directory entries share one member's data."""
    shared = Member("shared.bin", deflate_zeros(mib), 8, _zeros_crc(mib), mib * MiB)
    members = [*wheel_members(), shared]
    rows = [(0, 0), (1, _offset_of(members, 1))] + [(2, _offset_of(members, 2))] * copies
    return make_zip(members, directory=rows)


def _offset_of(members: list[Member], index: int) -> int:
    return sum(len(_local(m)) + len(m.data) for m in members[:index])


def zip_lying_directory(entries: int = 0xFFFF, size: int = HUGE) -> bytes:
    """A valid wheel whose end-of-directory record claims a huge central directory."""
    data = bytearray(make_zip(wheel_members()))
    at = data.rindex(b"PK\x05\x06")
    _EOCD.pack_into(data, at, b"PK\x05\x06", 0, 0, entries, entries, size, HUGE, 0)
    return bytes(data)


# -- tar ----------------------------------------------------------------------------------


def _tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    # GNU format writes sizes past 8 GiB in base 256, as a lying tar would.
    return info.tobuf(tarfile.GNU_FORMAT if size > 0o77777777777 else tarfile.USTAR_FORMAT)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % tarfile.BLOCKSIZE)


def sdist_tar(pkg_info_size: int | None = None, filler_mib: int = 0, pax_size: int = 0) -> bytes:
    """An sdist tar (not compressed) of ``bomb-1.0/``: ``filler_mib`` MiB of zeros first,
    then PKG-INFO; ``pkg_info_size`` makes PKG-INFO declare another size, ``pax_size`` puts
    a pax header declaring that many bytes in front of it."""
    pkg_info = b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n\n"
    out = bytearray()
    if filler_mib:
        out += _tar_header("bomb-1.0/zeros.bin", filler_mib * MiB) + bytes(filler_mib * MiB)
    if pax_size:
        out += _tar_header("././@PaxHeader", pax_size, tarfile.XHDTYPE)
        out += _pad(b"%d path=bomb-1.0/PKG-INFO\n" % pax_size)
    declared = len(pkg_info) if pkg_info_size is None else pkg_info_size
    out += _tar_header("bomb-1.0/PKG-INFO", declared) + _pad(pkg_info)
    return bytes(out + bytes(2 * tarfile.BLOCKSIZE))


def gzip_tar_bomb(filler_mib: int) -> bytes:
    """A .tar.gz sdist whose PKG-INFO comes after ``filler_mib`` MiB of zeros."""
    with io.BytesIO() as buf:
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz:
            gz.write(_tar_header("bomb-1.0/zeros.bin", filler_mib * MiB))
            block = bytes(MiB)
            for _ in range(filler_mib):
                gz.write(block)
            gz.write(sdist_tar())
        return buf.getvalue()


def pax_bomb(filler_mib: int) -> bytes:
    """A .tar.gz whose first header is a pax header declaring 64 GiB, then zeros."""
    with io.BytesIO() as buf:
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=1) as gz:
            gz.write(_tar_header("././@PaxHeader", 64 << 30, tarfile.XHDTYPE))
            block = bytes(MiB)
            for _ in range(filler_mib):
                gz.write(block)
        return buf.getvalue()


# -- HTTP entries -------------------------------------------------------------------------


@dataclass(slots=True)
class HttpEntry:
    """One HTTP entry of a cache, decoded (test side: small files, msgpack is fine here)."""

    meta: Path
    body_path: Path | None  # http-v2 only
    doc: dict[str, Any]

    @classmethod
    def load(cls, meta: Path) -> HttpEntry | None:
        """The entry whose metadata (or legacy file) is ``meta``; None if it is not one."""
        data = meta.read_bytes()
        if not data.startswith(PREFIX):
            return None
        try:
            doc = msgpack.unpackb(data[len(PREFIX) :], raw=False)
        except (ValueError, TypeError):
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("response"), dict):
            return None
        body = meta.with_name(meta.name + ".body")
        return cls(meta, body if meta.parts[-7] == "http-v2" else None, doc)

    @property
    def response(self) -> dict[str, Any]:
        response: dict[str, Any] = self.doc["response"]
        return response

    @property
    def body(self) -> bytes:
        if self.body_path is not None:
            return self.body_path.read_bytes() if self.body_path.exists() else b""
        body = self.response.get("body", b"")
        return body if isinstance(body, bytes) else b""

    def header(self, name: str) -> str | None:
        headers = self.response.get("headers", {})
        for key, value in headers.items():
            if str(key).lower() == name.lower():
                return str(value)
        return None

    def set_header(self, name: str, value: str | None) -> None:
        headers: dict[str, str] = self.response.setdefault("headers", {})
        for key in [k for k in headers if str(k).lower() == name.lower()]:
            del headers[key]
        if value is not None:
            headers[name] = value

    def save(self, body: bytes | None = None) -> None:
        """Write the entry back, with ``body`` instead of its own if given."""
        if self.body_path is not None:
            if body is not None:
                self.body_path.write_bytes(body)
        elif body is not None:
            self.response["body"] = body
        self.meta.write_bytes(PREFIX + msgpack.packb(self.doc, use_bin_type=True))


def write_v2(
    cache: Path,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    status: int = 200,
    reason: str = "OK",
) -> Path:
    """A made-up http-v2 entry for ``url`` (metadata and ``.body``), as pip >= 23.3 writes
    one; returns its metadata file."""
    key = hashlib.sha224(url.encode()).hexdigest()
    directory = cache.joinpath("http-v2", *key[:5])
    directory.mkdir(parents=True, exist_ok=True)
    response = {
        "body": b"", "headers": headers, "status": status, "version": 11, "reason": reason,
        "decode_content": False,
    }  # fmt: skip
    (directory / (key + ".body")).write_bytes(body)
    meta = directory / key
    meta.write_bytes(PREFIX + msgpack.packb({"response": response, "vary": {}}, use_bin_type=True))
    return meta


def http_entries(cache: Path) -> Iterator[HttpEntry]:
    for http_dir in ("http", "http-v2"):
        for path in sorted((cache / http_dir).rglob("*")):
            if path.is_file() and len(path.name) == 56:
                entry = HttpEntry.load(path)
                if entry is not None:
                    yield entry


def find_wheel(
    cache: Path, http_dir: str, project: str | None = None, version: str = ""
) -> HttpEntry:
    """The entry of a downloaded wheel (not its ``.metadata``: same PyPI headers)."""
    for entry in http_entries(cache):
        if (
            entry.meta.parts[-7] == http_dir
            and entry.header("x-pypi-file-package-type") == "bdist_wheel"
            and project in (None, entry.header("x-pypi-file-project"))
            and version in ("", entry.header("x-pypi-file-version"))
            and entry.body.startswith(b"PK\x03\x04")
        ):
            return entry
    raise LookupError(f"no {project} {version} wheel in {cache / http_dir}")


def rewrite_page(entry: HttpEntry, edit: Callable[[bytes], bytes]) -> None:
    """Change an index page's decoded body; keep its Content-Encoding and Content-Length."""
    body = entry.body
    gzipped = (entry.header("content-encoding") or "").lower() == "gzip"
    plain = edit(gzip.decompress(body) if gzipped else body)
    body = gzip.compress(plain, mtime=0) if gzipped else plain
    entry.set_header("Content-Length", str(len(body)))
    entry.save(body)


def is_page(entry: HttpEntry) -> bool:
    ctype = (entry.header("content-type") or "").lower()
    return entry.response.get("status") == 200 and ("json" in ctype or "html" in ctype)


# -- msgpack ------------------------------------------------------------------------------

_FIXED_WIDTH = {
    0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
    0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,
}  # fmt: skip
_SIZED = {  # tag: (family, width of the length field)
    0xC4: ("bin", 1), 0xC5: ("bin", 2), 0xC6: ("bin", 4),
    0xD9: ("str", 1), 0xDA: ("str", 2), 0xDB: ("str", 4),
    0xDC: ("array", 2), 0xDD: ("array", 4), 0xDE: ("map", 2), 0xDF: ("map", 4),
}  # fmt: skip
#: The 32-bit header of each family: what a liar uses to declare 4 GiB.
HEADER32 = {"bin": 0xC6, "str": 0xDB, "array": 0xDD, "map": 0xDF}


@dataclass(frozen=True, slots=True)
class Header:
    """A length-carrying msgpack header: where it is, its family and its size in bytes."""

    offset: int
    family: str
    size: int


def msgpack_headers(buf: bytes, pos: int = 0) -> list[Header]:
    """Every map/array/str/bin header of the msgpack object at ``pos``, in order."""
    found: list[Header] = []
    pending = 1
    while pending:
        pending -= 1
        tag = buf[pos]
        if tag <= 0x7F or tag >= 0xE0:
            pos += 1
        elif tag <= 0x8F:
            found.append(Header(pos, "map", 1))
            pending, pos = pending + 2 * (tag & 0x0F), pos + 1
        elif tag <= 0x9F:
            found.append(Header(pos, "array", 1))
            pending, pos = pending + (tag & 0x0F), pos + 1
        elif tag <= 0xBF:
            found.append(Header(pos, "str", 1))
            pos += 1 + (tag & 0x1F)
        elif tag in _FIXED_WIDTH:
            pos += 1 + _FIXED_WIDTH[tag]
        elif tag in _SIZED:
            family, width = _SIZED[tag]
            length = int.from_bytes(buf[pos + 1 : pos + 1 + width], "big")
            found.append(Header(pos, family, 1 + width))
            pos += 1 + width
            if family in ("bin", "str"):
                pos += length
            else:
                pending += length * (2 if family == "map" else 1)
        else:
            raise ValueError(f"msgpack tag {tag:#x} at {pos} is not walked")
    return found


def declare_length(data: bytes, header: Header, length: int) -> bytes:
    """``data`` with ``header`` replaced by its family's 32-bit header declaring ``length``."""
    new = bytes([HEADER32[header.family]]) + length.to_bytes(4, "big")
    return data[: header.offset] + new + data[header.offset + header.size :]


# -- origin.json --------------------------------------------------------------------------

_ORIGIN_DOCS: tuple[object, ...] = (
    {"url": "http://[::1"},
    {"url": "http://[not-ipv6]/x.tar.gz"},
    {"url": "https://user:pw@[::1/x"},
    {"url": 5},
    {"url": None},
    {"url": "", "archive_info": {"hashes": 5}},
    {"url": "x", "archive_info": {"hashes": {"sha256": ["a"]}}},
    {"url": "x", "vcs_info": {"commit_id": {}}},
    [],
    "string",
    None,
    b"{",
    b"\xff\xfe{}",
    b"[" * 100_000,
    b'{"url": "' + b"\\ud800" + b'"}',
)
ORIGIN_VARIANTS: tuple[bytes, ...] = tuple(
    doc if isinstance(doc, bytes) else json.dumps(doc).encode() for doc in _ORIGIN_DOCS
)
