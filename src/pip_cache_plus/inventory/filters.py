"""PURE: parse user filters (PATTERN, AGE, SIZE, kinds) and match entries against them."""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..model import KINDS, CacheEntry, Kind

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])", re.IGNORECASE)
_SIZE_RE = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?:(?P<prefix>[kmgt])(?P<binary>i)?)?b?", re.IGNORECASE
)
_NAME_RE = re.compile(r"^[A-Za-z0-9*?\[\]]([A-Za-z0-9._*?\[\]-]*[A-Za-z0-9*?\[\]])?$")


@dataclass(frozen=True, slots=True)
class Pattern:
    """pip's ``pip cache list/remove`` PATTERN, made friendlier.

    ``*`` matches everything. ``name==version`` matches one release, and a PEP 440
    specifier (``requests>=2,<3``, ``pip~=23.0``, ``==1.*``) the releases it contains,
    pre-releases included (a cache holds files, not a resolution). Otherwise, like pip,
    a pattern with ``-`` is a glob on the filename (``+ "*"``), and one without is what
    pip makes of it, ``PATTERN-*.whl`` on wheel filenames (``sdist*0.5`` finds
    ``sdist_only-0.5-py3-none-any.whl``), and also a glob on the project name, which
    compares case- and separator-insensitively (filenames only case-insensitively).
    Build it with :func:`parse_pattern`, which checks it and parses the specifier.
    """

    text: str
    specifier: SpecifierSet | None = None  # with ``name``: a version specifier pattern
    name: str | None = None

    def matches(self, entry: CacheEntry) -> bool:
        if self.text == "*":
            return True
        if entry.project is None:
            return False
        if self.specifier is not None and self.name is not None:
            return (
                entry.version is not None
                and _same_name(self.name, entry.project)
                and self.specifier.contains(entry.version, prereleases=True)
            )
        name, sep, version = self.text.partition("==")
        if sep:
            return _same_name(name, entry.project) and _same_version(version, entry.version)
        if _glob_name(self.text, entry.project):
            return True
        return entry.filename is not None and _glob_filename(self.text, entry.filename)

    @property
    def project_part(self) -> str:
        """The part of the pattern that names a project (for suggestions)."""
        if self.name is not None:
            return self.name
        return self.text.partition("==")[0]


@dataclass(frozen=True, slots=True)
class AnyPattern:
    """Several patterns: an entry matches when any of them does."""

    patterns: tuple[Pattern, ...]

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.patterns)

    def matches(self, entry: CacheEntry) -> bool:
        return any(p.matches(entry) for p in self.patterns)


def any_of(patterns: Sequence[Pattern]) -> Pattern | AnyPattern:
    """One pattern for the command line's several (none: everything)."""
    if not patterns:
        return Pattern("*")
    return patterns[0] if len(patterns) == 1 else AnyPattern(tuple(patterns))


# A glob on a project or file name: the characters those hold, and glob's own.
_GLOB_CHARS = re.compile(r"[A-Za-z0-9._+*?!\[\]-]+")
_BRACKETS = re.compile(r"\[!?\]?[^\]]*\]")
_OPERATOR = re.compile(r"===|==|!=|~=|<=|>=|<|>")


def parse_pattern(text: str) -> Pattern:
    """Check a PATTERN and build it; a UsageError says what is wrong with a bad one."""
    text = text.strip()
    if not text:
        raise UsageError("the pattern is empty; use '*' to match everything")
    if "/" in text or "\\" in text:
        raise UsageError(f"bad pattern {text!r}: patterns match file and project names, not paths")
    operator = _OPERATOR.search(text)
    if operator is not None:
        return _versioned(text, text[: operator.start()].strip(), text[operator.start() :])
    _check_glob(text)
    return Pattern(text)


def _check_glob(text: str) -> None:
    bad = _GLOB_CHARS.sub("", text)
    if bad:
        raise UsageError(
            f"bad pattern {text!r}: {bad[0]!r} is in no project or file name "
            "(use a glob: * ? [abc], NAME==VERSION or a PEP 440 specifier: NAME>=1,<2)"
        )
    rest = _BRACKETS.sub("", text)
    if "[" in rest or "]" in rest:
        raise UsageError(f"bad pattern {text!r}: a '[' without its ']' (a glob's [abc])")
    if "!" in rest:
        raise UsageError(f"bad pattern {text!r}: '!' belongs after '[' ([!abc]) or in '!='")


def _versioned(text: str, name: str, spec: str) -> Pattern:
    """``NAME==VERSION`` or ``NAME`` and a PEP 440 specifier set."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not name or not _NAME_RE.match(name):
        raise UsageError(f"bad pattern {text!r}: expected NAME==VERSION or NAME>=1,<2")
    try:
        return Pattern(text, SpecifierSet(spec), name)
    except InvalidSpecifier as exc:
        plain = spec.removeprefix("==")
        if spec.startswith("==") and _GLOB_CHARS.fullmatch(plain) and "*" not in plain:
            return Pattern(text)  # a version PEP 440 cannot parse: compared as text
        raise UsageError(
            f"bad pattern {text!r}: {spec!r} is no PEP 440 version specifier ({exc})"
        ) from None


def unmatched(patterns: Sequence[Pattern], selected: Iterable[CacheEntry]) -> list[Pattern]:
    """The patterns no entry of ``selected`` matches."""
    left = list(patterns)
    for entry in selected:
        if not left:
            break
        left = [p for p in left if not p.matches(entry)]
    return left


def close_projects(pattern: Pattern, projects: Iterable[str], limit: int = 3) -> list[str]:
    """Project names a user who typed ``pattern`` may have meant: close spellings
    (difflib), then names that hold it."""
    import difflib

    wanted = _canonical_glob(pattern.project_part).strip("*?")
    names = sorted(set(projects))
    if not wanted or wanted in names:
        return []
    close = difflib.get_close_matches(wanted, names, n=limit, cutoff=0.6)
    holding = [n for n in names if wanted in n and n not in close]
    return (close + holding)[:limit]


def _canonical_glob(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _glob_name(pattern: str, project: str) -> bool:
    return fnmatch.fnmatchcase(project, _canonical_glob(pattern))


def _glob_filename(pattern: str, filename: str) -> bool:
    filename, pattern = filename.lower(), pattern.lower()
    if "-" in pattern:
        return fnmatch.fnmatchcase(filename, pattern + "*")
    # pip's rule: a wheel's name has no "-", so the glob spans name-version-tags. Only for
    # wheels (and their .metadata): an sdist's name may hold "-" ("foo" must not find
    # foo-bar-1.0.tar.gz).
    wheel = filename.removesuffix(".metadata")
    return wheel.endswith(".whl") and fnmatch.fnmatchcase(wheel, pattern + "-*.whl")


def _same_name(name: str, project: str) -> bool:
    # packaging loads when a pattern is matched: the CLI builds its parser from this
    # module, and `info` or `dir` never match anything.
    from packaging.utils import canonicalize_name

    return canonicalize_name(name) == project or _glob_name(name, project)


def _same_version(wanted: str, actual: str | None) -> bool:
    if actual is None:
        return False
    from packaging.version import InvalidVersion, Version

    try:
        return Version(wanted) == Version(actual)
    except InvalidVersion:
        return wanted == actual


def parse_age(text: str, now: float) -> float:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` or an ISO date -> a cutoff timestamp."""
    text = text.strip()
    match = _AGE_RE.fullmatch(text)
    if match is not None:
        return now - float(match["n"]) * _AGE_UNITS[match["unit"].lower()]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"bad age {text!r}: use a number and a unit (45s, 90m, 12h, 30d, 2w) or an ISO date"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def parse_size(text: str) -> int:
    """``1024``, ``500MB``, ``500M``, ``2GiB``, ``1.5GB`` -> bytes (kB/MB: 1000, KiB: 1024)."""
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"bad size {text!r}: use bytes or a unit (500MB, 2GiB, 1024)")
    power = "kmgt".index(match["prefix"].lower()) + 1 if match["prefix"] else 0
    base = 1024 if match["binary"] else 1000
    size = float(match["n"]) * base**power
    if not math.isfinite(size):  # 400 digits: a float says inf, and int(inf) raises
        raise UsageError(f"bad size {text!r}: too large")
    return int(size)


def parse_kinds(text: str) -> frozenset[Kind]:
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    bad = [k for k in wanted if k not in KINDS]
    if bad or not wanted:
        raise UsageError(f"bad kind {','.join(bad) or text!r}: choose from {', '.join(KINDS)}")
    return frozenset(k for k in KINDS if k in wanted)


#: What ``export`` writes: files pip can install from a ``--find-links`` directory.
EXPORT_KINDS: frozenset[Kind] = frozenset({"wheel", "sdist"})


def parse_export_kinds(text: str) -> frozenset[Kind]:
    """``--kind`` for export: ``wheel``, ``sdist`` or both."""
    kinds = parse_kinds(text)
    if not kinds <= EXPORT_KINDS:
        bad = ",".join(sorted(kinds - EXPORT_KINDS))
        raise UsageError(f"bad kind {bad!r}: export writes only wheel and sdist files")
    return kinds


@dataclass(frozen=True, slots=True)
class Filter:
    pattern: Pattern | AnyPattern = Pattern("*")
    kinds: frozenset[Kind] | None = None
    unused_since: float | None = None  # keep entries last used before this timestamp

    def matches(self, entry: CacheEntry) -> bool:
        if self.kinds is not None and entry.kind not in self.kinds:
            return False
        if self.unused_since is not None and entry.raw.last_used >= self.unused_since:
            return False
        return self.pattern.matches(entry)

    def select(self, entries: Iterable[CacheEntry]) -> list[CacheEntry]:
        return [e for e in entries if self.matches(e)]
