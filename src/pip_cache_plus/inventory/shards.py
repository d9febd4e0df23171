"""The walk and each entry's first pass, split over two processes by top-level shard dir.

What an entry needs from its own files before the pages are read (its metadata parsed,
see :func:`.identify.first_pass`) depends on no other entry, and on a big cache it is
about a third of a listing's time: a forked child does it for the upper half of
``http-v2/``'s top-level directories while this process does the lower half. The child
sends each entry back as a tuple of plain values (str, int, float, bytes, None), read
here with an unpickler that refuses every class, and the entries come out in the order
of the serial path. Anything that goes wrong with the child (no ``os.fork``, a failed
fork, a crash, a short or malformed answer) only means this process walks that half
itself: the answers are the same either way.

Serial for small caches (forking costs more than it saves), when a caller wants to hear
of empty directories, and when other threads run (a forked child holds only this one:
a lock another thread held stays locked in it). ``$PIP_CACHE_PLUS_PARALLEL``: ``0``
always serial, ``1`` parallel whenever there are two halves (the tests of both paths).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from stat import S_ISDIR
from typing import Any, BinaryIO

from ..model import SOURCE_DIRS, CacheEntry, FileStat, RawEntry, Source, invalid
from .entries import walk, walk_part
from .identify import FirstPass, first_pass, head_of_row, head_row
from .memo import Memo

PARALLEL_ENV = "PIP_CACHE_PLUS_PARALLEL"
#: Fewer entries (as :func:`_estimate` guesses them) than this are walked in one process.
MIN_ENTRIES = 2000
_SPLIT_SOURCE: Source = "http-v2"
_KEY_DEPTH = 5  # http-v2 entries live at h[0]/h[1]/h[2]/h[3]/h[4]/h
# Row tags: the memo has the answer; the first pass found the entry invalid; a head;
# anything else (this process does that entry's first pass again).
_HIT, _INVALID, _HEAD, _AGAIN = 0, 1, 2, 3
_DONE = "done"


def first_passes(
    cache_dir: Path,
    sources: Sequence[Source],
    memo: Memo | None,
    *,
    on_empty_dir: Callable[[str], None] | None = None,
) -> Iterator[FirstPass]:
    """:func:`.identify.first_pass` of every entry :func:`.entries.walk` yields, in its
    order; the upper half of ``http-v2/`` by a child process when that pays."""
    split = _split(cache_dir, sources) if on_empty_dir is None else None
    if split is None:
        yield from _serial(walk(cache_dir, sources, on_empty_dir=on_empty_dir), memo)
        return
    for source in sources:
        if source != _SPLIT_SOURCE:
            yield from _serial(walk(cache_dir, (source,)), memo)
            continue

        def upper(name: str) -> bool:
            return name >= split

        child = _Child.start(cache_dir, upper, memo)
        try:
            lower = walk_part(cache_dir, source, lambda name: name < split, own_files=False)
            yield from _serial(lower, memo)
            rows = child.result() if child is not None else None
            if rows is None:  # no child, or it failed: this half here too
                yield from _serial(walk_part(cache_dir, source, upper, own_files=False), memo)
            else:
                yield from (_first_of_row(row, memo) for row in rows)
        finally:
            if child is not None:
                child.stop()
        yield from _serial(walk_part(cache_dir, source, lambda _: False, own_files=True), memo)


def _serial(raws: Iterable[RawEntry], memo: Memo | None) -> Iterator[FirstPass]:
    return ((raw, *first_pass(raw, memo)) for raw in raws)


def _split(cache_dir: Path, sources: Sequence[Source]) -> str | None:
    """The first top-level name of the child's half, or None: serial."""
    mode = os.environ.get(PARALLEL_ENV, "")
    if mode == "0" or _SPLIT_SOURCE not in sources or not hasattr(os, "fork"):
        return None
    if mode != "1" and threading.active_count() > 1:
        return None
    root = str(cache_dir / SOURCE_DIRS[_SPLIT_SOURCE])
    try:
        names = _subdirs(root) if S_ISDIR(os.lstat(root).st_mode) else []
    except OSError:
        names = []  # the serial walk reports it
    if len(names) < 2 or (mode != "1" and _estimate(root, names) < MIN_ENTRIES):
        return None
    return names[len(names) // 2]


def _subdirs(directory: str) -> list[str]:
    with os.scandir(directory) as it:
        return sorted(e.name for e in it if e.is_dir(follow_symlinks=False))


def _estimate(root: str, names: list[str]) -> int:
    """A guess at the entries under ``root``, from one path down: keys are hashes, so
    every directory of a level holds about as many as its first one."""
    estimate, directory = len(names), os.path.join(root, names[0])
    try:
        for _ in range(_KEY_DEPTH - 1):
            below = _subdirs(directory)
            if not below:
                return estimate
            estimate *= len(below)
            directory = os.path.join(directory, below[0])
        with os.scandir(directory) as it:
            files = sum(1 for e in it if e.is_file(follow_symlinks=False))
    except OSError:
        return estimate
    return estimate * max(1, files // 2)  # metadata and body


_Row = tuple[Any, ...]


def _row(raw: RawEntry, first: object, hit: bool) -> _Row:
    files = tuple((f.where, f.size, f.mtime, f.atime) for f in raw.files)
    tag: int = _AGAIN
    payload: object = None
    if hit:
        tag = _HIT
    elif (head := head_row(first)) is not None:
        tag, payload = _HEAD, head
    elif isinstance(first, CacheEntry) and first == invalid(raw, str(first.problem)):
        tag, payload = _INVALID, first.problem
    return (raw.source, files, raw.key, raw.problem, raw.has_body_file, tag, payload)


def _first_of_row(row: _Row, memo: Memo | None) -> FirstPass:
    source, files, key, problem, has_body_file, tag, payload = row
    stats = tuple(FileStat(where, size, mtime, atime) for where, size, mtime, atime in files)
    raw = RawEntry(source, stats, key, problem, has_body_file)
    if tag == _HEAD:
        return raw, head_of_row(payload), False
    if tag == _INVALID:
        return raw, invalid(raw, payload), False
    # A hit, or anything the row does not carry: asked again here (the memo gives the
    # child's answer: its records are this process's, copied by the fork).
    return (raw, *first_pass(raw, memo))


class _Child:
    """The forked process that walks one part and sends its rows through a pipe."""

    def __init__(self, pid: int, pipe: BinaryIO) -> None:
        self.pid: int | None = pid
        self.pipe = pipe

    @classmethod
    def start(
        cls, cache_dir: Path, subdirs: Callable[[str], bool], memo: Memo | None
    ) -> _Child | None:
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            return None
        try:
            with warnings.catch_warnings():
                # 3.12+ warns of fork with threads; $PIP_CACHE_PLUS_PARALLEL=1 asked for it.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return None
        if pid == 0:  # the child: never returns into the caller's code
            os.close(read_fd)
            _child_main(cache_dir, subdirs, memo, write_fd)
        os.close(write_fd)
        return cls(pid, os.fdopen(read_fd, "rb"))

    def result(self) -> list[_Row] | None:
        """The child's rows, or None if it did not finish and say so."""
        try:
            rows, done = _RowsOnly(self.pipe).load()
        except Exception:  # a crash mid-write, or anything not our rows
            return None
        if done != _DONE or not isinstance(rows, list) or self._reap() != 0:
            return None
        return rows

    def _reap(self) -> int | None:
        if self.pid is None:
            return None
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        finally:
            self.pid = None
        return os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """Close the pipe and reap the child (killed if still running: not needed)."""
        self.pipe.close()
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap()


def _child_main(
    cache_dir: Path, subdirs: Callable[[str], bool], memo: Memo | None, write_fd: int
) -> None:
    code = 1
    try:
        raws = walk_part(cache_dir, _SPLIT_SOURCE, subdirs, own_files=False)
        rows = [_row(raw, *first_pass(raw, memo)) for raw in raws]
        with os.fdopen(write_fd, "wb") as out:
            pickle.dump((rows, _DONE), out, protocol=pickle.HIGHEST_PROTOCOL)
        code = 0
    finally:
        # No cleanup of the parent's (atexit, buffered stdout): it is not ours to run.
        os._exit(code)


class _RowsOnly(pickle.Unpickler):
    """Plain values only: a class or function named in the stream is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"not a row value: {module}.{name}")


__all__ = ["MIN_ENTRIES", "PARALLEL_ENV", "first_passes"]
