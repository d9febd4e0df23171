"""Exceptions. Every ``str()`` is one sentence a user can act on; the CLI prints it."""

from __future__ import annotations

#: Begins every problem text for a file or directory we could not open (see unreadable()).
UNREADABLE = "cannot be read"


def unreadable(exc: OSError) -> str:
    """The one wording for "we could not open it", which prune matches to keep such entries."""
    return f"{UNREADABLE} ({exc.strerror or type(exc).__name__})"


class PipCachePlusError(Exception):
    """Base class: the CLI prints ``error: <message>`` and exits 1."""


class CacheDisabledError(PipCachePlusError):
    """pip's cache is turned off (``--no-cache-dir`` or ``PIP_NO_CACHE_DIR``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"pip's cache is disabled ({reason}), so there is no cache to inspect; "
            "unset it or pass --cache-dir"
        )


class CacheFormatError(PipCachePlusError):
    """Bytes that are not a cache entry we can read. The message says why."""


class UsageError(PipCachePlusError):
    """Bad user input (an age, a size, a pattern): the CLI exits 2."""


class LockTimeoutError(PipCachePlusError):
    """Another pip_cache_plus command holds the cache lock for too long."""


class UnsafePathError(PipCachePlusError):
    """A path we were asked to touch is outside the cache or reached through a link."""
