"""A persistent index of identified entries: what an earlier run found, reused while the
entry's files are unchanged (same paths, sizes and mtimes).

Identifying an HTTP entry means reading its metadata and, for many, parsing index pages;
on a cache of tens of thousands of entries that is most of ``list``. The memo keeps each
entry's answer (kind, project, version, filename, redacted URL, Date, sha256 or problem),
keyed by its metadata path and the size and mtime of each of its files: pip rewrites an
entry whole, so any change shows there. Answers that depend on other entries (a URL found
in a page) are recomputed whenever an HTTP entry is new or changed, and those that
depended on pip's configured index URLs whenever these change (see ``identify``).

It lives outside the cache (``$PIP_CACHE_PLUS_MEMO_DIR``, else a ``pip_cache_plus``
directory in the user's cache directory; an empty value turns it off), one msgpack file per
cache directory, read in one go and written whole (temp file + rename), never trusted
beyond what it claims: a file that is unreadable, corrupt or from another version is
ignored and replaced (the JSON memo of earlier versions is removed then). It holds nothing
a listing does not show (URLs are redacted).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import msgpack

from ..model import FILENAME_FROM, KINDS, URL_UNKNOWN, CacheEntry, Naming, RawEntry, UrlUnknown

MEMO_DIR_ENV = "PIP_CACHE_PLUS_MEMO_DIR"
#: Bumped with any change to what identification answers (or to this format).
FORMAT = 5  # 5: msgpack, not JSON; 4: how each was named (filename_from, candidates, ...)
_MAX_SIZE = 512 * 1024 * 1024
_SUFFIX = ".msgpack"
_OLD_SUFFIX = ".json"  # formats 1-4: ignored, and removed when the new file is written


def default_dir(environ: Mapping[str, str]) -> Path | None:
    """Where memos go: ``$PIP_CACHE_PLUS_MEMO_DIR`` (empty: nowhere), else the platform's
    user cache directory (as pip finds its own), ``pip_cache_plus/memo`` in it."""
    if MEMO_DIR_ENV in environ:
        value = environ[MEMO_DIR_ENV]
        return Path(value).expanduser() if value else None
    if sys.platform == "win32":
        base = environ.get("LOCALAPPDATA") or os.path.expanduser("~/AppData/Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        xdg = environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")
    return Path(base, "pip_cache_plus", "memo")


def _signature(raw: RawEntry) -> list[float]:
    return [value for f in raw.files for value in (f.size, f.mtime)]


@dataclass(frozen=True, slots=True)
class Memo:
    """The answers of an earlier run for one cache directory."""

    file: Path
    cache_dir: str
    records: dict[str, list[Any]]  # metadata path -> [signature, answer...]
    scope: tuple[str, ...]  # path prefixes of the directories walked this run
    in_scope: int  # records of the walked directories, as loaded
    page_paths: frozenset[str]  # of those, the index pages
    # A digest of the configured index URLs the answers depend on (a page that is not
    # PyPI's was looked up with them; a digest: they may hold credentials); None: no
    # answer needed them.
    index_urls: str | None

    @classmethod
    def load(cls, directory: Path, cache_dir: Path, walked: Iterable[Path]) -> Memo:
        """The memo of ``cache_dir`` in ``directory`` (empty if there is none usable), for
        a run that walks the directories ``walked``: only their records are replaced."""
        real, file = _file_of(directory, cache_dir)
        scope = tuple(os.path.join(path, "") for path in walked)
        records, index_urls = _read(file, real)
        mine = [path for path in records if path.startswith(scope)]
        pages = frozenset(path for path in mine if records[path][1] == "index")
        return cls(file, real, records, scope, len(mine), pages, index_urls)

    def lookup(self, raw: RawEntry) -> CacheEntry | None:
        """The remembered answer for ``raw``, if its files are as they were. Asked once
        per entry: the record is dropped (a save writes the answers, not the records)."""
        record = self.records.pop(raw.where, None)
        if record is None or record[0] != _signature(raw):
            return None
        kind, project, version, filename, url, stored, problem, sha256, naming = record[1:]
        return CacheEntry(
            raw, kind, project, version, filename, url, stored, problem, sha256, _naming(naming)
        )

    def pages(self) -> frozenset[str]:
        """Metadata paths of the index pages remembered in the walked directories."""
        return self.page_paths

    def size(self) -> int:
        """Records of the walked directories."""
        return self.in_scope

    def save(self, entries: Iterable[CacheEntry], index_urls: str | None) -> None:
        """Remember ``entries``, in place of every record of the walked directories, and
        the digest of the configured ``index_urls`` their answers depend on (see
        :func:`urls_digest`); quietly skipped if that fails: the memo only saves time."""
        kept = ((p, r) for p, r in self.records.items() if not p.startswith(self.scope))
        records = chain(kept, ((e.raw.where, _record(e)) for e in entries))
        with contextlib.suppress(OSError):
            _write(self.file, self.cache_dir, index_urls, records)
            os.unlink(self.file.with_suffix(_OLD_SUFFIX))  # an earlier version's memo


def _file_of(directory: Path, cache_dir: Path) -> tuple[str, Path]:
    real = os.path.realpath(cache_dir)
    name = hashlib.sha256(os.fsencode(real)).hexdigest()[:32]
    return real, directory / f"{name}{_SUFFIX}"


def remembered_unknown_urls(directory: Path, cache_dir: Path) -> list[UrlUnknown]:
    """Why each entry's URL was unknown at the last listing, from the memo alone (nothing
    in the cache is opened: ``info`` only stats files); empty without a memo."""
    real, file = _file_of(directory, cache_dir)
    records, _ = _read(file, real)
    return [r[9][4] for r in records.values() if r[5] is None and r[9][4] is not None]


def remembered(entry: CacheEntry) -> bool:
    """Whether ``entry``'s answer may be remembered: an HTTP entry whose answer depends on
    its files alone (a file that could not be read may be readable next time)."""
    return (
        entry.raw.source != "wheels"
        and entry.raw.problem is None
        and not (entry.problem or "").startswith("cannot be read")
    )


def _record(entry: CacheEntry) -> list[Any]:
    return [
        _signature(entry.raw),
        entry.kind,
        entry.project,
        entry.version,
        entry.filename,
        entry.url,
        entry.stored,
        entry.problem,
        entry.sha256,
        _naming_record(entry.naming),
    ]


def _naming_record(naming: Naming) -> list[Any]:
    return [
        naming.filename_from,
        list(naming.candidates),
        naming.link,
        naming.page,
        naming.url_unknown,
        naming.body_sha256,
        naming.content_name,
        naming.redirect,
    ]


def _naming(record: list[Any]) -> Naming:
    filename_from, candidates, link, page, url_unknown, body_sha256, content, redirect = record
    return Naming(
        filename_from, tuple(candidates), link, page, url_unknown, body_sha256, content, redirect
    )


def urls_digest(urls: Iterable[str]) -> str:
    """What the memo keeps of a list of index URLs: enough to tell it changed."""
    return hashlib.sha256("\n".join(urls).encode("utf-8", "surrogateescape")).hexdigest()


_Loaded = tuple[dict[str, list[Any]], str | None]


def _read(file: Path, cache_dir: str) -> _Loaded:
    try:
        with open(file, "rb") as fp:
            # Not fp.read(_MAX_SIZE): that allocates _MAX_SIZE bytes up front.
            if os.fstat(fp.fileno()).st_size > _MAX_SIZE:
                return {}, None
            # One call for the whole file; msgpack bounds each container by the data's size.
            data = msgpack.unpackb(
                fp.read(), raw=False, strict_map_key=True, unicode_errors="surrogateescape"
            )
    except (OSError, ValueError, msgpack.UnpackException, RecursionError):
        return {}, None
    match data:
        case {
            "format": int(found),
            "cache_dir": str(path),
            "index_urls": None | str() as urls,
            "entries": dict(records),
        } if found == FORMAT and path == cache_dir:
            return {path: r for path, r in records.items() if _valid(r)}, urls
    return {}, None


def _valid(record: object) -> bool:
    """A record as :func:`_record` writes it (the file is ours, but anyone may edit it)."""
    if type(record) is not list or len(record) != 10:
        return False
    match record:
        case [list(signature), str(kind), *texts_and_stored, list(naming)] if (
            kind in KINDS and len(texts_and_stored) == 7
        ):
            project, version, filename, url, stored, problem, sha256 = texts_and_stored
            texts = (project, version, filename, url, problem, sha256)
            return (
                all(type(v) in (int, float) for v in signature)
                and all(t is None or type(t) is str for t in texts)
                and (stored is None or type(stored) in (int, float))
                and _valid_naming(naming)
            )
    return False


def _valid_naming(naming: list[Any]) -> bool:
    match naming:
        case [filename_from, list(candidates), link, page, url_unknown, *texts]:
            return (
                (filename_from is None or filename_from in FILENAME_FROM)
                and (url_unknown is None or url_unknown in URL_UNKNOWN)
                and all(type(c) is str for c in candidates)
                and len(texts) == 3  # body_sha256, content_name, redirect
                and all(t is None or type(t) is str for t in (link, page, *texts))
            )
    return False


def _write(
    file: Path,
    cache_dir: str,
    index_urls: str | None,
    records: Iterable[tuple[str, list[Any]]],
) -> None:
    """The memo file, packed record by record (never the whole file in memory at once;
    the count of records goes first in msgpack, so they are counted as they are packed
    and the map's header is written last, at the front)."""
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    # Paths not in UTF-8 come as surrogate escapes (os.fsdecode): kept as their bytes.
    packer = msgpack.Packer(use_bin_type=True, unicode_errors="surrogateescape")
    head = {"format": FORMAT, "cache_dir": cache_dir, "index_urls": index_urls}
    try:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        with os.fdopen(fd, "wb") as fp:
            # A fixed-size map32 header for the entries, patched in once they are counted.
            fp.write(packer.pack_map_header(len(head) + 1))
            for key, value in head.items():
                fp.write(packer.pack(key) + packer.pack(value))
            fp.write(packer.pack("entries"))
            at = fp.tell()
            fp.write(b"\xdf\0\0\0\0")
            count, pending = 0, []
            for path, record in records:
                pending.append(packer.pack(path) + packer.pack(record))
                count += 1
                if len(pending) >= 1024:
                    fp.write(b"".join(pending))
                    pending.clear()
            fp.write(b"".join(pending))
            fp.seek(at)
            fp.write(b"\xdf" + count.to_bytes(4, "big"))
        os.replace(tmp, file)  # whole or not at all; no fsync: a lost memo costs one slow run
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
