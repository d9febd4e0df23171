"""Core metadata (a wheel's METADATA, a PEP 658 ``.metadata`` file): what installing needs.

Pure: bytes in, a record out. Only the fields that say what a distribution needs are
read: ``Requires-Dist`` (each a PEP 508 requirement, kept as text: parsing is the caller's,
so one bad line does not hide the others), ``Requires-Python`` and ``Provides-Extra``.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass

from ..errors import CacheFormatError

__all__ = ["CoreMetadata", "parse_core_metadata"]

MAX_SIZE = 1 << 20  # what sniff reads of a METADATA member at most


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]


def parse_core_metadata(data: bytes) -> CoreMetadata:
    """Raises ``CacheFormatError`` when there is no ``Name`` or ``Version``."""
    if len(data) > MAX_SIZE:
        raise CacheFormatError(f"core metadata larger than {MAX_SIZE} bytes")
    text = data.decode("utf-8", errors="surrogateescape")
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)

    def values(field: str) -> tuple[str, ...]:
        return tuple(str(v).strip() for v in headers.get_all(field, []) if str(v).strip())

    name, version = (str(headers.get(f, "")).strip() for f in ("Name", "Version"))
    if not name or not version:
        raise CacheFormatError("core metadata without Name or Version")
    python = str(headers.get("Requires-Python", "")).strip() or None
    return CoreMetadata(name, version, values("Requires-Dist"), python, values("Provides-Extra"))
