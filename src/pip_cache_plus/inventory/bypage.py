"""Name the entries no URL named from the cached pages of their projects (the IO around
the pure :mod:`.pagematch`): pages are read again only for those projects, one project at
a time (what a page lists is held only while its project's entries are named), and a body
is hashed only when :func:`.pagematch.match` asks, once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import CacheFormatError
from ..model import CacheEntry, Naming
from .pagematch import MATCHABLE, PageFiles, Unnamed, match
from .recover import PageSource, Recovered, read_page
from .responses import BodyRef, body_sha256, read_response
from .urls import redact

__all__ = ["Body", "name_by_pages", "unnamed"]


@dataclass(frozen=True, slots=True)
class Body:
    """Where an entry's body is, as its response said (None: read the response again)."""

    ref: BodyRef
    content_encoding: str | None


def unnamed(entry: CacheEntry) -> bool:
    """Whether the pages' file lists may name ``entry``: its URL is not known, and its
    content says what release it is."""
    return (
        entry.url is None
        and entry.kind in MATCHABLE
        and entry.project is not None
        and entry.version is not None
        and entry.raw.key is not None
        and entry.raw.source != "wheels"
    )


def name_by_pages(
    answers: list[CacheEntry],
    bodies: dict[int, Body],
    pages: Sequence[tuple[str, PageSource]],
    recovered: Recovered,
) -> None:
    """Replace each :func:`unnamed` answer by what the pages of its project say of it;
    ``bodies``: where the bodies of fresh answers are, by index."""
    by_project: dict[str, list[int]] = {}
    for i, entry in enumerate(answers):
        if unnamed(entry):
            assert entry.project is not None
            by_project.setdefault(entry.project, []).append(i)
    if not by_project:
        return
    own: dict[str, list[tuple[str, PageSource, str | None]]] = {}
    anonymous = PageFiles(by_project)  # pages that name no project (directory listings)
    for key, head in pages:
        page = recovered.pages.get(key)
        if page is None:
            continue
        if page.project is None:
            _add(anonymous, key, head, page.url)
        elif page.project in by_project:
            own.setdefault(page.project, []).append((key, head, page.url))
    for project, indexes in by_project.items():
        files = PageFiles({project})
        for key, head, url in own.get(project, ()):
            _add(files, key, head, url)
        files.extend(anonymous, project)
        for i in indexes:
            answers[i] = _by_page(answers[i], files, bodies.pop(i, None))


def _add(files: PageFiles, key: str, head: PageSource, url: str | None) -> None:
    loaded = read_page(head)  # read again: only these pages, only when needed
    if loaded is not None:
        files.add(key, url, loaded)


def _by_page(entry: CacheEntry, files: PageFiles, body: Body | None) -> CacheEntry:
    assert entry.raw.key is not None and entry.project is not None and entry.version is not None
    naming = entry.naming
    digest = [naming.body_sha256]

    def hashed() -> str | None:
        if digest[0] is None:
            digest[0] = _body_hash(entry, body)
        return digest[0]

    wanted = Unnamed(entry.raw.key, entry.kind, entry.project, entry.version, naming.content_name)
    found = match(wanted, files, hashed)
    named = Naming(
        found.filename_from, found.candidates, found.link, found.page, found.url_unknown,
        digest[0], naming.content_name, naming.redirect,
    )  # fmt: skip
    url = redact(found.url) if found.url is not None else None
    return replace(entry, filename=found.filename, url=url, sha256=found.sha256, naming=named)


def _body_hash(entry: CacheEntry, body: Body | None) -> str | None:
    if body is None:  # a remembered answer: its response is read again
        try:
            read = read_response(entry.raw)
        except (CacheFormatError, OSError):
            return None
        body = Body(read.body, read.response.header("content-encoding"))
    return body_sha256(body.ref, body.content_encoding)
