"""What a cached HTTP body is: a wheel, an sdist, a PEP 658 ``.metadata`` file or an index page.

Pure: functions take an open binary file (or small ``bytes``) and never open files. A body
runs from the file's position at the call to its end; only ``seek``/``read``/``tell`` of the
given object are used, and never to go before that position, so a window onto a slice of a
bigger file works. Reads are bounded: nothing reads a whole body, every member read is
capped, and a hit bound or corrupt data raises ``CacheFormatError`` (one line saying why),
never another exception. The bounds are the module's ``*_LIMIT`` constants.

A body sent with ``Content-Encoding`` is decoded first (see :mod:`.streams`).
"""

from __future__ import annotations

import io
import re
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Literal

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from ..errors import CacheFormatError
from .simple import IndexFile, IndexPage, identify_page, parse_index_page
from .streams import BeforeStartError, Chain, LimitReachedError, Slice, open_decoded, read_up_to

if TYPE_CHECKING:
    from email.message import Message

__all__ = [
    "IndexFile",
    "IndexPage",
    "Kind",
    "Sniffed",
    "parse_index_page",
    "sniff_body",
    "wheel_metadata",
]

Kind = Literal["wheel", "sdist", "metadata", "index", "other"]

MEMBER_LIMIT = 1 << 20  # METADATA / PKG-INFO / WHEEL: decompressed bytes read at most
ZIP_DIRECTORY_LIMIT = 16 << 20  # zip central directory size
ZIP_ENTRIES_LIMIT = 200_000
TAR_MEMBERS_LIMIT = 10_000  # tar members scanned for PKG-INFO
TAR_BYTES_LIMIT = 64 << 20  # decompressed tar bytes scanned for PKG-INFO
JSON_LIMIT = 32 << 20  # a JSON body is parsed whole, up to this size
HTML_HEAD = 256 << 10  # an HTML body is sniffed from this much of its start
_HEAD = 1024

_ZIP_MAGIC = b"PK\x03\x04"
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_EOCD_SIG = b"PK\x05\x06"
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record
_EOCD64_SIG = b"PK\x06\x06"
_EOCD64_LOCATOR_SIG = b"PK\x06\x07"
_EOCD64_LOCATOR_SIZE = 20
_TAR_MAGIC = b"ustar"
_TAR_MAGIC_AT = slice(257, 262)
_TEXT_PADDING = b"\xef\xbb\xbf \t\r\n"  # a UTF-8 BOM and whitespace before text
_METADATA_START = b"metadata-version:"
_WHEEL_RE = re.compile(r"([^/]+)\.dist-info/WHEEL")
_PKG_INFO_RE = re.compile(r"([^/]+)/PKG-INFO")


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: Kind
    project: str | None  # PEP 503 normalized
    version: str | None  # normalized when valid, else as declared
    filename: str | None  # when the content determines it


_OTHER = Sniffed("other", None, None, None)


def sniff_body(fp: BinaryIO | bytes, *, content_type: str | None = None) -> Sniffed:
    """Tell what a cached body is, by its magic bytes first, ``content_type`` as a hint.

    ``fp`` is read from its current position; it needs to be seekable only when it holds a
    zip (wheels, zip sdists): see :func:`spool`. Its position afterwards is unspecified.
    """
    if isinstance(fp, bytes):
        fp = io.BytesIO(fp)
    try:
        start: int | None = fp.tell()
    except (OSError, ValueError):  # io.UnsupportedOperation: a decoded stream
        start = None
    head = read_up_to(fp, _HEAD)
    if head.startswith(_ZIP_MAGIC):
        if start is None:
            raise CacheFormatError("a zip body must be seekable to be read: spool it first")
        fp.seek(start)
        return _sniff_zip(io.BufferedReader(Slice(fp)))
    body = io.BufferedReader(Chain(head, fp))
    for magic, coding, extension in _TAR_CODINGS:
        if head.startswith(magic):
            return _sniff_compressed_tar(body, coding, extension)
    if head[_TAR_MAGIC_AT] == _TAR_MAGIC:
        return _sniff_tar(body, ".tar")
    text = head.lstrip(_TEXT_PADDING)
    if text[: len(_METADATA_START)].lower() == _METADATA_START:
        return _sniff_metadata(body)
    if text[:1] in (b"{", b"<"):
        return _sniff_page(body, is_json=text[:1] == b"{", content_type=content_type)
    return _OTHER


# --- core metadata ---------------------------------------------------------------------


def _headers(data: bytes, *, truncated: bool) -> Message:
    """The RFC 822 header block at the start of ``data`` (cut at the last full line)."""
    text = data.decode("utf-8-sig", "replace").replace("\r\n", "\n").lstrip()
    end = text.find("\n\n")
    if end >= 0:
        text = text[: end + 1]
    elif truncated:
        text = text[: text.rfind("\n") + 1]
    # Imported here: the email package costs ~10 ms, and most runs read no metadata text.
    import email.parser
    import email.policy

    return email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)


def _core_fields(data: bytes, *, truncated: bool, what: str) -> tuple[str, str]:
    """(normalized project, version) from core metadata (METADATA, PKG-INFO, .metadata)."""
    headers = _headers(data, truncated=truncated)
    name, version = (str(headers.get(field, "")).strip() for field in ("Name", "Version"))
    if not name or not version:
        where = f" in its first {MEMBER_LIMIT} bytes" if truncated else ""
        raise CacheFormatError(f"{what} has no Name or no Version header{where}")
    return canonicalize_name(name), _normalize_version(version)


def _normalize_version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _sniff_metadata(body: BinaryIO) -> Sniffed:
    data = body.read(MEMBER_LIMIT + 1)
    truncated = len(data) > MEMBER_LIMIT
    project, version = _core_fields(data[:MEMBER_LIMIT], truncated=truncated, what="core metadata")
    return Sniffed("metadata", project, version, None)


def _sniff_page(body: BinaryIO, *, is_json: bool, content_type: str | None) -> Sniffed:
    data = read_up_to(body, JSON_LIMIT + 1 if is_json else HTML_HEAD)
    if len(data) > JSON_LIMIT:
        raise CacheFormatError(f"the JSON body is larger than {JSON_LIMIT} bytes; not parsed")
    is_index, project = identify_page(data, content_type=content_type)
    return Sniffed("index", project, None, None) if is_index else _OTHER


def _sdist_dir_matches(top: str, project: str) -> bool:
    """Whether an sdist's top directory reads as ``{project}-{version}``."""
    try:
        name, _ = parse_sdist_filename(f"{top}.tar.gz")
    except InvalidSdistFilename:
        return False
    return name == project


# --- zip: wheels and zip sdists ------------------------------------------------------

_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,  # zip features zipfile does not read (e.g. patched data)
    BeforeStartError,  # an offset that points before the body
    EOFError,
    ValueError,
    OverflowError,
    struct.error,
    zlib.error,
)


def _sniff_zip(body: BinaryIO) -> Sniffed:
    _check_zip_directory(body)
    try:
        with zipfile.ZipFile(body) as archive:
            return _sniff_zip_members(archive)
    except _ZIP_ERRORS as e:
        raise CacheFormatError(f"the zip archive is corrupt: {e}") from e


def wheel_metadata(body: BinaryIO) -> bytes:
    """A wheel's ``.dist-info/METADATA``, whole (at most ``MEMBER_LIMIT`` bytes); the
    body must be seekable. Raises ``CacheFormatError`` when it is not a wheel."""
    _check_zip_directory(body)
    try:
        with zipfile.ZipFile(body) as archive:
            members = {info.filename: info for info in archive.infolist()}
            stems = [m[1] for m in map(_WHEEL_RE.fullmatch, members) if m]
            if len(stems) != 1:
                raise CacheFormatError("the zip holds no single .dist-info/WHEEL; not a wheel")
            metadata = members.get(f"{stems[0]}.dist-info/METADATA")
            if metadata is None:
                raise CacheFormatError(f"the wheel has {stems[0]}.dist-info/WHEEL but no METADATA")
            data, truncated = _read_member(archive, metadata)
    except _ZIP_ERRORS as e:
        raise CacheFormatError(f"the zip archive is corrupt: {e}") from e
    if truncated:
        raise CacheFormatError(f"{metadata.filename} is larger than {MEMBER_LIMIT} bytes")
    return data


def _check_zip_directory(body: BinaryIO) -> None:
    """Refuse a central directory too big to load (``ZipFile`` reads it whole)."""
    size = body.seek(0, 2)
    tail_start = max(0, size - _EOCD.size - 0xFFFF)
    body.seek(tail_start)
    tail = body.read()
    at = tail.rfind(_EOCD_SIG)
    if at < 0 or len(tail) - at < _EOCD.size:
        raise CacheFormatError("the zip archive has no end of central directory (truncated?)")
    fields = _EOCD.unpack_from(tail, at)
    entries, directory_size = fields[4], fields[5]
    locator_at = tail_start + at - _EOCD64_LOCATOR_SIZE
    if locator_at - _EOCD64.size >= 0:
        body.seek(locator_at - _EOCD64.size)
        record = body.read(_EOCD64.size + _EOCD64_LOCATOR_SIZE)
        if record[_EOCD64.size :].startswith(_EOCD64_LOCATOR_SIG) and record.startswith(
            _EOCD64_SIG
        ):
            entries, directory_size = _EOCD64.unpack_from(record)[7:9]
    if directory_size > ZIP_DIRECTORY_LIMIT or entries > ZIP_ENTRIES_LIMIT:
        raise CacheFormatError(
            f"the zip central directory is too big ({entries} entries, {directory_size} bytes)"
        )
    body.seek(0)


def _sniff_zip_members(archive: zipfile.ZipFile) -> Sniffed:
    members = {info.filename: info for info in archive.infolist()}
    wheels = [m for m in map(_WHEEL_RE.fullmatch, members) if m]
    if len(wheels) > 1:
        raise CacheFormatError("the zip holds several .dist-info/WHEEL files; not a wheel")
    if wheels:
        return _sniff_wheel(archive, members, wheels[0].group(1))
    sdists = [m for m in map(_PKG_INFO_RE.fullmatch, members) if m and _is_sdist_dir(m[1])]
    if len(sdists) != 1:
        return _OTHER
    top = sdists[0].group(1)
    data, truncated = _read_member(archive, members[f"{top}/PKG-INFO"])
    project, version = _core_fields(data, truncated=truncated, what=f"{top}/PKG-INFO")
    filename = f"{top}.zip" if _sdist_dir_matches(top, project) else None
    return Sniffed("sdist", project, version, filename)


def _is_sdist_dir(top: str) -> bool:
    return top != "EGG-INFO" and not top.endswith(".egg-info")  # eggs are zips too


def _sniff_wheel(
    archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], stem: str
) -> Sniffed:
    metadata = members.get(f"{stem}.dist-info/METADATA")
    if metadata is None:
        raise CacheFormatError(f"the wheel has {stem}.dist-info/WHEEL but no METADATA")
    wheel_data, truncated = _read_member(archive, members[f"{stem}.dist-info/WHEEL"])
    if truncated:
        raise CacheFormatError(f"{stem}.dist-info/WHEEL is larger than {MEMBER_LIMIT} bytes")
    data, truncated = _read_member(archive, metadata)
    project, version = _core_fields(data, truncated=truncated, what=f"{stem}.dist-info/METADATA")
    wheel = _headers(wheel_data, truncated=False)
    tags = [str(tag) for tag in wheel.get_all("Tag", [])]
    build = str(wheel.get("Build", "")).strip()
    return Sniffed("wheel", project, version, _wheel_filename(stem, project, version, build, tags))


def _wheel_filename(
    stem: str, project: str, version: str, build: str, tags: list[str]
) -> str | None:
    """``{name}-{version}[-{build}]-{tags}.whl`` with tags compressed as in wheel filenames."""
    if not tags:
        return None
    triples = [tag.strip().split("-") for tag in tags]
    if any(len(triple) != 3 or not all(triple) for triple in triples):
        raise CacheFormatError(f"{stem}.dist-info/WHEEL has a malformed Tag line")
    compressed = "-".join(".".join(dict.fromkeys(t[i] for t in triples)) for i in range(3))
    # The .dist-info directory is named as the builder named the wheel: prefer it.
    name, sep, _ = stem.partition("-")
    if not (sep and canonicalize_name(name) == project):
        stem = f"{project.replace('-', '_')}-{version.replace('-', '_')}"
    return f"{stem}-{build}-{compressed}.whl" if build else f"{stem}-{compressed}.whl"


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes, bool]:
    """The first ``MEMBER_LIMIT`` decompressed bytes of a member, and whether there is more."""
    if info.flag_bits & 0x1:
        raise CacheFormatError(f"{info.filename} in the zip is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise CacheFormatError(
            f"{info.filename} uses zip compression method {info.compress_type}; "
            "only stored and deflate members are read"
        )
    with archive.open(info) as member:
        data = member.read(MEMBER_LIMIT + 1)
    return data[:MEMBER_LIMIT], len(data) > MEMBER_LIMIT


# --- tar sdists ------------------------------------------------------------------------

_TAR_CODINGS = (
    (b"\x1f\x8b", "gzip", ".tar.gz"),
    (b"BZh", "bzip2", ".tar.bz2"),
    (b"\xfd7zXZ\x00", "xz", ".tar.xz"),
)
_TAR_ERRORS = (tarfile.TarError, EOFError, ValueError, OverflowError)
# Header records tarfile reads whole into memory, however big they say they are.
_TAR_HEADER_TYPES = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
    | {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses a pax or GNU long-name record over ``MEMBER_LIMIT``: tarfile would read it
    in one go (a gzip bomb behind a pax header declaring 64 GiB held 65 MiB)."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _TAR_HEADER_TYPES and self.size > MEMBER_LIMIT:
            # Past the scan's bounds, like a huge member: the top directory still names it.
            raise LimitReachedError(f"a {self.size}-byte header record; not read")
        # TarInfo's own hook (private, unchanged since Python 2), where tarfile calls it.
        return tarfile.TarInfo._proc_member(self, tar)  # type: ignore[attr-defined,no-any-return]


def _sniff_compressed_tar(body: BinaryIO, coding: str, extension: str) -> Sniffed:
    # The member offsets bound the scan; this limit is the backstop (e.g. for pax headers).
    decoded = open_decoded(body, coding, limit=TAR_BYTES_LIMIT + MEMBER_LIMIT)
    first_block = read_up_to(decoded, tarfile.BLOCKSIZE)
    if first_block[_TAR_MAGIC_AT] != _TAR_MAGIC:
        return _OTHER  # compressed, but not a tar
    return _sniff_tar(io.BufferedReader(Chain(first_block, decoded)), extension)


def _sniff_tar(stream: BinaryIO, extension: str) -> Sniffed:
    """Stream the tar, stopping at ``<top>/PKG-INFO`` or at the scan bounds."""
    top: str | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo) as archive:
            for count, member in enumerate(archive, start=1):
                parts = member.name.removeprefix("./").split("/")
                if parts[0] not in ("", "."):
                    top = top or parts[0]
                    if parts[1:] == ["PKG-INFO"] and member.isfile():
                        return _tar_pkg_info(archive, member, parts[0], extension)
                end = member.offset_data + member.size
                if count >= TAR_MEMBERS_LIMIT or end > TAR_BYTES_LIMIT:
                    break
    except LimitReachedError:
        pass
    except _TAR_ERRORS as e:
        raise CacheFormatError(f"the tar archive is corrupt: {e}") from e
    return _sdist_from_dir(top, extension)


def _tar_pkg_info(
    archive: tarfile.TarFile, member: tarfile.TarInfo, top: str, extension: str
) -> Sniffed:
    extracted = archive.extractfile(member)
    data = extracted.read(MEMBER_LIMIT + 1) if extracted else b""
    truncated = len(data) > MEMBER_LIMIT
    what = f"{top}/PKG-INFO"
    project, version = _core_fields(data[:MEMBER_LIMIT], truncated=truncated, what=what)
    filename = f"{top}{extension}" if _sdist_dir_matches(top, project) else None
    return Sniffed("sdist", project, version, filename)


def _sdist_from_dir(top: str | None, extension: str) -> Sniffed:
    """No PKG-INFO within bounds: name and version from a ``name-version`` top dir."""
    if top is None:
        return _OTHER
    try:
        project, version = parse_sdist_filename(f"{top}.tar.gz")
    except InvalidSdistFilename:
        return _OTHER
    return Sniffed("sdist", project, str(version), f"{top}{extension}")
