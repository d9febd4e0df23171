"""stdout and stderr as the CLI uses them: any file name printable, cache content never
raw on a terminal (:mod:`.render.escape`), a closed pipe silenced."""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from .render.escape import visible_text

__all__ = ["StreamProxy", "printable_paths", "raw_stream", "safe_streams", "silence_stdout"]

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


def raw_stream(stream: TextIO) -> TextIO:
    """The terminal behind ``stream``, for our own control output (progress bars)."""
    return stream.raw if isinstance(stream, _Escaping) else stream


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
