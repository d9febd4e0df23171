"""The progress display: one line on a terminal that says what long work is doing.

The CLI decides once whether to show it (human output, stderr a terminal, no ``-q``);
this module only draws. Quick work prints nothing: the line appears once the command has
run ``delay`` seconds. It is redrawn at most every ``INTERVAL`` seconds (a 20k-entry walk
reports hundreds of times), at once when the phase changes, and erased when a phase ends,
so the command's own output never lands on it. The words are ours, never cache content.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from ...model import Phase
from .common import format_size

#: Seconds a command runs before its progress shows (``PIP_CACHE_PLUS_PROGRESS_DELAY``).
DELAY = 0.5
INTERVAL = 0.1
_ERASE = "\r\033[K"
_BAR = 20

#: Each phase's words, and the unit of its count ("migrating" counts sizes, which carry theirs).
_SHOWN: dict[Phase, tuple[str, str]] = {
    "walking": ("Walking the cache", "entries"),
    "naming": ("Reading index pages and naming entries", "entries"),
    "checking": ("Checking", "entries"),
    "hashing": ("Checking and hashing", "entries"),
    "exporting": ("Exporting", "files"),
    "migrating": ("Migrating", ""),
    "syncing": ("Syncing to disk", "files"),
    "removing": ("Removing", "files"),
}


def delay_from(environ: Mapping[str, str]) -> float:
    """The delay ``PIP_CACHE_PLUS_PROGRESS_DELAY`` asks for (seconds), else ``DELAY``."""
    try:
        return max(0.0, float(environ.get("PIP_CACHE_PLUS_PROGRESS_DELAY", DELAY)))
    except ValueError:
        return DELAY


class ProgressLine:
    """A :data:`~pip_cache_plus.model.Progress` that draws on ``stream`` (a terminal)."""

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float = DELAY,
        clock: Callable[[], float] = time.monotonic,
        width: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._width = width
        self._shows_at = clock() + delay
        self._next = 0.0
        self._phase: Phase | None = None
        self._shown = False

    def __call__(self, phase: Phase, done: int, total: int | None) -> None:
        if total is not None and done >= total:
            self._phase = None
            self.clear()
            return
        now = self._clock()
        changed, self._phase = phase != self._phase, phase
        if now < self._shows_at or (now < self._next and not changed):
            return
        self._next = now + INTERVAL
        text = progress_text(phase, done, total)[: max(self._width() - 1, 0)]
        self._stream.write(_ERASE + text)
        self._stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the line, if drawn (before other output, and at the end)."""
        if self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._shown = False


def progress_text(phase: Phase, done: int, total: int | None) -> str:
    """``Walking the cache: 12,345 entries``, or with a total, a bar and a percentage."""
    words, unit = _SHOWN[phase]
    if phase == "migrating":
        count = format_size(done) if total is None else f"{format_size(done)}/{format_size(total)}"
    else:
        count = f"{done:,}" if total is None else f"{done:,}/{total:,}"
    text = f"{words}: {count}{' ' + unit if unit else ''}"
    if not total:
        return text
    filled = min(done * _BAR // total, _BAR)
    return f"{text} [{'#' * filled}{'.' * (_BAR - filled)}] {min(done * 100 // total, 100)}%"
