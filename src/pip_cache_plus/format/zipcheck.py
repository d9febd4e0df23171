"""Is a zip archive whole? Its central directory and local headers (shallow), or every
member decompressed with its CRC-32 and size checked (deep), in bounded memory and time.

Used by ``verify`` for downloaded and built wheels.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO, Literal

from ..errors import CacheFormatError
from .sniff import _check_zip_directory as check_zip_directory  # the sniffers' bound

#: "unchecked" is a note, not a problem: a member that cannot safely be decompressed.
ZipCheck = Literal["zip", "crc", "unchecked"]
Found = tuple[ZipCheck, str]

ZIP_MAGIC = b"PK\x03\x04"
#: Deflate cannot expand data more than about 1032 times; a member declaring more lies.
DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header, before the name
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    OverflowError,
    struct.error,
    zlib.error,
    NotImplementedError,  # a compression method zipfile lacks
)


def zip_problems(body: BinaryIO, *, deep: bool) -> list[Found]:
    """What is wrong with the zip in ``body`` (seekable, starting at 0), as (check, message).

    Shallow: the central directory (bounded, as the sniffers read it) and each member's
    local header. ``deep``: every member decompressed and its CRC-32 and size compared.
    """
    try:
        check_zip_directory(body)
        with zipfile.ZipFile(body) as archive:
            infos = archive.infolist()
            _check_layout(body, infos, archive.start_dir)
            if not deep:
                return []
            return [found for info in infos if (found := _member_problem(archive, info))]
    except CacheFormatError as exc:
        return [("zip", str(exc))]
    except _ZIP_ERRORS as exc:
        return [("zip", f"the zip archive is corrupt: {_short(exc)}")]


def _check_layout(body: BinaryIO, infos: list[zipfile.ZipInfo], directory: int) -> None:
    """Each member has its local header where the directory says, and no two overlap.

    Overlapping members are how "better zip bombs" fit terabytes in kilobytes.
    """
    ordered = sorted(infos, key=lambda info: info.header_offset)
    limits = [info.header_offset for info in ordered[1:]] + [directory]
    for info, limit in zip(ordered, limits, strict=True):
        body.seek(info.header_offset)
        header = body.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or not header.startswith(ZIP_MAGIC):
            raise CacheFormatError(f"{info.filename}: no local header at {info.header_offset}")
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
        end = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        if end + info.compress_size > limit:
            raise CacheFormatError(f"{info.filename}: its data overlaps what follows it")


def _member_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Found | None:
    """Decompress one member in bounded chunks; zipfile checks the CRC at its end.

    Output is bounded twice: zipfile stops at the declared size, and a declared size
    deflate could not produce from the member's compressed bytes is refused first (with
    no overlapping members, the total is then at most ~1032 times the archive).
    """
    name = info.filename
    refused = _refused(info)
    if refused is not None:
        return refused
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                size += len(chunk)
    except _ZIP_ERRORS as exc:
        reason = _short(exc)  # zipfile's CRC message names the member already
        return "crc", reason if name in reason else f"{name}: {reason}"
    if size != info.file_size:
        return "crc", f"{name} holds {size} bytes, its header says {info.file_size}"
    return None


def _refused(info: zipfile.ZipInfo) -> Found | None:
    """Why a member is not decompressed at all, judging by its directory entry."""
    name = info.filename
    if info.flag_bits & 0x1:
        return "crc", f"{name} is encrypted"
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            return "crc", f"{name} is stored, but declares {info.file_size} bytes"
    elif info.compress_type != zipfile.ZIP_DEFLATED:
        # zipfile decompresses bzip2/lzma with no output bound: a bomb could fill memory.
        return "unchecked", f"{name} uses compression method {info.compress_type}; not read"
    elif info.file_size > info.compress_size * DEFLATE_MAX_RATIO + 1024:
        return "crc", f"{name} declares {info.file_size} bytes, more than deflate can give"
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
