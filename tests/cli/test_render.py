"""render/common.py: the fast JSON writer is json.dump(indent=2), byte for byte."""

from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.cli.render.common import dump

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _reference(data: object) -> str:
    out = io.StringIO()
    json.dump(data, out, indent=2)
    return out.getvalue() + "\n"


def _fast(data: object) -> str:
    out = io.StringIO()
    dump(data, out)
    return out.getvalue()


@settings(max_examples=500, deadline=None)
@given(_DOCUMENTS)
def test_dump_is_json_dump_indent_2(data: object) -> None:
    assert _fast(data) == _reference(data)


def test_dump_writes_an_iterator_as_a_list() -> None:
    entries = [{"a": 1}, {"b": [2, None]}]
    assert _fast({"entries": iter(entries), "none": iter([])}) == _reference(
        {"entries": entries, "none": []}
    )


def test_dump_of_a_listing_shape() -> None:
    entry = {"source": "http-v2", "kind": "wheel", "url": None, "size": 5, "path": 'a"\\b\n'}
    data = {"version": 1, "entries": [entry, dict(entry, size=6)], "empty": [], "none": {}}
    assert _fast(data) == _reference(data)
    assert json.loads(_fast(data)) == data


class _CountingWriter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_dump_writes_big_chunks_and_the_same_text() -> None:
    # With PYTHONUNBUFFERED=1 every write is a system call: 20,000 entries made 40,000.
    entry = {"source": "http-v2", "path": "/c/http-v2/" + "a" * 60, "size": 1}
    data = {"version": 1, "entries": [dict(entry, size=i) for i in range(5000)]}
    out = _CountingWriter()
    dump(data, out)
    assert out.getvalue() == _reference(data)
    assert len(out.getvalue()) > 300_000
    assert out.writes <= len(out.getvalue()) // (64 * 1024) + 1


def test_a_link_with_credentials_is_shown_redacted() -> None:
    """A page's link is kept as the page writes it (naming uses it again), but shown as
    any URL is: a file matched through a link with credentials printed the password."""
    from pip_cache_plus.cli.render.common import entry_json
    from pip_cache_plus.cli.render.naming import name_source
    from pip_cache_plus.model import CacheEntry, FileStat, Naming, RawEntry

    link = "https://user:s3cret@mirror.example/pkgs/a-1.0-py3-none-any.whl"
    raw = RawEntry("http-v2", (FileStat("/c/http-v2/k", 1, 0.0, 0.0),), key="k" * 56)
    entry = CacheEntry(
        raw, "wheel", "a", "1.0", "a-1.0-py3-none-any.whl", naming=Naming("page", link=link)
    )

    assert (
        entry_json(entry)["link"] == "https://user:****@mirror.example/pkgs/a-1.0-py3-none-any.whl"
    )
    assert "s3cret" not in (name_source(entry) or "") and "user:****@" in (name_source(entry) or "")
