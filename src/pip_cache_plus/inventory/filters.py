"""PURE: parse user filters (PATTERN, AGE, SIZE, kinds) and match entries against them."""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import UsageError
from ..model import KINDS, CacheEntry, Kind

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[smhdw])", re.IGNORECASE)
_SIZE_RE = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*(?:(?P<prefix>[kmgt])(?P<binary>i)?)?b?", re.IGNORECASE
)
_NAME_RE = re.compile(r"^[A-Za-z0-9*?\[\]]([A-Za-z0-9._*?\[\]-]*[A-Za-z0-9*?\[\]])?$")


@dataclass(frozen=True, slots=True)
class Pattern:
    """pip's ``pip cache list/remove`` PATTERN, made friendlier.

    ``*`` matches everything. ``name==version`` matches one release. Otherwise, like pip,
    a pattern with ``-`` is a glob on the filename (``+ "*"``), and one without is what
    pip makes of it, ``PATTERN-*.whl`` on wheel filenames (``sdist*0.5`` finds
    ``sdist_only-0.5-py3-none-any.whl``), and also a glob on the project name, which
    compares case- and separator-insensitively (filenames only case-insensitively).
    """

    text: str

    def matches(self, entry: CacheEntry) -> bool:
        if self.text == "*":
            return True
        if entry.project is None:
            return False
        name, sep, version = self.text.partition("==")
        if sep:
            return _same_name(name, entry.project) and _same_version(version, entry.version)
        if _glob_name(self.text, entry.project):
            return True
        return entry.filename is not None and _glob_filename(self.text, entry.filename)


def parse_pattern(text: str) -> Pattern:
    text = text.strip()
    if not text:
        raise UsageError("the pattern is empty; use '*' to match everything")
    if "/" in text or "\\" in text:
        raise UsageError(f"bad pattern {text!r}: patterns match file and project names, not paths")
    name, sep, version = text.partition("==")
    if sep and (not _NAME_RE.match(name) or not version or "==" in version):
        raise UsageError(f"bad pattern {text!r}: expected NAME==VERSION")
    return Pattern(text)


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
    pattern: Pattern = Pattern("*")
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
