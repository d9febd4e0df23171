"""The floor for ``list``: the least work any tool must do to know a cache's entries.

One ``os.scandir`` walk of ``http-v2/``, ``http/`` and ``wheels/`` that ``lstat``s every
file and reads every metadata file: http-v2 metadata whole; in a legacy ``http/`` file the
bytes before and after the inline body (the headers), found from the msgpack ``bin``
header, never the body; each ``origin.json``. Nothing is parsed beyond that. Files are
opened with ``O_NOATIME`` so the walk leaves "last used" times alone, like our tool does.

``python benchmarks/floor.py CACHE_DIR`` prints what it saw.
"""

from __future__ import annotations

import os
import sys

_NOATIME = getattr(os, "O_NOATIME", 0)
_HEAD = 64
_BIN_WIDTH = {0xC4: 1, 0xC5: 2, 0xC6: 4}  # msgpack bin8/16/32


def _read(path: str, legacy: bool) -> int:
    fd = os.open(path, os.O_RDONLY | _NOATIME)
    try:
        if not legacy:
            return sum(len(chunk) for chunk in iter(lambda: os.read(fd, 1 << 16), b""))
        head = os.read(fd, _HEAD)
        at = head.find(b"\xa4body") + 5  # "body" key, then the bin header of the body
        width = _BIN_WIDTH.get(head[at], 0) if 0 < at < len(head) else 0
        if not width:
            return len(head)
        end = at + 1 + width + int.from_bytes(head[at + 1 : at + 1 + width], "big")
        os.lseek(fd, end, os.SEEK_SET)
        return len(head) + sum(len(c) for c in iter(lambda: os.read(fd, 1 << 16), b""))
    finally:
        os.close(fd)


def walk(directory: str, source: str, counts: dict[str, int]) -> None:
    try:
        it = os.scandir(directory)
    except FileNotFoundError:
        return
    with it:
        for entry in it:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, source, counts)
                continue
            counts["bytes"] += entry.stat(follow_symlinks=False).st_size
            counts["files"] += 1
            name = entry.name
            if source == "wheels":
                if name == "origin.json":
                    counts["read"] += _read(entry.path, legacy=False)
            elif not name.endswith((".body", ".tmp")):
                counts["read"] += _read(entry.path, legacy=source == "http")


def main(argv: list[str]) -> int:
    cache = argv[1]
    counts = {"files": 0, "bytes": 0, "read": 0}
    for source in ("http-v2", "http", "wheels"):
        walk(os.path.join(cache, source), source, counts)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
