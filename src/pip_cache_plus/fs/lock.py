"""Mutual exclusion between our own mutating commands (pip itself takes no lock)."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import LockTimeoutError, PipCachePlusError, UsageError

#: Our lock file in the cache dir; nothing of pip's, and no pip command touches it.
LOCK_NAME = ".pip_cache_plus.fs.lock"
DEFAULT_TIMEOUT = 600.0
#: Seconds to wait for the lock when no timeout is passed (a CI job may want less).
TIMEOUT_ENV = "PIP_CACHE_PLUS_LOCK_TIMEOUT"


def lock_timeout(environ: Mapping[str, str] | None = None) -> float:
    """The wait for the lock: ``$PIP_CACHE_PLUS_LOCK_TIMEOUT`` seconds, else 600."""
    value = (os.environ if environ is None else environ).get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise UsageError(f"{TIMEOUT_ENV}={value!r}: expected a number of seconds, 0 or more")
    return seconds


@contextlib.contextmanager
def cache_lock(
    cache_dir: Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the cache lock; call ``on_wait`` once if another command holds it first.
    ``timeout``: seconds to wait before :class:`LockTimeoutError`; None: see
    :func:`lock_timeout`."""
    if timeout is None:
        timeout = lock_timeout()
    if not cache_dir.is_dir():
        yield  # no cache, nothing to change: do not create one just to lock it
        return
    path = cache_dir / LOCK_NAME
    if path.is_symlink():
        # filelock >= 3.20.1 opens it with O_NOFOLLOW (older ones truncated and chmod-ed
        # the link's target: CVE-2025-68146); say why here, before it tries.
        raise PipCachePlusError(
            f"the lock file {path} is a symbolic link (pip_cache_plus never makes one); "
            "delete it, then run the command again"
        )
    lock = FileLock(str(path), mode=_shared_mode(cache_dir))
    try:
        lock.acquire(timeout=0)
    except Timeout:  # (a TimeoutError, so an OSError: first)
        if on_wait is not None:
            on_wait()
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise LockTimeoutError(
                f"another pip_cache_plus command still holds {cache_dir / LOCK_NAME} after "
                f"{timeout:g}s of waiting; try again when it has finished (or set "
                f"{TIMEOUT_ENV} to wait longer)"
            ) from None
    except OSError as exc:  # not ours to open (another user's), a read-only cache...
        raise _unusable(cache_dir / LOCK_NAME, exc) from None
    try:
        yield
    finally:
        lock.release()


def _shared_mode(cache_dir: Path) -> int:
    """pip's rule for its cache files: the cache dir's read/write bits, and the owner's.

    In a cache shared by a group (``chmod g+ws``) the lock is then the group's to take too.
    """
    try:
        return os.stat(cache_dir).st_mode & 0o666 | 0o600
    except OSError:
        return 0o644


def _unusable(path: Path, exc: OSError) -> PipCachePlusError:
    why = exc.strerror or str(exc)
    hint = ""
    if isinstance(exc, PermissionError) and not os.path.lexists(path):
        hint = f"; you may not write to {path.parent}, so nothing there can change"
    elif isinstance(exc, PermissionError):
        hint = (
            "; another user made it without group write access: ask them to run "
            f"'chmod g+w {path}', or delete it while no pip_cache_plus command runs"
        )
    return PipCachePlusError(f"cannot open the lock file {path} ({why}){hint}")
