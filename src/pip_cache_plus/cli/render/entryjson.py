"""The ENTRY JSON objects of a listing, encoded in batches: the hot part of ``list``'s render.

:func:`.common.entry_json` builds a dict per entry and :func:`.common.dump` has the C
encoder write it; on a listing of tens of thousands of entries that dict, its lookups and
one encoder call per entry were most of the render. Here the values of a batch of entries
go to the C encoder as one flat list, with a newline as the item separator: an encoded
value never holds a raw newline (the encoder escapes control characters), so splitting on
it gives each value's JSON back, and one ``%`` of a template that holds the keys and the
indentation gives the batch's text: the bytes ``dump`` writes for the same dicts.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING

from ...inventory.urls import redact
from .common import Encoded, EntryJSON, encode_value, entry_json, iso

if TYPE_CHECKING:
    from ...model import CacheEntry

_BATCH = 256  # entries per encoder call: bigger batches gain nothing measurable
_INDENT = "  "
_KEYS = tuple(EntryJSON.__annotations__)
# The values that come straight from attributes, in one C call per entry.
_FIELDS = attrgetter(
    "raw.source", "kind", "project", "version", "filename", "naming.filename_from",
    "naming.link", "url", "naming.url_unknown", "raw.key", "problem", "stored", "raw.files",
    "raw.has_body_file", "naming.candidates",
)  # fmt: skip
_SPLIT_ENCODE = json.JSONEncoder(separators=("\n", ":")).encode


class EntriesJSON(Encoded):
    """A list of entries for :func:`.common.dump` to write as their ENTRY objects (the
    same text as a list of :func:`.common.entry_json` dicts), as they are iterated."""

    def __init__(self, entries: Iterable[CacheEntry]) -> None:
        self.entries = entries

    def chunks(self, indent: str) -> Iterator[str]:
        """The list's JSON text, its items at ``indent`` + two spaces."""
        inner = indent + _INDENT
        sep = f",\n{inner}"
        opened = False
        batch: list[object] = []
        count = 0
        for entry in self.entries:
            values = _values(entry)
            if values is None:  # candidates: a nested list, written as dump writes it
                if count:
                    yield (sep if opened else f"[\n{inner}") + _batch_text(batch, count, inner)
                    opened, batch, count = True, [], 0
                yield sep if opened else f"[\n{inner}"
                opened = True
                yield from encode_value(entry_json(entry), inner)  # the general path
                continue
            batch.extend(values)
            count += 1
            if count == _BATCH:
                yield (sep if opened else f"[\n{inner}") + _batch_text(batch, count, inner)
                opened, batch, count = True, [], 0
        if count:
            yield (sep if opened else f"[\n{inner}") + _batch_text(batch, count, inner)
            opened = True
        yield f"\n{indent}]" if opened else "[]"


def _values(entry: CacheEntry) -> tuple[object, ...] | None:
    """The entry's values in ``EntryJSON``'s order; None if it has candidates."""
    (
        source, kind, project, version, filename, filename_from, link, url, url_unknown, key,
        problem, stored, files, has_body_file, candidates,
    ) = _FIELDS(entry)  # fmt: skip
    if candidates:
        return None
    first = files[0]
    if len(files) == 2:  # most entries: RawEntry's size, mtime and last_used, inline
        second = files[1]
        size = first.size + second.size
        mtime = max(first.mtime, second.mtime)
        last_used = max(first.atime, first.mtime, second.atime, second.mtime)
    else:
        raw = entry.raw
        size, mtime, last_used = raw.size, raw.mtime, raw.last_used
    return (
        source, kind, project, version, filename, filename_from, None,
        redact(link) if link is not None else None, url, url_unknown, key, first.where,
        files[1].where if has_body_file else None, size,
        iso(stored if stored is not None else mtime), iso(last_used), problem,
    )  # fmt: skip


def _batch_text(values: list[object], count: int, inner: str) -> str:
    template = _full(inner) if count == _BATCH else _joined(_one(inner), count, inner)
    return template % tuple(_SPLIT_ENCODE(values)[1:-1].split("\n"))


@functools.cache
def _one(inner: str) -> str:
    """An ENTRY object at ``inner``, with a ``%s`` for each value."""
    fields = inner + _INDENT
    return "{" + ",".join(f'\n{fields}"{key}": %s' for key in _KEYS) + f"\n{inner}}}"


@functools.cache
def _full(inner: str) -> str:
    return _joined(_one(inner), _BATCH, inner)


def _joined(one: str, count: int, inner: str) -> str:
    return f",\n{inner}".join([one] * count)
