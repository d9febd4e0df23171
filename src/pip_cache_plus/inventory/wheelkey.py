"""The URL of a built wheel that has no ``origin.json`` (pips before 23.0), proven by
the name of its directory.

pip keeps a wheel it built under ``wheels/h[:2]/h[2:4]/h[4:6]/h[6:]/`` where ``h`` is the
sha224 of a JSON dict of the link it built from: its URL (no fragment), its hash as the
page gave it, the interpreter's name and ``X.Y`` without the dot (pip's
``Cache._get_cache_path_parts``). So the sdists whose URL is known are candidates, and
one counts only when a dict built from it gives that very ``h``: proof, never a guess.
Pure: entries in, entries out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace

from ..model import CacheEntry, Naming

__all__ = ["prove_built_origins", "wheel_dir_hash"]

_PROVEN = Naming("file")
# What pip's packaging says of the interpreters that run pip (short names as
# packaging's INTERPRETER_SHORT_NAMES give them; the rest keep their own name).
_INTERPRETERS = ("cp", "pp", "graalpy")
_VERSIONS = ("27", *(f"3{minor}" for minor in range(6, 20)))
_HEX = frozenset("0123456789abcdef")


def wheel_dir_hash(
    url: str, interpreter: tuple[str, str], hash_name: str | None = None, digest: str = ""
) -> str:
    """The ``h`` pip files a wheel built from ``url`` under (see the module doc)."""
    parts = {"url": url.partition("#")[0]}
    if hash_name is not None:
        parts[hash_name] = digest
    parts["interpreter_name"], parts["interpreter_version"] = interpreter
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha224(text.encode("ascii")).hexdigest()


def _dir_hash(entry: CacheEntry) -> str | None:
    """``h`` from the four directories above the wheel, when they spell one."""
    joined = "".join(entry.raw.path.parts[-5:-1])
    return joined if len(joined) == 56 and set(joined) <= _HEX else None


_Source = tuple[str, str | None]  # an sdist's URL, and its sha256 as its page gave it


def _variants(sha256: str | None) -> Iterator[tuple[str | None, str]]:
    yield None, ""  # a link with no hash
    if sha256 is not None:
        yield "sha256", sha256


def _proven(wheel: CacheEntry, sources: Sequence[_Source]) -> str | None:
    wanted = _dir_hash(wheel)
    if wanted is None:
        return None
    for url, sha256 in sources:
        for hash_name, digest in _variants(sha256):
            for name in _INTERPRETERS:
                for version in _VERSIONS:
                    if wheel_dir_hash(url, (name, version), hash_name, digest) == wanted:
                        return url
    return None


def prove_built_origins(answers: list[CacheEntry]) -> None:
    """Give each built wheel without ``origin.json`` (``url_unknown == "no-origin"``) the
    URL of the sdist (same project and version, URL known) it was provably built from;
    in place. Costs nothing when no such wheel is there."""
    orphans = [i for i, e in enumerate(answers) if e.naming.url_unknown == "no-origin"]
    if not orphans:
        return
    sources: dict[tuple[str | None, str | None], list[_Source]] = {}
    for entry in answers:
        if entry.kind == "sdist" and entry.url is not None:
            sources.setdefault((entry.project, entry.version), []).append((entry.url, entry.sha256))
    for i in orphans:
        wheel = answers[i]
        url = _proven(wheel, sources.get((wheel.project, wheel.version), ()))
        if url is not None:
            answers[i] = replace(wheel, url=url, naming=_PROVEN)
