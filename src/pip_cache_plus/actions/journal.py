"""The temp files ``migrate`` writes, and the ones a killed run (ours or pip's) left.

Temp files left by a kill. Ours: each temp name is appended to a journal in the cache dir
*before* the file is created, and the journal is emptied once the entry is in place; the
next run (which holds the lock, so the killed one is gone) removes exactly the files the
journal names, however young. pip's: pip writes the same names, takes no lock and may be
writing one right now, so a ``*.tmp`` we did not journal is removed only from directories we
write to and only when unmodified for :data:`STALE_TMP_AGE`. A live pip changes its temp file
with every write and keeps it only for the final fsync and rename after that; an hour is far
beyond both. Should a stopped pip ever lose its file to this rule, it loses only that cache
write: its rename fails and pip ignores cache write errors.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from pathlib import Path

from ..errors import PipCachePlusError
from ..fs.fsio import read_all
from ..fs.root import CacheRoot
from ..model import SOURCE_DIRS

V2_DIR = SOURCE_DIRS["http-v2"]
#: Beside the lock file; names our temp files until their entry is in place.
JOURNAL_NAME = ".pip_cache_plus.actions.migrate-journal"
#: A pip-named temp file we did not write is removed only when unmodified this long.
STALE_TMP_AGE = 3600.0
#: ``<key>`` or ``<key>.body``, 8 random characters, ``.tmp``: pip's temp names and ours.
TMP_RE = re.compile(r"[0-9a-f]{56}(?:\.body)?[a-z0-9_]{8}\.tmp")
_JOURNAL_LIMIT = 16 * 1024 * 1024


class Journal:
    """Temp files we are about to create (relative ``+path`` lines; ``-path``: not ours)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.path = cache_dir / JOURNAL_NAME
        self._fd: int | None = None
        self._pending: list[Path] = []

    def claim(self, tmp: Path) -> None:
        if self._fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
            self._fd = os.open(self.path, flags, 0o600)
        self._write(f"+{tmp.relative_to(self.cache_dir).as_posix()}\n")
        self._pending.append(tmp)

    def release(self, tmp: Path) -> None:
        self._write(f"-{tmp.relative_to(self.cache_dir).as_posix()}\n")
        self._pending.remove(tmp)

    def clear(self) -> None:
        """The pending temp files are renamed or removed: forget them."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # O_APPEND: the next line goes to offset 0
        self._pending.clear()

    def close(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not any(os.path.lexists(p) for p in self._pending):
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _write(self, line: str) -> None:
        assert self._fd is not None
        os.write(self._fd, line.encode())

    def leftovers(self) -> list[Path]:
        """Temp files a killed run claimed; only pip-shaped names inside ``http-v2/``."""
        try:
            text = read_all(self.path, _JOURNAL_LIMIT).decode("ascii", "replace")
        except (OSError, ValueError):
            return []  # none, unreadable or not ours: the age rule covers what it named
        claimed: dict[str, None] = {}
        for line in text.splitlines():
            if line.startswith("+"):
                claimed[line[1:]] = None
            elif line.startswith("-"):
                claimed.pop(line[1:], None)
        return [self.cache_dir / rel for rel in claimed if is_our_temp_name(rel)]


def is_our_temp_name(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 7 and parts[0] == V2_DIR and bool(TMP_RE.fullmatch(parts[-1]))


def remove_temps(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def remove_stale_temps(root: CacheRoot, directory: Path, now: float) -> int:
    """Remove pip-named temp files in ``directory`` unmodified for ``STALE_TMP_AGE``."""
    removed = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as it:
        for entry in it:
            if not TMP_RE.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                too_old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_AGE
                if too_old and root.unlink(Path(entry.path)) is not None:
                    removed += 1
    return removed


def remove_leftovers(journal: Journal, root: CacheRoot) -> int:
    """Remove the temp files a killed run claimed, then the journal; how many went.

    Raises PipCachePlusError, changing nothing, when the journal's place holds something
    other than a file: we only ever make a file there.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(journal.path).st_mode):
            raise PipCachePlusError(
                f"{journal.path} is not a file (pip_cache_plus only ever makes a "
                "file there): move it away, then run migrate again; nothing was changed"
            )
    removed = 0
    for tmp in journal.leftovers():
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(tmp).st_mode) and root.unlink(tmp) is not None:
                removed += 1
    with contextlib.suppress(FileNotFoundError):
        os.unlink(journal.path)
    return removed
