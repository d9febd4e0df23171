"""show and verify."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypedDict

from ...model import Source
from .common import (
    SCHEMA_VERSION,
    EntryJSON,
    Format,
    dump,
    entry_json,
    format_size,
    iso,
    relative,
    sort_key,
)
from .escape import visible
from .naming import name_source, url_unknown_line

if TYPE_CHECKING:
    from ...actions.show import Freshness, Shown
    from ...actions.verify import Problem, Verification

# -- show ---------------------------------------------------------------------------------


class FileJSON(TypedDict):
    path: str
    size: int
    mtime: str
    atime: str


class FreshnessJSON(TypedDict):
    fresh: bool
    basis: str  # max-age, expires, bad-expires, none, no-date, bad-date, permanent-redirect
    lifetime: int | None  # seconds after Date; null: unlimited or unknown
    until: str | None  # when it stops (or stopped) being fresh; null: never or unknown
    immutable: bool
    revalidate: bool  # once stale, pip asks with If-None-Match instead of downloading


class OriginJSON(TypedDict):
    url: str | None
    hash: str | None
    commit: str | None


class ShownJSON(EntryJSON):
    read_by: str
    files: list[FileJSON]
    freshness: FreshnessJSON | None  # null for built wheels: they never expire
    headers: dict[str, str]
    origin: OriginJSON | None  # built wheels: their origin.json
    index_sha256: str | None  # the file's sha256 as a cached index page lists it
    note: str | None


class ShowJSON(TypedDict):
    version: int
    cache_dir: str
    entries: list[ShownJSON]


def _freshness_json(fresh: Freshness | None) -> FreshnessJSON | None:
    if fresh is None:
        return None
    return {
        "fresh": fresh.fresh,
        "basis": fresh.basis,
        "lifetime": fresh.lifetime,
        "until": iso(fresh.until) if fresh.until is not None else None,
        "immutable": fresh.immutable,
        "revalidate": fresh.revalidate,
    }


def shown_json(shown: Shown) -> ShownJSON:
    base = entry_json(shown.entry)
    origin = shown.origin
    files: list[FileJSON] = [
        {"path": str(f.path), "size": f.size, "mtime": iso(f.mtime), "atime": iso(f.atime)}
        for f in shown.entry.raw.files
    ]
    return {
        **base,
        "problem": shown.problem,
        "read_by": shown.read_by,
        "files": files,
        "freshness": _freshness_json(shown.freshness),
        "headers": dict(shown.headers),
        "origin": None
        if origin is None
        else {"url": origin.url, "hash": origin.hash, "commit": origin.commit},
        "index_sha256": shown.entry.sha256,
        "note": shown.note,
    }


def describe_freshness(fresh: Freshness | None) -> str:
    """``fresh until 2038-01-19T03:14:07Z (max-age=365000000, immutable)`` and friends."""
    if fresh is None:
        return "never expires (pip uses a built wheel until it is removed)"
    if fresh.basis == "permanent-redirect":
        return "fresh for ever (a permanent redirect: pip never asks again)"
    after = "pip revalidates it by ETag" if fresh.revalidate else "pip downloads it again"
    if fresh.until is None:  # no usable Date: cachecontrol never serves it unasked
        reason = "no Date header" if fresh.basis == "no-date" else "unparsable Date header"
        return f"stale ({reason}); {after}"
    basis = {
        "max-age": f"max-age={fresh.lifetime}",
        "expires": "Expires",
        "bad-expires": "unparsable Expires",
        "none": "no max-age or Expires",
    }.get(fresh.basis, fresh.basis)
    if fresh.immutable:
        basis += ", immutable: ignored by pip"
    if fresh.fresh:
        return f"fresh until {iso(fresh.until)} ({basis}); then {after}"
    return f"stale since {iso(fresh.until)} ({basis}); {after}"


def _shown_lines(shown: Shown, hint: str) -> list[str]:
    entry, raw = shown.entry, shown.entry.raw
    title = entry.filename or entry.project or raw.key or raw.path.name
    what = " ".join(part for part in (entry.project, entry.version) if part)
    rows: list[tuple[str, str]] = [
        ("Kind", f"{entry.kind}: {what}" if what else entry.kind),
        ("Cache", f"{entry.source}, read by {shown.read_by}"),
    ]
    if entry.url is not None:
        label = "Built from" if entry.source == "wheels" else "URL"
        rows.append((label, entry.url))
    elif (unknown := url_unknown_line(entry, hint)) is not None:
        rows.append(("Built from" if entry.source == "wheels" else "URL", unknown))
    if (source := name_source(entry)) is not None:
        rows.append(("Name from", source))
    rows += [("File", f"{f.path} ({format_size(f.size)})") for f in raw.files]
    rows += [
        ("Size", format_size(raw.size)),
        ("Stored", iso(entry.stored_time)),
        ("Last used", iso(raw.last_used)),
    ]
    if shown.problem is not None:
        rows.append(("Problem", shown.problem))
    elif entry.kind != "invalid":
        rows.append(("Freshness", describe_freshness(shown.freshness)))
    if shown.note is not None:
        rows.append(("Note", shown.note))
    if entry.sha256 is not None:
        rows.append(("Index sha256", entry.sha256))
    if shown.origin is not None and shown.origin.hash is not None:
        rows.append(("Source hash", shown.origin.hash))
    if shown.origin is not None and shown.origin.commit is not None:
        rows.append(("Commit", shown.origin.commit))
    rows += list(shown.headers)
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"  {visible(label) + ':':<{width}}{visible(value)}" for label, value in rows]
    return [visible(title), *lines]


def render_show(
    shown: Sequence[Shown],
    cache_dir: Path,
    fmt: Format,
    out: TextIO,
    *,
    hint: str = "python -m pip_cache_plus show",
) -> None:
    """``hint``: the user's command line, for the URL line of an entry whose URL is unknown."""
    ordered = sorted(shown, key=lambda s: sort_key(s.entry))
    if fmt == "json":
        data: ShowJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(cache_dir),
            "entries": [shown_json(s) for s in ordered],
        }
        dump(data, out)
        return
    out.write("\n\n".join("\n".join(_shown_lines(s, hint)) for s in ordered))
    if ordered:
        out.write("\n")


# -- verify -------------------------------------------------------------------------------


class ProblemJSON(TypedDict):
    path: str
    source: Source
    check: str  # entry, length, zip, crc, encoding, sha256 (notes: unchecked)
    problem: str
    filename: str | None


class VerifyJSON(TypedDict):
    version: int
    cache_dir: str
    deep: bool
    ok: bool
    entries: int
    bad_entries: int
    zips: int
    hashed: int
    in_progress: int
    problems: list[ProblemJSON]
    notes: list[ProblemJSON]


def _problem_json(problem: Problem) -> ProblemJSON:
    return {
        "path": str(problem.path),
        "source": problem.source,
        "check": problem.check,
        "problem": problem.message,
        "filename": problem.filename,
    }


def _problem_line(problem: Problem, cache_dir: Path) -> str:
    what = f" ({problem.filename})" if problem.filename else ""
    where = visible(relative(problem.path, cache_dir))
    return f" - {where}{visible(what)}: {visible(problem.message)}"


def render_verify(result: Verification, fmt: Format, out: TextIO) -> None:
    if fmt == "json":
        data: VerifyJSON = {
            "version": SCHEMA_VERSION,
            "cache_dir": str(result.cache_dir),
            "deep": result.deep,
            "ok": result.ok,
            "entries": result.entries,
            "bad_entries": result.bad_entries,
            "zips": result.zips,
            "hashed": result.hashed,
            "in_progress": result.in_progress,
            "problems": [_problem_json(p) for p in result.problems],
            "notes": [_problem_json(p) for p in result.notes],
        }
        dump(data, out)
        return
    lines = [_problem_line(p, result.cache_dir) for p in result.problems]
    lines += [f"note:{_problem_line(p, result.cache_dir)[2:]}" for p in result.notes]
    checked = f"Checked {result.entries} entries ({result.zips} zip archives"
    checked += f", {result.hashed} hashes)" if result.deep else ")"
    if result.ok:
        lines.append(f"{checked}: no problems found.")
    else:
        lines.append(f"{checked}: {result.bad_entries} with problems.")
    if result.in_progress:
        lines.append(
            f"Not checked: {result.in_progress} recent leftovers a running pip may still finish."
        )
    out.write("\n".join(lines) + "\n")
