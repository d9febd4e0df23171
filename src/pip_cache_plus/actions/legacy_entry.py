"""One legacy entry's way into ``http-v2/``: where it goes, what to do (pure), whether
pip would already serve what is there, and streaming its body out of the legacy file.

:mod:`.migrate` runs these over the whole of ``http/``, in batches.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from ..errors import CacheFormatError
from ..format.records import (
    LEGACY_HEAD_SIZE,
    MAX_METADATA_SIZE,
    parse_legacy_head,
    parse_metadata,
    serialize_v2_metadata,
)
from ..fs.fsio import read_all
from ..fs.fsops import copy_range
from ..inventory.entries import BODY_SUFFIX
from ..inventory.responses import BodyRef, ReadResponse
from ..model import SOURCE_DIRS

LEGACY_DIR = SOURCE_DIRS["http"]
V2_DIR = SOURCE_DIRS["http-v2"]
_COPY_CHUNK = 16 * 1024 * 1024
_ADVISE = hasattr(os, "posix_fadvise")

Action = Literal["migrate", "drop-legacy", "skip"]
#: ``complete``: pip would serve it; ``absent``: missing or half there (we write it);
#: ``blocked``: something that is not a file sits at its place.
TargetState = Literal["complete", "absent", "blocked"]


@dataclass(frozen=True, slots=True)
class Step:
    """What to do with one valid legacy entry."""

    action: Action
    source: Path  # the legacy file
    meta: Path  # http-v2 metadata file
    body_path: Path  # http-v2 ``.body`` file
    metadata: bytes = b""
    body: BodyRef | None = None
    problem: str | None = None

    @property
    def size(self) -> int:
        """Bytes this step writes to ``http-v2/``."""
        return len(self.metadata) + (self.body.length if self.body is not None else 0)


def target_paths(cache_dir: Path, legacy: Path) -> tuple[Path, Path]:
    """The http-v2 metadata and body paths of a legacy file: same relative path."""
    rel = legacy.relative_to(cache_dir / LEGACY_DIR)
    meta = cache_dir.joinpath(V2_DIR, *rel.parts)
    return meta, meta.with_name(meta.name + BODY_SUFFIX)


def plan_step(source: Path, read: ReadResponse, state: TargetState, cache_dir: Path) -> Step:
    """PURE: decide what happens to one readable legacy entry."""
    meta, body_path = target_paths(cache_dir, source)
    if state == "complete":
        return Step("drop-legacy", source, meta, body_path)
    if state == "blocked":
        problem = f"{meta} or its .body is not a regular file; not overwritten"
        return Step("skip", source, meta, body_path, problem=problem)
    metadata = serialize_v2_metadata(read.response)
    return Step("migrate", source, meta, body_path, metadata=metadata, body=read.body)


class EntryChanged(Exception):
    """The legacy file changed between reading its headers and copying its body."""


def target_state(meta: Path, body: Path) -> TargetState:
    """Whether pip would serve the http-v2 entry at ``meta`` as it stands."""
    modes: list[int | None] = []
    for path in (meta, body):
        try:
            modes.append(os.lstat(path).st_mode)
        except FileNotFoundError:
            modes.append(None)
    if any(m is not None and not stat.S_ISREG(m) for m in modes):
        return "blocked"
    if None in modes:
        return "absent"
    try:
        parse_metadata(read_all(meta, MAX_METADATA_SIZE))
    except (CacheFormatError, ValueError, OSError):
        return "absent"  # pip cannot use it either: ours replaces it
    return "complete"


def copy_body(
    src: BinaryIO, out: BinaryIO, body: BodyRef | None, on_chunk: Callable[[int], None]
) -> None:
    """Stream the body from the open legacy file, after checking it is still the file
    whose headers we parsed (an old pip may have rewritten it since).

    In chunks, each handed to writeback at once (``POSIX_FADV_DONTNEED`` starts it on
    Linux): the disk writes while we copy, so the fsync before the rename waits for the
    last chunk only (1.5x faster for 200 MB here), and migrating gigabytes does not push
    everything else out of the page cache.
    """
    if body is None:
        return
    if body.inline is not None:  # fields out of cachecontrol's order: already in memory
        out.write(body.inline)
        return
    layout = parse_legacy_head(os.pread(src.fileno(), LEGACY_HEAD_SIZE, 0))
    size = os.fstat(src.fileno()).st_size
    if (
        layout is None
        or (layout.body_offset, layout.body_length) != (body.offset, body.length)
        or layout.body_end > size
    ):
        raise EntryChanged
    for start in range(0, body.length, _COPY_CHUNK):
        length = min(_COPY_CHUNK, body.length - start)
        copy_range(src, out, body.offset + start, length)
        if _ADVISE:
            os.posix_fadvise(out.fileno(), start, length, os.POSIX_FADV_DONTNEED)
        on_chunk(start + length)
