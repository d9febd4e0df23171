"""Mutual exclusion between our own mutating commands (pip itself takes no lock)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import LockTimeoutError

#: Our lock file in the cache dir; nothing of pip's, and no pip command touches it.
LOCK_NAME = ".pip_cache_plus.lock"
DEFAULT_TIMEOUT = 600.0


@contextlib.contextmanager
def cache_lock(
    cache_dir: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the cache lock; call ``on_wait`` once if another command holds it first."""
    if not cache_dir.is_dir():
        yield  # no cache, nothing to change: do not create one just to lock it
        return
    lock = FileLock(str(cache_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeoutError(
                f"another pip_cache_plus command has held {cache_dir / LOCK_NAME} for "
                f"over {timeout:g}s; try again when it has finished"
            ) from None
    try:
        yield
    finally:
        lock.release()
