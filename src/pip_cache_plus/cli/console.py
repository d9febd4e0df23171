"""stdout and stderr as the CLI uses them: any file name printable, cache content never
raw on a terminal (:mod:`.render.escape`), a closed pipe silenced."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from .render.escape import visible_text

__all__ = [
    "StreamProxy",
    "clearing_streams",
    "printable_paths",
    "safe_streams",
    "silence_stdout",
    "terminal_of",
]

_PATH_ERRORS = "pip_cache_plus.paths"


def _path_errors(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Characters stdout cannot encode: a file name's undecodable bytes (which Python
    holds as lone surrogates) go out as the bytes they were, so a printed path is the
    real one; anything else (a locale without the character) as a backslash escape."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    code = ord(exc.object[exc.start])  # one at a time: the range may mix both kinds
    if 0xDC80 <= code <= 0xDCFF:
        return bytes([code - 0xDC00]), exc.start + 1
    escape = (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )
    return escape, exc.start + 1


@contextlib.contextmanager
def printable_paths() -> Iterator[None]:
    """Let stdout print any file name, for the command (restored after). Under a UTF-8
    locale Python writes stdout strictly, and a cache file named with bytes that are not
    UTF-8 made the human output of ``list``, ``remove``... fail after the work was done."""
    out = sys.stdout
    errors = getattr(out, "errors", None)
    if not isinstance(out, io.TextIOWrapper) or errors != "strict":
        yield
        return
    codecs.register_error(_PATH_ERRORS, _path_errors)
    out.reconfigure(errors=_PATH_ERRORS)
    try:
        yield
    finally:
        out.reconfigure(errors=errors)


def silence_stdout() -> None:
    """A closed pipe (``| head``): stop writing, and keep Python from complaining at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class StreamProxy(io.TextIOBase):
    """A text stream in front of ``raw``: a subclass changes what ``write`` passes on;
    everything else is ``raw``'s."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.raw, "errors", None)


class _Escaping(StreamProxy):
    """Writes everything through ``visible_text``."""

    def write(self, text: str) -> int:
        self.raw.write(visible_text(text))
        return len(text)


def terminal_of(stream: TextIO) -> TextIO:
    """The stream behind every proxy of ours (escaping, ``-q``, ``--log``): for our own
    control output, the progress display, which neither escapes nor logs."""
    while isinstance(stream, StreamProxy):
        stream = stream.raw
    return stream


class _Clearing(StreamProxy):
    """Calls ``clear`` (the progress display's) before passing text on."""

    def __init__(self, raw: TextIO, clear: Callable[[], None]) -> None:
        super().__init__(raw)
        self._clear = clear

    def write(self, text: str) -> int:
        self._clear()
        return self.raw.write(text)


@contextlib.contextmanager
def clearing_streams(clear: Callable[[], None]) -> Iterator[None]:
    """For the command: ``clear`` is called before anything is written to ``sys.stdout``
    or ``sys.stderr``, and at the end, so no output lands on the progress line."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Clearing(sys.stdout, clear), _Clearing(sys.stderr, clear)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        clear()


@contextlib.contextmanager
def safe_streams(*, escape_stdout: bool) -> Iterator[None]:
    """For the command: stderr, and stdout when ``escape_stdout`` (human text, or paths
    on a terminal), write cache content with its control characters made visible."""
    saved = sys.stdout, sys.stderr
    if escape_stdout:
        sys.stdout = _Escaping(sys.stdout)
    sys.stderr = _Escaping(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
