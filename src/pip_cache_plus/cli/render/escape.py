"""Cache content shown on a terminal: control and bidi characters made visible.

The cache holds whatever index servers sent (page links, metadata fields, file names), and
a raw ``ESC [2J``, ``ESC ] 0;title BEL``, ``CR`` or U+202E RIGHT-TO-LEFT OVERRIDE would
clear the screen, retitle the window, hide the start of a line or make ``...lmth.exe``
read as ``...exe.html``. So human output shows them as escapes (``\\x1b``, ``\\u202e``),
as git and pip do. JSON stays exact (it escapes them itself), and so do the paths of
``--format abspath`` when stdout is not a terminal: scripts need the real names. A
backslash is left as it is (Windows paths), so ``\\x1b`` can also be four real
characters; the JSON output tells them apart.
"""

from __future__ import annotations

import re

# C0 (but tab), DEL, C1; zero-width and direction marks; embeddings, overrides, isolates;
# and the lone surrogates that stand for a file name's undecodable bytes 0x80-0x9f, which
# console.printable_paths would write as raw C1 bytes (some terminals obey 0x9b as CSI).
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\udc80-\udc9f"
_IN_VALUE = re.compile(f"[\n\t{_CONTROLS}]")
_IN_TEXT = re.compile(f"[{_CONTROLS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDC9F:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: str) -> str:
    """One value from the cache (a name, a path, a header), safe to print on one line:
    its newlines and tabs are escaped too, so it cannot forge a line of our output."""
    return _IN_VALUE.sub(_escape, value)


def visible_text(text: str) -> str:
    """Text our code composed around such values: every control but our newlines and
    tabs made visible (the net under values a renderer did not pass through ``shown``)."""
    return _IN_TEXT.sub(_escape, text)
