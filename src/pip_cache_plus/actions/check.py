"""check: can the cache alone install these requirements, for this interpreter?

The cached wheels and sdists are the candidates pip's finder would see in a
``--find-links`` directory made by ``export``: wheels whose tags this interpreter supports
(``packaging.tags.sys_tags``, best first) and sdists; a requirement's specifier picks
among them as pip does (highest version, then the most preferred wheel tag, wheels before
sdists, then the build tag; pre-releases only when the specifier names one or nothing else
matches). A wheel's dependencies are read from its METADATA (a cached PEP 658
``.metadata`` file when there is one), markers evaluated for this interpreter and the
extras asked for, and followed in turn; ``Requires-Python`` rules a version out.

:func:`plan` is the pure part: it never guesses what pip's resolver would do. When the
requirers of a project want versions no one cached file satisfies together, or picks
change each other, it says the choice needs the resolver; a sdist's dependencies are
known only after pip builds it, so it is said to be unproven.
"""

from __future__ import annotations

import contextlib
import platform
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Literal

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from ..errors import CacheFormatError, UsageError
from ..format.coremeta import CoreMetadata, parse_core_metadata
from ..format.sniff import wheel_metadata
from ..format.streams import decode_limit, open_decoded
from ..fs.fsio import open_quietly, window
from ..inventory.names import METADATA_SUFFIX
from ..inventory.responses import read_response
from ..model import CacheEntry

Status = Literal["ok", "unproven", "missing", "needs-resolver", "skipped", "unsupported"]
#: The statuses that make ``check`` fail (exit 1): not known to install.
FAILING: frozenset[Status] = frozenset({"unproven", "missing", "needs-resolver", "unsupported"})
_MAX_ROUNDS = 50
_SOURCE_ORDER = {"http-v2": 0, "http": 1, "wheels": 2}
_SPOOL = 16 << 20  # a Content-Encoded wheel is decoded to memory up to this, then to disk
COMMAND_LINE = "command line"


@dataclass(frozen=True, slots=True)
class Request:
    """A requirement as the user gave it: on the command line or on a file's line."""

    text: str
    source: str = COMMAND_LINE
    constraint: bool = False
    editable: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """A cached file pip's finder would see in the export directory."""

    entry: CacheEntry  # the copy export writes (downloaded before built)
    project: str
    version: Version
    filename: str
    wheel: bool
    rank: int  # index of its best tag in this interpreter's tags; sdists: after all
    build: tuple[int, str] | tuple[()] = ()

    def preference(self) -> tuple[Version, int, tuple[int, str] | tuple[()]]:
        return (self.version, -self.rank, self.build)


@dataclass(frozen=True, slots=True)
class Need:
    """One project the requirements need, and what in the cache serves it."""

    project: str
    status: Status
    reason: str  # a sentence: why this status
    wanted: str  # what is asked of it, all requirers together: "tiny-pure[x]>=1"
    requested_by: tuple[str, ...]  # "command line", "reqs.txt:3", "tiny-pure 1.1"
    serves: Candidate | None = None
    requires: tuple[str, ...] = ()  # its dependencies for this interpreter, as written


@dataclass(frozen=True, slots=True)
class Interpreter:
    implementation: str
    python_version: str
    platform: str
    tags: tuple[Tag, ...]


@dataclass(slots=True)
class CheckResult:
    interpreter: Interpreter
    needs: list[Need] = field(default_factory=list)
    ignored: list[CacheEntry] = field(default_factory=list)  # wheels/sdists with no filename

    @property
    def ok(self) -> bool:
        return not any(n.status in FAILING for n in self.needs)

    @property
    def files(self) -> list[str]:
        """What to export, once each, sorted."""
        return sorted({n.serves.filename for n in self.needs if n.serves is not None})


def this_interpreter() -> Interpreter:
    return Interpreter(
        platform.python_implementation(),
        platform.python_version(),
        sys.platform,
        tuple(sys_tags()),
    )


def parse_requests(requests: Iterable[Request]) -> list[tuple[Request, Requirement | None]]:
    """Each request with its parsed requirement (None for an editable one). Raises
    :class:`UsageError` for one pip would refuse too."""
    parsed: list[tuple[Request, Requirement | None]] = []
    for request in requests:
        if request.editable:
            parsed.append((request, None))
            continue
        try:
            parsed.append((request, Requirement(request.text)))
        except InvalidRequirement as exc:
            where = "" if request.source == COMMAND_LINE else f" ({request.source})"
            raise UsageError(f"bad requirement {request.text!r}{where}: {exc}") from None
    return parsed


# -- candidates ---------------------------------------------------------------------------


def candidates_of(
    entries: Iterable[CacheEntry], tags: Sequence[Tag]
) -> tuple[dict[str, list[Candidate]], dict[str, list[str]], list[CacheEntry]]:
    """(usable candidates by project, wheels of other interpreters by project, wheels and
    sdists without a filename). One candidate per filename: pip sees one file."""
    by_name: dict[str, list[CacheEntry]] = {}
    nameless: list[CacheEntry] = []
    for entry in entries:
        if entry.kind not in ("wheel", "sdist"):
            continue
        if entry.filename is None:
            nameless.append(entry)
        else:
            by_name.setdefault(entry.filename, []).append(entry)
    rank = {tag: i for i, tag in enumerate(tags)}
    usable: dict[str, list[Candidate]] = {}
    foreign: dict[str, list[str]] = {}
    for filename, copies in sorted(by_name.items()):
        entry = min(copies, key=lambda e: (_SOURCE_ORDER[e.source], str(e.raw.path)))
        found = _candidate(entry, filename, rank)
        if isinstance(found, Candidate):
            usable.setdefault(found.project, []).append(found)
        elif found is not None:
            foreign.setdefault(found, []).append(filename)
    return usable, foreign, nameless


def _candidate(entry: CacheEntry, filename: str, rank: Mapping[Tag, int]) -> Candidate | str | None:
    """The candidate; the project's name if it is a wheel for other interpreters; None
    if the filename is not one pip's finder takes."""
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            best = min((rank[t] for t in tags if t in rank), default=None)
            if best is None:
                return str(name)
            return Candidate(entry, str(name), version, filename, True, best, build)
        name, version = parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return Candidate(entry, str(name), version, filename, False, len(rank))


# -- the plan (pure) ----------------------------------------------------------------------

Metadata = Callable[[Candidate], "CoreMetadata | str"]  # the metadata, or why not known


@dataclass(slots=True)
class _Want:
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    extras: set[str] = field(default_factory=set)
    asks: dict[tuple[str, str], None] = field(default_factory=dict)  # (by, as written)


@dataclass(slots=True)
class _Planner:
    candidates: Mapping[str, Sequence[Candidate]]
    metadata: Metadata
    environment: Mapping[str, str]
    roots: list[tuple[Requirement, str]]
    constraints: dict[str, SpecifierSet]
    _python: Version = field(init=False)

    def __post_init__(self) -> None:
        self._python = Version(self.environment["python_full_version"])

    def gather(self, picks: Mapping[str, Candidate | None]) -> dict[str, _Want]:
        """What is wanted when ``picks`` serve: the roots and the picks' dependencies."""
        wants: dict[str, _Want] = {}
        followed: dict[str, set[str]] = {}
        queue = deque(self.roots)
        while queue:
            req, by = queue.popleft()
            project = canonicalize_name(req.name)
            want = wants.setdefault(project, _Want())
            want.specifier &= req.specifier
            want.extras |= {canonicalize_name(e) for e in req.extras}
            want.asks[(by, str(req))] = None
            queue += self._dependencies(
                picks.get(project), want, followed.setdefault(project, set())
            )
        return wants

    def _dependencies(
        self, pick: Candidate | None, want: _Want, followed: set[str]
    ) -> list[tuple[Requirement, str]]:
        if pick is None or not pick.wheel:
            return []
        meta = self.metadata(pick)
        extras = ({""} | want.extras) - followed
        if isinstance(meta, str) or not extras:
            return []
        followed |= extras
        by = f"{pick.project} {pick.version}"
        return [(dep, by) for dep in self.requires(meta, extras)]

    def requires(self, meta: CoreMetadata, extras: Iterable[str]) -> list[Requirement]:
        """The dependencies for this interpreter and these extras ("" the base)."""
        found = []
        for text in meta.requires_dist:
            try:
                dep = Requirement(text)
            except InvalidRequirement:
                continue  # reported by requires_text
            marker = dep.marker
            if marker is None or any(
                marker.evaluate({**self.environment, "extra": e}) for e in extras
            ):
                dep.marker = None
                found.append(dep)
        return found

    def best(self, project: str, want: _Want) -> Candidate | None:
        specifier = want.specifier & self.constraints.get(project, SpecifierSet())
        for candidate in self.allowed(project, specifier):
            if self.python_ok(candidate):
                return candidate
        return None

    def allowed(self, project: str, specifier: SpecifierSet) -> list[Candidate]:
        """Best first, as pip's finder sorts them."""
        cands = self.candidates.get(project, ())
        versions = set(specifier.filter({c.version for c in cands}))
        return sorted(
            (c for c in cands if c.version in versions), key=Candidate.preference, reverse=True
        )

    def python_ok(self, candidate: Candidate) -> bool:
        if not candidate.wheel:
            return True  # known only once built; pip checks it then
        meta = self.metadata(candidate)
        if isinstance(meta, str) or meta.requires_python is None:
            return True
        try:
            return SpecifierSet(meta.requires_python).contains(self._python, prereleases=True)
        except ValueError:
            return True  # pip ignores a Requires-Python it cannot parse, with a warning


def plan(
    requests: Sequence[tuple[Request, Requirement | None]],
    candidates: Mapping[str, Sequence[Candidate]],
    metadata: Metadata,
    *,
    environment: Mapping[str, str] | None = None,
    foreign: Mapping[str, Sequence[str]] | None = None,
) -> list[Need]:
    """What each requested project (and each dependency) needs, and what serves it."""
    env: dict[str, str] = dict(
        environment if environment is not None else default_environment()  # type: ignore[arg-type]
    )
    needs: list[Need] = []
    roots: list[tuple[Requirement, str]] = []
    constraints: dict[str, SpecifierSet] = {}
    for request, req in requests:
        skip = _skip(request, req, env)
        if skip is not None:
            needs.append(skip)
        elif req is not None and request.constraint:
            name = canonicalize_name(req.name)
            constraints[name] = constraints.get(name, SpecifierSet()) & req.specifier
        elif req is not None:
            roots.append((req, request.source))
    planner = _Planner(candidates, metadata, env, roots, constraints)
    picks: dict[str, Candidate | None] = {}
    stable, changed, wants = False, set(), {}
    for _ in range(_MAX_ROUNDS):
        wants = planner.gather(picks)
        new = {p: planner.best(p, w) for p, w in wants.items()}
        if new == picks:
            stable = True
            break
        changed = {p for p in new if new[p] != picks.get(p)}
        picks = new
    judged: list[Need] = []
    for project, want in wants.items():
        if not stable and project in changed:
            judged.append(_unsettled(project, want))
        else:
            judged.append(_judge(planner, project, want, picks.get(project), foreign or {}))
    return [_backtracking(planner, n, wants, picks) for n in judged] + needs


def _backtracking(
    planner: _Planner,
    need: Need,
    wants: Mapping[str, _Want],
    picks: Mapping[str, Candidate | None],
) -> Need:
    """A missing dependency is not the last word when a project that needs it has other
    cached versions: pip's resolver may go back to one that does not need it."""
    if need.status != "missing":
        return need
    others = []
    for project, pick in picks.items():
        if pick is None or f"{pick.project} {pick.version}" not in need.requested_by:
            continue
        spec = wants[project].specifier & planner.constraints.get(project, SpecifierSet())
        versions = {str(c.version) for c in planner.allowed(project, spec)} - {str(pick.version)}
        if versions:
            others.append(f"{project} ({', '.join(sorted(versions, key=Version))})")
    if not others:
        return need
    why = (
        f"{need.reason}; pip's resolver may go back to another cached version of "
        f"{' or '.join(others)}, which may not need it"
    )
    return replace(need, status="needs-resolver", reason=why)


def _skip(request: Request, req: Requirement | None, env: Mapping[str, str]) -> Need | None:
    if req is None:
        why = "an editable requirement: pip installs it from its path or URL, not from DIR"
        return Need(request.text, "unsupported", why, request.text, (request.source,))
    project = canonicalize_name(req.name)
    if req.url is not None:
        why = "a direct reference: pip fetches its URL, not a file from DIR"
        return Need(project, "unsupported", why, str(req), (request.source,))
    if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
        why = f"its marker is false for this interpreter ({req.marker}): pip skips it"
        return Need(project, "skipped", why, str(req), (request.source,))
    return None


def _wanted(project: str, want: _Want) -> str:
    extras = f"[{','.join(sorted(want.extras))}]" if want.extras else ""
    return f"{project}{extras}{want.specifier}"


def _by(want: _Want) -> tuple[str, ...]:
    return tuple(dict.fromkeys(by for by, _ in want.asks))


def _unsettled(project: str, want: _Want) -> Need:
    why = "the picks of its requirers keep changing what it must be: pip's resolver decides"
    return Need(project, "needs-resolver", why, _wanted(project, want), _by(want))


def _judge(
    planner: _Planner,
    project: str,
    want: _Want,
    pick: Candidate | None,
    foreign: Mapping[str, Sequence[str]],
) -> Need:
    wanted, by = _wanted(project, want), _by(want)
    if pick is None:
        status, why = _why_none(planner, project, want, foreign)
        return Need(project, status, why, wanted, by)
    if not pick.wheel:
        why = (
            "served by an sdist: pip builds it first, so its build requirements and "
            "dependencies are known only then and are not checked"
        )
        return Need(project, "unproven", why, wanted, by, pick)
    meta = planner.metadata(pick)
    if isinstance(meta, str):
        return Need(
            project, "unproven", f"its dependencies could not be read: {meta}", wanted, by, pick
        )
    deps = tuple(str(d) for d in planner.requires(meta, {""} | want.extras))
    bad = [t for t in meta.requires_dist if not _parses(t)]
    if bad:
        why = f"its METADATA has a Requires-Dist pip cannot read: {bad[0]!r}"
        return Need(project, "unproven", why, wanted, by, pick, deps)
    missing = sorted(want.extras - {canonicalize_name(e) for e in meta.provides_extra})
    why = f"{pick.filename} serves it (from {pick.entry.source})"
    if missing:
        why += f" (it provides no extra {', '.join(missing)}: pip warns and goes on)"
    return Need(project, "ok", why, wanted, by, pick, deps)


def _parses(text: str) -> bool:
    try:
        Requirement(text)
    except InvalidRequirement:
        return False
    return True


def _why_none(
    planner: _Planner, project: str, want: _Want, foreign: Mapping[str, Sequence[str]]
) -> tuple[Status, str]:
    cands = planner.candidates.get(project, ())
    if not cands:
        if project in foreign:
            names = ", ".join(foreign[project][:3])
            return (
                "missing",
                f"only wheels for other interpreters or platforms are cached ({names})",
            )
        return "missing", "nothing of it is cached"
    asks = [Requirement(text).specifier for _, text in want.asks]
    constraint = planner.constraints.get(project)
    if len(asks) > 1 and all(planner.allowed(project, s) for s in asks):
        versions = ", ".join(f"{text} ({by})" for by, text in want.asks)
        why = (
            f"its requirers want no common cached version: {versions}; "
            "pip's resolver would backtrack"
        )
        return "needs-resolver", why
    cached = ", ".join(sorted({str(c.version) for c in cands}, key=Version))
    allowed = planner.allowed(project, want.specifier & (constraint or SpecifierSet()))
    if allowed:
        return "missing", f"every cached version it allows needs another Python (cached: {cached})"
    limit = f" and the constraint {constraint}" if constraint else ""
    return (
        "missing",
        f"no cached version matches {want.specifier or 'it'}{limit} (cached: {cached})",
    )


# -- reading metadata ---------------------------------------------------------------------


class MetadataReader:
    """A wheel candidate's core metadata: from its cached ``.metadata`` file, else from
    the wheel; remembered per filename."""

    def __init__(self, entries: Iterable[CacheEntry]) -> None:
        self._files: dict[str, list[CacheEntry]] = {}
        for entry in entries:
            name = entry.filename
            if entry.kind == "metadata" and name is not None and name.endswith(METADATA_SUFFIX):
                self._files.setdefault(name[: -len(METADATA_SUFFIX)], []).append(entry)
        self._known: dict[str, CoreMetadata | str] = {}

    def __call__(self, candidate: Candidate) -> CoreMetadata | str:
        if candidate.filename not in self._known:
            self._known[candidate.filename] = self._read(candidate)
        return self._known[candidate.filename]

    def _read(self, candidate: Candidate) -> CoreMetadata | str:
        problems = []
        for source in [*self._files.get(candidate.filename, ()), candidate.entry]:
            try:
                with _open_body(source) as body:
                    data = body.read(1 << 20) if source.kind == "metadata" else wheel_metadata(body)
                return _matching(parse_core_metadata(data), candidate)
            except (CacheFormatError, OSError, EOFError) as exc:
                problems.append(str(exc) or type(exc).__name__)
        return problems[-1]


def _matching(meta: CoreMetadata, candidate: Candidate) -> CoreMetadata:
    """pip refuses metadata whose name or version is not the filename's."""
    if (
        canonicalize_name(meta.name) != candidate.project
        or Version(meta.version) != candidate.version
    ):
        raise CacheFormatError(f"its metadata names {meta.name} {meta.version}, not the filename's")
    return meta


@contextlib.contextmanager
def _open_body(entry: CacheEntry) -> Iterator[BinaryIO]:
    """The file's bytes as a seekable stream (a Content-Encoding removed)."""
    raw = entry.raw
    if raw.source == "wheels":
        with open_quietly(raw.path) as fp:
            yield fp
        return
    read = read_response(raw)
    coding = (read.response.header("content-encoding") or "").strip().lower()
    ref = read.body
    with contextlib.ExitStack() as stack:
        if ref.inline is not None:
            import io

            body: BinaryIO = io.BytesIO(ref.inline)
        else:
            body = window(stack.enter_context(open_quietly(ref.path)), ref.offset, ref.length)
        if coding not in ("", "identity"):
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(_SPOOL))
            decoded = open_decoded(body, coding, limit=decode_limit(ref.length))
            shutil.copyfileobj(decoded, spool, 1 << 20)
            spool.seek(0)
            body = spool  # type: ignore[assignment]
        yield body


# -- the command --------------------------------------------------------------------------


def check(
    requests: Sequence[Request],
    entries: Sequence[CacheEntry],
    *,
    interpreter: Interpreter | None = None,
) -> CheckResult:
    """Whether ``entries`` alone can install ``requests`` for this interpreter."""
    parsed = parse_requests(requests)
    here = interpreter or this_interpreter()
    usable, foreign, nameless = candidates_of(entries, here.tags)
    needs = plan(parsed, usable, MetadataReader(entries), foreign=foreign)
    return CheckResult(here, needs, nameless)
