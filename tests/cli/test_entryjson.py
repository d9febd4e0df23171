"""render/entryjson.py: a listing's entries, batched, are the text json.dump(indent=2)
gives for their entry_json dicts; common.iso is datetime's isoformat, second for second."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.cli.render.common import dump, entry_json, iso
from pip_cache_plus.cli.render.entryjson import EntriesJSON
from pip_cache_plus.model import KINDS, CacheEntry, FileStat, Naming, RawEntry

_TEXT = st.text() | st.sampled_from(["a", "wheel", "\udcff\udc80", 'q"\\\n\t\x00', "%s %d", "é"])
_TIME = st.floats(0, 4e9) | st.integers(0, 2**32) | st.sampled_from([0.9999995, 59.9999996])
_FILES = st.lists(
    st.builds(FileStat, _TEXT, st.integers(0, 2**40), _TIME, _TIME), min_size=1, max_size=3
)


@st.composite
def _entries(draw: st.DrawFn) -> CacheEntry:
    files = tuple(draw(_FILES))
    raw = RawEntry(
        draw(st.sampled_from(["http-v2", "http", "wheels"])), files,
        key=draw(st.none() | _TEXT), problem=draw(st.none() | _TEXT),
        has_body_file=len(files) > 1 and draw(st.booleans()),
    )  # fmt: skip
    texts = st.none() | _TEXT
    link = st.none() | _TEXT | st.just("https://u:secret@host/a-1.0.tar.gz")
    naming = Naming(
        draw(st.sampled_from([None, "url", "page", "content", "file"])),
        tuple(draw(st.lists(_TEXT, max_size=3))), draw(link), draw(texts),
        draw(st.sampled_from([None, "not-listed", "no-origin"])),
    )  # fmt: skip
    return CacheEntry(
        raw, draw(st.sampled_from(KINDS)), draw(texts), draw(texts), draw(texts), draw(texts),
        draw(st.none() | _TIME), draw(texts), naming=naming,
    )  # fmt: skip


def _reference(data: object) -> str:
    out = io.StringIO()
    json.dump(data, out, indent=2)
    return out.getvalue() + "\n"


def _batched(data: object) -> str:
    out = io.StringIO()
    dump(data, out)
    return out.getvalue()


@settings(max_examples=300, deadline=None)
@given(st.lists(_entries(), max_size=5), st.integers(0, 600))
def test_batched_entries_are_their_dicts_dumped(entries: list[CacheEntry], more: int) -> None:
    # ``more`` copies of the first entry: batches of 256 and a partial last one.
    entries = entries + entries[:1] * more
    expected = {"version": 1, "entries": [entry_json(e) for e in entries], "x": {"y": []}}
    data = {"version": 1, "entries": EntriesJSON(iter(entries)), "x": {"y": EntriesJSON([])}}
    assert _batched(data) == _reference(expected)


def _datetime_iso(timestamp: float) -> str:
    when = datetime.fromtimestamp(timestamp, timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _outcome(render: Callable[[float], str], timestamp: float) -> str:
    try:
        return render(timestamp)
    except (OverflowError, OSError, ValueError) as exc:  # out of datetime's range
        return type(exc).__name__


@settings(max_examples=2000, deadline=None)
@given(st.floats(-1e10, 3e11) | st.integers(-(2**34), 2**37))
def test_iso_is_datetimes(timestamp: float) -> None:
    assert _outcome(iso, timestamp) == _outcome(_datetime_iso, timestamp)


def test_iso_at_the_rounding_edges() -> None:
    for base in (0, 59, 86399, 1767225599, 253402300799):
        for frac in (0.0, 1e-7, 0.49999995, 0.5, 0.9999994, 0.9999995, 0.99999949, 0.9999996):
            stamp = base + frac
            assert _outcome(iso, stamp) == _outcome(_datetime_iso, stamp), stamp
