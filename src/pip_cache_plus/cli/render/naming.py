"""How an entry was named, in words: marks on names that are not exact, and why a URL is
unknown with what to do about it (the hints carry the user's command line)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...inventory.urls import redact

if TYPE_CHECKING:
    from ...model import CacheEntry, UrlUnknown

#: Why a URL is unknown, as the end of "URL unknown: ..." (one entry).
WHY: dict[UrlUnknown, str] = {
    "page-url-unknown": "the page that lists it is in the cache but its own URL is not known",
    "index-unknown": "this page's URL is under no known index",
    "link-elsewhere": "the page that lists it links another URL (a redirect or a mirror)",
    "not-listed": "no cached index page lists it",
    "no-origin": "pip wrote no origin.json beside this wheel",
}
#: The same for several entries, after "URL unknown for N entries: ...".
_WHY_MANY: dict[UrlUnknown, str] = {
    "page-url-unknown": "the pages that list them are in the cache, their own URLs are not known",
    "index-unknown": "index pages whose URLs are under no known index",
    "link-elsewhere": "the pages that list them link other URLs (redirects or mirrors)",
    "not-listed": "no cached index page lists them",
}
#: Reasons an index given on our command line can remedy.
_FIXABLE = frozenset(_WHY_MANY)
FIX = "pass --index-url URL (the one pip used)"


def name_note(entry: CacheEntry) -> str | None:
    """What a listing adds to an entry's name when the name is not exact: rebuilt from
    the body, or one of several files."""
    naming = entry.naming
    if naming.candidates:
        return "one of: " + ", ".join(naming.candidates)
    if naming.filename_from == "content" and entry.filename is not None:
        return "name rebuilt from content"
    return None


def name_source(entry: CacheEntry) -> str | None:
    """``show``'s line on where the filename comes from, for the names that are not the
    URL's or the file's own."""
    naming = entry.naming
    if naming.candidates:
        return "one of several files the cached pages list: " + ", ".join(naming.candidates)
    if naming.filename_from == "page":
        return f"the cached index page that lists it, as {redact(naming.link or '')}"
    if naming.filename_from == "content":
        return "rebuilt from its content (no cached page names it)"
    return None


def url_unknown_line(entry: CacheEntry, hint: str) -> str | None:
    """``show``'s URL line when the URL is unknown (None when it is known)."""
    why = entry.naming.url_unknown
    if entry.url is not None or why is None:
        return None
    if why not in _FIXABLE:
        return f"unknown: {WHY[why]}"
    return f"unknown: {WHY[why]}; {FIX}: {hint} --index-url URL"


def unknown_urls_note(entries: Iterable[CacheEntry], hint: str) -> str | None:
    """One paragraph for the end of a listing: how many URLs are unknown, why, and the
    command that names them (``hint``: the user's command line up to the options)."""
    return _note(
        (why for entry in entries if entry.url is None and (why := entry.naming.url_unknown)),
        hint,
    )


def remembered_note(reasons: Iterable[UrlUnknown], hint: str) -> str | None:
    """``info``'s paragraph on the URLs the last listing did not know (from the memo)."""
    note = _note(reasons, hint)
    return None if note is None else f"At the last listing: {note}"


def _note(whys: Iterable[UrlUnknown], hint: str) -> str | None:
    reasons: Counter[UrlUnknown] = Counter(why for why in whys if why in _FIXABLE)
    if not reasons:
        return None
    total = sum(reasons.values())
    noun = "entry" if total == 1 else "entries"
    parts = "; ".join(f"{count}: {_WHY_MANY[why]}" for why, count in reasons.most_common())
    return f"URL unknown for {total} {noun} ({parts}).\nTo name them, {FIX}: {hint} --index-url URL"
