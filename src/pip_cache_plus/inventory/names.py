"""PURE: what a distribution filename says (kind, project, version)."""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from ..model import Kind

METADATA_SUFFIX = ".metadata"
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")
# Old sdists do not follow PEP 625: the version is what follows the last "-" before a digit.
_LEGACY_SDIST_RE = re.compile(r"^(?P<name>.+?)-(?P<version>\d[^-]*)$")


@dataclass(frozen=True, slots=True)
class FileName:
    kind: Kind
    project: str | None
    version: str | None
    filename: str


def classify(filename: str) -> FileName | None:
    """Kind, project and version from a distribution filename; None if it is not one."""
    if filename.endswith(METADATA_SUFFIX):
        inner = _distribution(filename[: -len(METADATA_SUFFIX)])
        if inner is None:
            return None
        return FileName("metadata", inner.project, inner.version, filename)
    return _distribution(filename)


# A wheel and its .metadata name the same file: parsing it (packaging builds a Version and
# every tag) once serves both. Bounded: a cache holds tens of thousands of names.
@functools.lru_cache(maxsize=4096)
def _distribution(filename: str) -> FileName | None:
    if filename.endswith(".whl"):
        return _wheel(filename)
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            return _sdist(filename, suffix)
    return None


def _wheel(filename: str) -> FileName | None:
    try:
        name, version, _build, _tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return FileName("wheel", *_shared(str(name), str(version)), filename)


def _sdist(filename: str, suffix: str) -> FileName | None:
    try:
        name, version = parse_sdist_filename(filename)
        return FileName("sdist", *_shared(str(name), str(version)), filename)
    except InvalidSdistFilename:
        pass
    match = _LEGACY_SDIST_RE.match(filename[: -len(suffix)])
    if match is None:
        return None
    return FileName("sdist", *_shared(canonicalize_name(match["name"]), match["version"]), filename)


def _shared(project: str, version: str) -> tuple[str, str]:
    """One string object per project and version: a listing holds every entry, and a
    project's files repeat them (its wheels, sdists and their .metadata)."""
    return sys.intern(project), sys.intern(version)
