"""Export cached wheels and sdists into a directory, so ``pip --find-links DIR`` works offline.

Each file is written under its real filename (or, where no URL or cached page names it,
under the name its content gives, which pip accepts, and said so), byte-identical to what
was downloaded: the raw body (files are fetched with ``Accept-Encoding: identity``; a body
that still carries a ``Content-Encoding`` is decoded, as a stream, and said so). The copy
goes to a temp file in DIR (in the kernel where it can), is hashed there, checked against
the sha256 a cached index page gives, and only then published with a hard link, so an
existing file is never replaced. A file already in DIR with the same bytes is fine; a
different one is reported.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..errors import CacheFormatError, PipCachePlusError, UsageError
from ..format.streams import decode_limit, open_decoded
from ..fs.fsio import open_quietly, window
from ..fs.fsops import DISK_FULL_ERRNOS, atomic_file, copy_range, remove_abandoned_temps
from ..inventory.entries import PROBLEM_LINK
from ..inventory.filters import EXPORT_KINDS
from ..inventory.names import classify
from ..inventory.responses import read_response
from ..inventory.urls import url_filename
from ..model import CacheEntry

_FILE_STATUSES = (200, 203)  # a response with the file as its body
_HASH_CHUNK = 1 << 20
_ZIP_MAGIC = b"PK\x03\x04"
# Writing into DIR failed in a way every further file would hit too: stop the export.
_FATAL_ERRNOS = DISK_FULL_ERRNOS | {errno.EROFS, errno.EACCES, errno.EPERM}
_SOURCE_ORDER = {"http-v2": 0, "http": 1, "wheels": 2}

REASON_NO_FILENAME = "no known filename (neither its URL, a cached page nor its content names it)"
REASON_UNSAFE_NAME = "its filename is not a plain file name"
REASON_NOT_PIPS = "its name rebuilt from content is not one pip accepts for it"
REASON_DUPLICATE = "another copy of this file was exported"
REASON_CONFLICT = "a different file of that name is already there (not overwritten)"
REASON_LINK = "symbolic link in the cache (never followed)"


@dataclass(frozen=True, slots=True)
class Exported:
    """A file in DIR that holds a cache entry's bytes (written now, or already there)."""

    entry: CacheEntry
    path: Path
    size: int
    sha256: str
    checked: bool  # matched the sha256 a cached index page lists
    decoded: str | None  # the Content-Encoding removed, if any


@dataclass(frozen=True, slots=True)
class Skipped:
    entry: CacheEntry
    reason: str


@dataclass(slots=True)
class ExportResult:
    dest: Path
    exported: list[Exported] = field(default_factory=list)
    identical: list[Exported] = field(default_factory=list)  # already in DIR, same bytes
    conflicts: list[Skipped] = field(default_factory=list)  # a different file is in DIR
    failed: list[Skipped] = field(default_factory=list)  # no good copy of a file
    skipped: list[Skipped] = field(default_factory=list)  # unnamed, duplicates, bad copies
    fatal: str | None = None  # why the export stopped early (DIR full, read-only...)
    temp_files_removed: int = 0  # left in DIR by an export that was killed

    @property
    def ok(self) -> bool:
        return not (self.conflicts or self.failed or self.fatal)


class _Rejected(Exception):
    """This copy of a file cannot be exported; another copy may do."""


class _Fatal(Exception):
    """DIR cannot take files: stop."""


def export_entries(
    entries: Iterable[CacheEntry],
    dest: Path,
    *,
    cache_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write every wheel and sdist of ``entries`` into ``dest`` (created if missing).

    A downloaded file beats a locally built wheel of the same filename. ``cache_dir``, when
    given, is refused as (a parent of) ``dest``. ``on_progress(done, total)`` is called
    after each filename.
    """
    _prepare(dest, cache_dir)
    result = ExportResult(dest, temp_files_removed=remove_abandoned_temps(dest))
    groups: dict[str, list[CacheEntry]] = {}
    for entry in entries:
        if entry.raw.problem == PROBLEM_LINK:
            result.skipped.append(Skipped(entry, REASON_LINK))
            continue
        if entry.kind not in EXPORT_KINDS:
            continue
        if entry.filename is None:
            result.skipped.append(Skipped(entry, REASON_NO_FILENAME))
        elif not _plain_name(entry.filename):
            result.skipped.append(Skipped(entry, REASON_UNSAFE_NAME))
        elif entry.naming.filename_from == "content" and not _pip_accepts(entry):
            result.skipped.append(Skipped(entry, REASON_NOT_PIPS))
        else:
            groups.setdefault(entry.filename, []).append(entry)
    for done, filename in enumerate(sorted(groups), 1):
        try:
            _export_file(sorted(groups[filename], key=_preference), dest / filename, result)
        except _Fatal as exc:
            result.fatal = str(exc)
            break
        finally:
            if on_progress is not None:
                on_progress(done, len(groups))
    return result


def _prepare(dest: Path, cache_dir: Path | None) -> None:
    if cache_dir is not None:
        real_cache, real_dest = os.path.realpath(cache_dir), os.path.realpath(dest)
        if os.path.commonpath([real_cache, real_dest]) == real_cache:
            raise UsageError(f"refusing to export into the cache itself ({dest})")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{dest} exists and is not a directory") from None
    except OSError as exc:  # not a usage error: the place is refused (permissions...)
        raise PipCachePlusError(f"cannot create {dest}: {exc.strerror or exc}") from None
    if not dest.is_dir():
        raise UsageError(f"{dest} is not a directory")


def _plain_name(name: str) -> bool:
    # Filenames come from URLs, which a hostile index controls ("..%2F..%2Fx.whl").
    return (
        name == os.path.basename(name)
        and "\\" not in name
        and "\0" not in name
        and not name.startswith(".")
    )


def _pip_accepts(entry: CacheEntry) -> bool:
    """Whether a name rebuilt from content is one pip's finder takes for this release (a
    valid wheel or sdist name that parses back to the entry's project and version)."""
    assert entry.filename is not None
    if entry.url is not None and url_filename(entry.url) == entry.filename:
        return True  # the URL's own name: the real one, however odd
    named = classify(entry.filename)
    return (
        named is not None
        and named.kind == entry.kind
        and (named.project, named.version) == (entry.project, entry.version)
    )


def _preference(entry: CacheEntry) -> tuple[bool, bool, int, float, str]:
    """Downloaded before built (the original; a build is a copy); hash known first."""
    return (
        entry.source == "wheels",
        entry.sha256 is None,
        _SOURCE_ORDER[entry.source],
        -entry.stored_time,
        str(entry.raw.path),
    )


def _export_file(candidates: Sequence[CacheEntry], target: Path, result: ExportResult) -> None:
    """Export the first good copy of one filename; the others are duplicates."""
    rejected: list[Skipped] = []
    for index, entry in enumerate(candidates):
        try:
            done, fresh = _export_entry(entry, target)
        except _Rejected as exc:
            rejected.append(Skipped(entry, str(exc)))
            continue
        except FileExistsError:
            result.conflicts.append(Skipped(entry, REASON_CONFLICT))
            result.skipped.extend(rejected)
            return
        (result.exported if fresh else result.identical).append(done)
        result.skipped.extend(rejected)
        result.skipped.extend(Skipped(e, REASON_DUPLICATE) for e in candidates[index + 1 :])
        return
    result.failed.extend(rejected)


# -- one entry ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Body:
    """Where an entry's file bytes are: ``length`` bytes of ``fp`` from ``offset``."""

    fp: BinaryIO
    offset: int
    length: int
    encoding: str | None = None  # a Content-Encoding still on the bytes
    expected_length: int | None = None  # Content-Length of the raw bytes, if sent
    in_memory: bool = False  # no file descriptor to copy from in the kernel


def _export_entry(entry: CacheEntry, target: Path) -> tuple[Exported, bool]:
    """(what DIR holds, whether we wrote it now). Raises ``FileExistsError`` on a conflict."""
    try:
        with _open_body(entry) as body:
            _check_zip(entry, body)
            if os.path.lexists(target):
                size, digest = _hash_stream(_stream(body))
                _check(entry, size, digest, body)
                return _existing(entry, target, size, digest, body), False
            return _write(entry, target, body), True
    except (CacheFormatError, EOFError) as exc:
        raise _Rejected(str(exc)) from None
    except FileExistsError:
        raise
    except OSError as exc:  # reading the entry, mostly: a full or read-only DIR is _Fatal
        raise _Rejected(f"could not be copied ({exc.strerror or type(exc).__name__})") from None


def _fatal_message(target: Path, exc: OSError) -> str:
    return (
        f"could not write {target.name} to {target.parent}: {exc.strerror or exc}; "
        "the partial file was removed"
    )


@contextlib.contextmanager
def _open_body(entry: CacheEntry) -> Iterator[_Body]:
    raw = entry.raw
    if raw.source == "wheels":
        with open_quietly(raw.path) as fp:
            yield _Body(fp, 0, os.fstat(fp.fileno()).st_size)
        return
    read = read_response(raw)
    response = read.response
    if response.status not in _FILE_STATUSES:
        raise CacheFormatError(f"not a file download (HTTP {response.status})")
    coding = (response.header("content-encoding") or "").strip().lower()
    encoding = None if coding in ("", "identity") else coding
    ref = read.body
    length = _content_length(response.header)
    if ref.inline is not None:  # a legacy entry with its fields out of order: small
        yield _Body(io.BytesIO(ref.inline), 0, ref.length, encoding, length, in_memory=True)
        return
    with open_quietly(ref.path) as fp:
        yield _Body(fp, ref.offset, ref.length, encoding, length)


def _content_length(header: Callable[[str], str | None]) -> int | None:
    value = header("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _stream(body: _Body) -> BinaryIO:
    raw = window(body.fp, body.offset, body.length)
    if not body.encoding:
        return raw
    # Bounded: nested encodings make a few bytes decode to terabytes.
    return open_decoded(raw, body.encoding, limit=decode_limit(body.length))


def _write(entry: CacheEntry, target: Path, body: _Body) -> Exported:
    try:
        with atomic_file(target, overwrite=False) as out:
            if body.encoding is None and not body.in_memory:
                copy_range(body.fp, out, body.offset, body.length)
            else:
                shutil.copyfileobj(_stream(body), out, _HASH_CHUNK)
            out.seek(0)
            size, digest = _hash_stream(out)  # what DIR will hold, read back
            _check(entry, size, digest, body)
    except FileExistsError:  # appeared while we wrote: compare with it instead
        return _existing(entry, target, size, digest, body)
    except OSError as exc:
        if exc.errno in _FATAL_ERRNOS:
            raise _Fatal(_fatal_message(target, exc)) from None
        raise
    return Exported(entry, target, size, digest, entry.sha256 is not None, body.encoding)


def _check_zip(entry: CacheEntry, body: _Body) -> None:
    """A wheel is a zip: anything else in DIR breaks the pip that installs from it."""
    if entry.kind == "wheel" and _stream(body).read(len(_ZIP_MAGIC)) != _ZIP_MAGIC:
        raise CacheFormatError("not a zip archive, so not a wheel")


def _check(entry: CacheEntry, size: int, digest: str, body: _Body) -> None:
    if entry.sha256 is not None and digest != entry.sha256:
        raise CacheFormatError(f"sha256 mismatch: the index lists {entry.sha256}, got {digest}")
    if body.encoding is None and body.expected_length not in (None, size):
        raise CacheFormatError(
            f"truncated: Content-Length is {body.expected_length}, the body has {size} bytes"
        )


def _existing(entry: CacheEntry, target: Path, size: int, digest: str, body: _Body) -> Exported:
    """The file already in DIR, if it holds exactly these bytes; else a conflict."""
    try:
        with open_quietly(target) as fp:  # O_NOFOLLOW: a link there is a conflict too
            there = _hash_stream(fp)
    except OSError:
        raise FileExistsError(errno.EEXIST, REASON_CONFLICT, str(target)) from None
    if there != (size, digest):
        raise FileExistsError(errno.EEXIST, REASON_CONFLICT, str(target))
    return Exported(entry, target, size, digest, entry.sha256 is not None, body.encoding)


def _hash_stream(fp: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := fp.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()
