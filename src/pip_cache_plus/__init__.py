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

from .cache import Cache, CacheInfo, SourceInfo
from .clean import Removal
from .errors import (
    CacheDisabledError,
    CacheFormatError,
    LockTimeoutError,
    PipCachePlusError,
    UnsafePathError,
    UsageError,
)
from .export import ExportResult
from .filters import Filter, Pattern, parse_age, parse_kinds, parse_pattern, parse_size
from .model import KINDS, SOURCES, CacheEntry, FileStat, Kind, RawEntry, Source
from .prune import PruneOptions, PruneResult

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "SOURCES",
    "Cache",
    "CacheDisabledError",
    "CacheEntry",
    "CacheFormatError",
    "CacheInfo",
    "ExportResult",
    "FileStat",
    "Filter",
    "Kind",
    "LockTimeoutError",
    "Pattern",
    "PipCachePlusError",
    "PruneOptions",
    "PruneResult",
    "RawEntry",
    "Removal",
    "Source",
    "SourceInfo",
    "UnsafePathError",
    "UsageError",
    "__version__",
    "parse_age",
    "parse_kinds",
    "parse_pattern",
    "parse_size",
]
