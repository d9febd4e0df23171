"""pip_cache_plus: see, clean, migrate and export everything in pip's cache.

Library use::

    import pip_cache_plus as pcp

    cache = pcp.Cache.locate()                       # where pip would look
    for entry in cache.entries():                    # every entry, identified
        print(entry.kind, entry.project, entry.version, entry.filename, entry.url)
    old = pcp.Filter(pcp.parse_pattern("requests"), unused_since=pcp.parse_age("30d", now))
    result = cache.remove(old, dry_run=True)         # what would go
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import (
    CacheDisabledError,
    CacheFormatError,
    LockTimeoutError,
    PipCachePlusError,
    UnsafePathError,
    UsageError,
)
from .model import KINDS, SOURCES, CacheEntry, FileStat, Kind, Phase, Progress, RawEntry, Source

if TYPE_CHECKING:
    from .actions.clean import Removal
    from .actions.export import ExportResult
    from .actions.migrate import Migration, Unreadable
    from .actions.prune import PruneOptions, PruneResult
    from .actions.show import Freshness, Shown
    from .actions.verify import Problem, Verification
    from .cache import Cache, CacheInfo, SourceInfo
    from .inventory.filters import (
        AnyPattern,
        Filter,
        Pattern,
        any_of,
        parse_age,
        parse_kinds,
        parse_pattern,
        parse_size,
    )


# Names load with their module, on first use, so that ``import pip_cache_plus`` (and
# every CLI start) stays small: `info` needs none of what identifies or deletes entries.
_LAZY = {
    "Cache": "cache",
    "CacheInfo": "cache",
    "SourceInfo": "cache",
    "Removal": "actions.clean",
    "Filter": "inventory.filters",
    "Pattern": "inventory.filters",
    "AnyPattern": "inventory.filters",
    "any_of": "inventory.filters",
    "parse_age": "inventory.filters",
    "parse_kinds": "inventory.filters",
    "parse_pattern": "inventory.filters",
    "parse_size": "inventory.filters",
    "ExportResult": "actions.export",
    "Freshness": "actions.show",
    "Migration": "actions.migrate",
    "Problem": "actions.verify",
    "PruneOptions": "actions.prune",
    "PruneResult": "actions.prune",
    "Shown": "actions.show",
    "Unreadable": "actions.migrate",
    "Verification": "actions.verify",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


__all__ = [
    "KINDS",
    "SOURCES",
    "AnyPattern",
    "Cache",
    "CacheDisabledError",
    "CacheEntry",
    "CacheFormatError",
    "CacheInfo",
    "ExportResult",
    "FileStat",
    "Filter",
    "Freshness",
    "Kind",
    "LockTimeoutError",
    "Migration",
    "Pattern",
    "Phase",
    "PipCachePlusError",
    "Problem",
    "Progress",
    "PruneOptions",
    "PruneResult",
    "RawEntry",
    "Removal",
    "Shown",
    "Source",
    "SourceInfo",
    "Unreadable",
    "UnsafePathError",
    "UsageError",
    "Verification",
    "__version__",
    "any_of",
    "parse_age",
    "parse_kinds",
    "parse_pattern",
    "parse_size",
]
