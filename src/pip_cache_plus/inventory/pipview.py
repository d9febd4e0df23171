"""The cache as ``pip cache info`` (pip 26.3) counts it: every file, by pip's own walk.

pip counts files, not entries (an http-v2 entry is two), sizes every file but links (0),
and takes ``*-*.whl`` under ``wheels/`` for its built wheels. ``info`` prints these pip
lines first, as pip's words, then its own by entry.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PipView", "pip_view"]

_WHEEL_GLOB = "*-*.whl"  # pip's pattern "*" becomes "*-*.whl"


@dataclass(frozen=True, slots=True)
class PipView:
    http_v2: str  # locations, joined as pip joins them
    http: str
    wheels: str
    http_bytes: int  # http/ and http-v2/ together
    http_files: int
    wheels_bytes: int
    wheel_files: int


def pip_view(cache_dir: Path) -> PipView:
    """pip's figures for ``cache_dir`` (stat only; nothing opened)."""
    http_v2, http, wheels = (os.path.join(cache_dir, d) for d in ("http-v2", "http", "wheels"))
    v2_files, v2_bytes, _ = _walk(http_v2)
    old_files, old_bytes, _ = _walk(http)
    _, wheels_bytes, wheel_files = _walk(wheels)
    return PipView(
        http_v2=http_v2,
        http=http,
        wheels=wheels,
        http_bytes=v2_bytes + old_bytes,
        http_files=v2_files + old_files,
        wheels_bytes=wheels_bytes,
        wheel_files=wheel_files,
    )


def _walk(top: str) -> tuple[int, int, int]:
    """(files, bytes, wheel files) below ``top`` as pip's os.walk sees them."""
    files = size = wheels = 0
    for root, _dirs, names in os.walk(top):
        files += len(names)
        wheels += len(fnmatch.filter(names, _WHEEL_GLOB))
        for name in names:
            path = os.path.join(root, name)
            try:
                size += 0 if os.path.islink(path) else os.path.getsize(path)
            except OSError:
                continue  # gone meanwhile: pip would fail, we count it as nothing
    return files, size, wheels
