"""What each entry holds: kind, project, version, filename and, where it can be found, URL.

Nothing on disk names an HTTP entry's URL; the key is ``sha224(url)``. Cached index pages
list file URLs, from which :mod:`.recover` finds most entries' URLs, and the filename in
the URL then says what the entry is without opening its body. Entries left over are
identified by sniffing their (decoded) bodies; PyPI's ``x-pypi-file-*`` headers are only
a last hint.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

from packaging.utils import canonicalize_name

from ..errors import CacheFormatError, unreadable
from ..format import sniff, streams
from ..format.records import key_digest
from ..fs.fsio import read_all
from ..model import CacheEntry, Naming, RawEntry, invalid
from .bypage import Body, name_by_pages, unnamed
from .harvest import by_layout, clue_sources, clues
from .memo import Memo, remembered, urls_digest
from .names import classify
from .recover import Candidates, IndexUrls, Recovered, recover
from .responses import (
    BodyRef,
    ReadResponse,
    body_length_problem,
    open_body,
    parse_http_date,
    read_response,
)
from .urls import cache_key, redact, url_filename
from .wheelkey import prove_built_origins

_MAX_ORIGIN_JSON = 1024 * 1024
#: An encoded body is decoded to a temporary file for sniffing only up to this size.
MAX_SPOOL = 256 * 1024 * 1024
_PAGE_MEDIA = ("html", "json")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # pip caches 301 and 308
_HINT_KINDS: dict[str, sniff.Kind] = {"bdist_wheel": "wheel", "sdist": "sdist"}
# The namings every entry of a route shares (one object each, not one per entry).
_NAMING = Naming()
_BY_URL = Naming("url")
_INDEX_UNKNOWN = Naming(url_unknown="index-unknown")
_BUILT = Naming("file")
_BUILT_NO_ORIGIN = Naming("file", url_unknown="no-origin")


@dataclass(frozen=True, slots=True)
class _Head:
    """What identifying an HTTP entry needs from its response, and no more: every entry
    is held until the pages are read, and a whole header list costs ~3 kB each."""

    status: int
    content_type: str | None
    content_encoding: str | None
    stored: float | None  # the Date header
    hints: tuple[str, str, str | None] | None  # x-pypi-file-package-type, -project, -version
    body: BodyRef
    problem: str | None  # the body does not fit its Content-Length: pip cannot use it
    location: str | None  # of a cached redirect (301, 308)

    @classmethod
    def of(cls, read: ReadResponse) -> _Head:
        # One pass over the headers, not one per header asked for; the first of a name
        # wins, as in CachedResponse.header.
        get = {name.lower(): value for name, value in reversed(read.response.headers)}.get
        package_type, project = get("x-pypi-file-package-type"), get("x-pypi-file-project")
        hints = None
        if package_type is not None and project is not None:
            hints = (sys.intern(package_type), sys.intern(project), get("x-pypi-file-version"))
        status = read.response.status
        return cls(
            status,
            _shared(get("content-type")),
            _shared(get("content-encoding")),
            parse_http_date(get("date")),
            hints,
            read.body,
            body_length_problem(status, get("content-length"), read.body.length),
            get("location") if status in _REDIRECTS else None,
        )

    @property
    def is_page(self) -> bool:
        ctype = (self.content_type or "").lower()
        return self.status == 200 and any(m in ctype for m in _PAGE_MEDIA)


#: A head as plain values (for :mod:`.shards`' pipe): the fields in order, the body as
#: (path, offset, length, inline).
HeadRow = tuple[
    int, str | None, str | None, float | None, tuple[str, str, str | None] | None,
    tuple[str, int, int, bytes | None], str | None, str | None,
]  # fmt: skip


def head_row(first: object) -> HeadRow | None:
    """``first`` as plain values, if it is a head whose body path is a string."""
    if not isinstance(first, _Head) or not isinstance(path := first.body.path, str):
        return None
    body = first.body
    return (
        first.status, first.content_type, first.content_encoding, first.stored, first.hints,
        (path, body.offset, body.length, body.inline), first.problem, first.location,
    )  # fmt: skip


def head_of_row(row: HeadRow) -> _Head:
    """The head :func:`head_row` gave ``row`` for (its repeated strings shared again)."""
    status, ctype, encoding, stored, hints, (path, offset, length, inline), problem, loc = row
    if hints is not None:
        hints = (sys.intern(hints[0]), sys.intern(hints[1]), hints[2])
    body = BodyRef(path, offset, length, inline)
    return _Head(status, _shared(ctype), _shared(encoding), stored, hints, body, problem, loc)


def _shared(value: str | None) -> str | None:
    """One string object for values many entries repeat (every head is held until the
    pages are read: tens of thousands of copies of a few content types add up)."""
    return sys.intern(value) if isinstance(value, str) else value


def identify_all(
    raws: Iterable[RawEntry], index_urls: IndexUrls, memo: Memo | None = None
) -> Iterator[CacheEntry]:
    """Identify every entry; yields them in the order given.

    ``index_urls`` (or a function that gives them: reading pip's configuration is slow)
    are where pages may come from besides PyPI; asked for only when a page is not PyPI's.
    With a ``memo``, unchanged entries are not read again; the answers are the same as
    without one (a change of ``index_urls`` is noticed when a remembered answer needed
    them), and the memo is updated once every entry has been yielded.
    """
    return identify_first_passes(((raw, *first_pass(raw, memo)) for raw in raws), index_urls, memo)


#: An entry after its first pass: what it needs from its files before the pages are read
#: (or the answer, when that needs no page), and whether that is the memo's answer.
FirstPass = tuple[RawEntry, _Head | CacheEntry, bool]


def first_pass(raw: RawEntry, memo: Memo | None) -> tuple[_Head | CacheEntry, bool]:
    """The work on one entry that needs no other entry: :mod:`.shards` does it in
    parallel. (The memo's answer, True) if it has one, else (the first pass, False)."""
    hit = memo.lookup(raw) if memo is not None else None
    return (_first_pass(raw), False) if hit is None else (hit, True)


def identify_first_passes(
    firsts: Iterable[FirstPass], index_urls: IndexUrls, memo: Memo | None = None
) -> Iterator[CacheEntry]:
    """:func:`identify_all` of entries whose first pass is done (in the walk's order)."""
    pending: list[tuple[RawEntry, _Head | CacheEntry]] = []
    # The answers that come from the memo, by id (held here, so no id is reused).
    known: dict[int, CacheEntry] = {}
    keys: set[str] = set()
    for raw, first, hit in firsts:
        if hit:
            assert isinstance(first, CacheEntry)
            known[id(first)] = first
        pending.append((raw, first))
        if raw.key is not None and (isinstance(first, _Head) or id(first) in known):
            keys.add(raw.key)
    candidates = Candidates(index_urls)
    answers = _answers(pending, known, keys, candidates, memo)
    del pending  # _answers lets go of each head once answered
    if memo is None:
        yield from answers
        return
    done = []
    for entry in answers:
        done.append(entry)
        yield entry
    keep = [e for e in done if remembered(e)]
    used = candidates.used()  # the configured index URLs, if answers were checked against them
    if memo.size() != len(keep) or any(id(e) not in known for e in keep) or used != memo.index_urls:
        memo.save(keep, used)  # something is new, changed or gone


def _answers(
    pending: list[tuple[RawEntry, _Head | CacheEntry]],
    known: dict[int, CacheEntry],
    keys: set[str],
    candidates: Candidates,
    memo: Memo | None,
) -> Iterator[CacheEntry]:
    answers = list(_named(pending, known, keys, candidates, memo))
    # Built wheels are never remembered: proven again from the sdists' URLs each time.
    prove_built_origins(answers)
    yield from answers


def _named(
    pending: list[tuple[RawEntry, _Head | CacheEntry]],
    known: dict[int, CacheEntry],
    keys: set[str],
    candidates: Candidates,
    memo: Memo | None,
) -> Iterator[CacheEntry]:
    if not _needs_pages(pending, memo, candidates):
        yield from (first for _, first in pending if isinstance(first, CacheEntry))
        return
    # A new or changed entry, a page gone or another index configured: the URLs pages
    # give may change any answer, so every page is read again and remembered answers are
    # checked against them.
    pending = [(raw, _reread_page(raw, first, known)) for raw, first in pending]
    pages = [(r.key, f) for r, f in pending if isinstance(f, _Head) and f.is_page and r.key]
    hints = clue_sources(pending)
    recovered = recover(pages, candidates, keys, clues(hints))
    _follow_redirects(pending, recovered, keys)
    answers: list[CacheEntry] = []
    bodies: dict[int, Body] = {}  # of the answers left to name by the pages
    pending.reverse()  # popped from the end, so each head is freed once answered
    while pending:
        raw, first = pending.pop()
        if isinstance(first, _Head):
            entry = _identify_http(raw, first, recovered)
            if unnamed(entry):
                bodies[len(answers)] = Body(first.body, first.content_encoding)
        elif id(first) in known and first.kind != "invalid":
            entry = _recheck(raw, first, recovered)
        else:
            entry = first
        answers.append(entry)
    name_by_pages(answers, bodies, pages, recovered)
    yield from by_layout(answers, candidates, recovered.harvest, clues(hints), keys)


def _follow_redirects(
    pending: Sequence[tuple[RawEntry, _Head | CacheEntry]], recovered: Recovered, keys: set[str]
) -> None:
    """The URL a cached redirect points to names the entry cached under it, if one is: an
    absolute ``Location`` as it is, a relative one against the redirect's own URL."""
    for raw, first in pending:
        location = first.location if isinstance(first, _Head) else first.naming.redirect
        if location is None or raw.key is None:
            continue
        base = recovered.urls.get(raw.key)
        try:
            target = urljoin(base, location) if base is not None else location
            key = key_digest(cache_key(target)) if urlsplit(target).scheme else None
        except ValueError:  # a Location urlsplit refuses: no request went there
            continue
        if key is not None and key in keys and key not in recovered.urls:
            recovered.urls[key] = target


def _needs_pages(
    pending: list[tuple[RawEntry, _Head | CacheEntry]], memo: Memo | None, candidates: Candidates
) -> bool:
    pages_now = set()
    for raw, first in pending:
        if isinstance(first, _Head):
            return True  # not remembered: read now
        if first.kind == "index":
            pages_now.add(raw.where)
    if memo is None or not memo.pages() <= pages_now:
        return True
    # Answers that needed the configured index URLs hold only while those are the same.
    return memo.index_urls is not None and urls_digest(candidates.configured()) != memo.index_urls


def _reread_page(
    raw: RawEntry, first: _Head | CacheEntry, known: dict[int, CacheEntry]
) -> _Head | CacheEntry:
    if isinstance(first, CacheEntry) and id(first) in known and first.kind == "index":
        return _first_pass(raw)
    return first


def _recheck(raw: RawEntry, known: CacheEntry, recovered: Recovered) -> CacheEntry:
    """A remembered answer, as :func:`_identify_http` would give it with these pages."""
    assert raw.key is not None
    url = recovered.urls.get(raw.key)
    if url is None:
        if known.url is None:
            return known  # named by its content then, and still
        return _identify_again(raw)  # its page is gone: by content, as a fresh run would
    named = classify(url_filename(url))
    old = known.naming
    if named is None:  # the URL names nothing: by content, as a fresh run names it
        content = old.content_name
        naming = Naming(
            "content" if content is not None else None, body_sha256=old.body_sha256,
            content_name=content, redirect=old.redirect,
        )  # fmt: skip
        return replace(known, filename=content, url=redact(url), sha256=None, naming=naming)
    sha256 = recovered.hashes.get(raw.key)
    naming = _BY_URL if old.redirect is None else Naming("url", redirect=old.redirect)
    return CacheEntry(
        raw, named.kind, named.project, named.version, named.filename, redact(url),
        known.stored, sha256=sha256, naming=naming,
    )  # fmt: skip


def _identify_again(raw: RawEntry) -> CacheEntry:
    first = _first_pass(raw)
    if isinstance(first, CacheEntry):
        return first
    return _identify_http(raw, first, Recovered({}, {}, {}))


def _first_pass(raw: RawEntry) -> _Head | CacheEntry:
    if raw.problem is not None:
        return invalid(raw, raw.problem)
    if raw.source == "wheels":
        return identify_built_wheel(raw)
    try:
        return _Head.of(read_response(raw))
    except CacheFormatError as exc:
        return invalid(raw, str(exc))
    except OSError as exc:
        return invalid(raw, unreadable(exc))


def _identify_http(raw: RawEntry, head: _Head, recovered: Recovered) -> CacheEntry:
    entry = _name_http(raw, head, recovered)
    if head.location is not None:  # remembered: it names the entry it points to
        entry = replace(entry, naming=replace(entry.naming, redirect=head.location))
    if head.problem is not None:  # still named (remove by name finds it; prune clears it)
        return replace(entry, kind="invalid", problem=head.problem, sha256=None)
    return entry


def _name_http(raw: RawEntry, head: _Head, recovered: Recovered) -> CacheEntry:
    assert raw.key is not None
    url = recovered.urls.get(raw.key)
    shown_url = redact(url) if url is not None else None
    page = recovered.pages.get(raw.key)
    if page is not None:
        naming = _NAMING if url is not None else _INDEX_UNKNOWN
        return CacheEntry(
            raw, "index", page.project, None, None, shown_url, head.stored, naming=naming
        )
    if url is not None and (named := classify(url_filename(url))) is not None:
        sha256 = recovered.hashes.get(raw.key)  # checked by export and verify --deep
        return CacheEntry(
            raw, named.kind, named.project, named.version, named.filename, shown_url,
            head.stored, sha256=sha256, naming=_BY_URL,
        )  # fmt: skip
    found = _sniff(head)
    if found.kind == "other" and (hinted := _hinted(head)) is not None:
        found = hinted
    naming = Naming(
        "content" if found.filename is not None else None,
        url_unknown=None if url is not None else "not-listed",
        content_name=found.filename,
    )
    return CacheEntry(
        raw, found.kind, found.project, found.version, found.filename, shown_url, head.stored,
        naming=naming,
    )  # fmt: skip


def _sniff(head: _Head) -> sniff.Sniffed:
    if head.status != 200:
        return sniff.Sniffed("other", None, None, None)
    ctype, encoding = head.content_type, head.content_encoding
    try:
        with open_body(head.body) as fp:
            if encoding is None or encoding.strip().lower() in ("", "identity"):
                return sniff.sniff_body(fp, content_type=ctype)
            # A decoded stream cannot seek and zip sniffing must: spool it, bounded.
            with (
                streams.open_decoded(fp, encoding) as decoded,
                streams.spool(decoded, limit=_spool_limit(head.body)) as body,
            ):
                return sniff.sniff_body(body, content_type=ctype)
    except (CacheFormatError, OSError):
        return sniff.Sniffed("other", None, None, None)


def _spool_limit(body: BodyRef) -> int:
    # Bounded by the body's size too: a few bytes of nested gzip must not cost a
    # 256 MiB temporary file each time the cache is listed.
    return min(MAX_SPOOL, streams.decode_limit(body.length))


def _hinted(head: _Head) -> sniff.Sniffed | None:
    """PyPI's own headers; other indexes do not send them, so they are a last resort."""
    if head.hints is None:
        return None
    package_type, project, version = head.hints
    kind = _HINT_KINDS.get(package_type)
    if kind is None:
        return None
    return sniff.Sniffed(kind, canonicalize_name(project), version, None)


def identify_built_wheel(raw: RawEntry) -> CacheEntry:
    """A wheel pip built: its filename says it all; origin.json names the sdist URL."""
    named = classify(raw.path.name)
    if named is None or named.kind != "wheel":
        return invalid(raw, "wheel with an invalid filename")
    url = _origin_url(raw)
    return CacheEntry(
        raw, "wheel", named.project, named.version, named.filename,
        redact(url) if url is not None else None, None,
        naming=_BUILT if url is not None else _BUILT_NO_ORIGIN,
    )  # fmt: skip


def _origin_url(raw: RawEntry) -> str | None:
    if len(raw.files) < 2:
        return None
    try:
        data = json.loads(read_all(raw.files[1].path, _MAX_ORIGIN_JSON))
    except (OSError, ValueError, RecursionError):  # "[[[[...": json recurses per level
        return None
    url = data.get("url") if isinstance(data, dict) else None
    return url if isinstance(url, str) else None
