"""Write large pip caches in pip's exact byte format, for the benchmarks.

Each project gets a PEP 691 JSON index page (gzip-encoded, ``Vary: Accept,
Accept-Encoding``, as PyPI and ``tests/realpip.py`` send it) listing more files than the
cache holds, like a real page does; each cached release a wheel (a real zip with a
dist-info, log-normal size) and its PEP 658 ``.metadata``, sometimes an sdist (a real
tar.gz with ``PKG-INFO``), and sometimes only an sdist with the wheel pip built from it in
``wheels/`` (plus ``origin.json``). URLs are PyPI's: pages at
``https://pypi.org/simple/<project>/``, files at
``https://files.pythonhosted.org/packages/..``; entries sit at pip's sha224 paths.

Layouts: ``http-v2`` (pip >= 23.3: metadata with ``body=b""`` and no ``strict``, body in
``<key>.body``), ``http`` (pip <= 23.2, cachecontrol 0.12: the body inline, ``strict: 0``)
and ``mixed`` (entries fetched before a cut-off date in ``http/``, later ones in
``http-v2/``; a page in each dir its project has entries in).

Deterministic: the same options give the same bytes, whatever the number of worker
processes. ``python benchmarks/generate.py DEST --entries 20000 --layout http-v2``.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import re
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args

import msgpack

Layout = Literal["http-v2", "http", "mixed"]
EntryKind = Literal["wheel", "sdist", "metadata", "index"]
Source = Literal["http-v2", "http", "wheels"]
LAYOUTS: Final[tuple[Layout, ...]] = get_args(Layout)

INDEX_URL: Final = "https://pypi.org/simple/"
FILES_URL: Final = "https://files.pythonhosted.org/packages/"
#: A fixed "now" keeps the bytes (Date headers, mtimes) the same from run to run.
DEFAULT_NOW: Final = 1767225600  # 2026-01-01T00:00:00Z
SPAN: Final = 2 * 365 * 86400  # entries were fetched over the two years before "now"
FILE_CACHE_CONTROL: Final = "max-age=365000000, immutable, public"
PAGE_CACHE_CONTROL: Final = "max-age=600, public"
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
# What pip sends, so what cachecontrol stores in "vary" for a page.
PIP_ACCEPT: Final = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
PIP_ACCEPT_ENCODING: Final = "gzip, deflate"
_CC_PREFIX: Final = b"cc=4,"
_ZIP_DATE: Final = (2024, 1, 1, 0, 0, 0)
_POOL_SIZE: Final = 4 << 20
_SYLLABLES: Final = ("ba", "ko", "ri", "tu", "ne", "sa", "mo", "li", "pa", "ve", "da", "zu")
_SUFFIXES: Final = ("", "", "", "utils", "core", "py", "lib", "client", "tools", "plugin")
_WHEEL_TAGS: Final = (
    ("py3-none-any", "py3"),
    ("py3-none-any", "py3"),
    ("py3-none-any", "py3"),
    ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp311"),
    ("cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp312"),
    ("cp311-cp311-win_amd64", "cp311"),
    ("cp312-cp312-macosx_11_0_arm64", "cp312"),
)


@dataclass(frozen=True, slots=True)
class Options:
    """What to generate. Sizes are bytes; wheel/sdist sizes are log-normal."""

    entries: int
    layout: Layout = "http-v2"
    seed: int = 0
    now: int = DEFAULT_NOW
    median_size: int = 20_000  # wheels; sdists are about the same
    sigma: float = 1.3  # of the log-normal: a long tail (1.3: p99 ~ 20x the median)
    max_size: int = 16 << 20
    orphan_ratio: float = 0.02  # projects whose page is not cached (entries get sniffed)
    workers: int = 0  # 0: one per CPU


@dataclass(frozen=True, slots=True)
class GenEntry:
    """One generated entry and what it holds (what identification should find)."""

    source: Source
    relpath: str  # the entry's main file, relative to the cache dir
    kind: EntryKind
    project: str
    version: str | None
    filename: str | None
    url: str | None
    size: int  # bytes of all its files
    time: int  # Date header, mtime and atime
    listed: bool = True  # a cached index page lists it (else its URL cannot be recovered)


@dataclass(slots=True)
class Result:
    path: Path
    options: Options
    entries: list[GenEntry] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries)

    def counts(self) -> Counter[str]:
        return Counter(f"{e.source}:{e.kind}" for e in self.entries)

    def projects(self) -> Counter[str]:
        return Counter(e.project for e in self.entries)


# -- plan: cheap, sequential, decides everything random but the bytes -----------------------


@dataclass(frozen=True, slots=True)
class _Release:
    version: str
    wheel: bool
    sdist: bool
    built: bool  # sdist only, and pip built a wheel from it (wheels/)
    tag: int  # index into _WHEEL_TAGS
    time: int
    source: Literal["http-v2", "http"]

    @property
    def entries(self) -> int:
        return 2 * self.wheel + self.sdist + self.built


@dataclass(frozen=True, slots=True)
class _Project:
    index: int
    name: str  # as in METADATA's Name
    releases: tuple[_Release, ...]
    page: bool
    listed: int  # files the page lists beyond the cached ones
    seed: int

    @property
    def project(self) -> str:
        return normalize(self.name)

    def page_sources(self) -> list[tuple[Literal["http-v2", "http"], int]]:
        """Each dir with a page, and when it was fetched: with the newest release there."""
        if not self.page:
            return []
        newest: dict[Literal["http-v2", "http"], int] = {}
        for rel in self.releases:
            newest[rel.source] = max(newest.get(rel.source, 0), rel.time)
        return sorted(newest.items())

    @property
    def entries(self) -> int:
        return len(self.page_sources()) + sum(r.entries for r in self.releases)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _escape(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _name(index: int, rng: random.Random) -> str:
    word = ""
    n = index
    while True:
        word += _SYLLABLES[n % len(_SYLLABLES)]
        n //= len(_SYLLABLES)
        if n == 0:
            break
    suffix = rng.choice(_SUFFIXES)
    style = rng.random()
    if not suffix:
        return word.capitalize() if style < 0.2 else word
    if style < 0.4:
        return f"{word}-{suffix}"
    if style < 0.6:
        return f"{word}_{suffix}"
    if style < 0.75:
        return word.capitalize() + suffix.capitalize()
    if style < 0.85:
        return f"{word}.{suffix}"
    return f"{word.capitalize()}-{suffix.capitalize()}"


def _versions(rng: random.Random, count: int) -> list[str]:
    major, minor, patch = rng.randrange(0, 4), rng.randrange(0, 20), 0
    out = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.6:
            patch += 1
        elif roll < 0.9:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
        version = f"{major}.{minor}.{patch}"
        extra = rng.random()
        if extra < 0.05:
            version += f"rc{rng.randrange(1, 4)}"
        elif extra < 0.08:
            version += ".post1"
        out.append(version)
    return out


def _release(rng: random.Random, version: str, options: Options) -> _Release:
    roll = rng.random()
    wheel, sdist, built = True, False, False
    if roll < 0.05:
        wheel, sdist, built = False, True, rng.random() < 0.8
    elif roll < 0.3:
        sdist = True
    when = options.now - rng.randrange(SPAN)
    source: Literal["http-v2", "http"] = "http" if options.layout == "http" else "http-v2"
    if options.layout == "mixed" and when < options.now - SPAN // 2:
        source = "http"  # fetched by a pip before 23.3
    return _Release(version, wheel, sdist, built, rng.randrange(len(_WHEEL_TAGS)), when, source)


def _fit(project: _Project, room: int, spare: list[str]) -> _Project:
    """The project cut or padded to exactly ``room`` entries (the last project only)."""
    releases = list(project.releases)
    page = project.page
    while releases and _Project(0, "", tuple(releases), page, 0, 0).entries > room:
        releases.pop()
    if not releases:
        page = page and room >= 2
        first = project.releases[0]
        releases = [_Release(first.version, False, True, False, 0, first.time, first.source)]
    while _Project(0, "", tuple(releases), page, 0, 0).entries < room:
        last = releases[-1]  # an sdist pip did not build: one entry, in a dir with a page
        releases.append(_Release(spare.pop(), False, True, False, 0, last.time, last.source))
    return _Project(
        project.index, project.name, tuple(releases), page, project.listed, project.seed
    )


def plan(options: Options) -> list[_Project]:
    """Projects until exactly ``options.entries`` entries."""
    rng = random.Random(options.seed)
    projects: list[_Project] = []
    total = 0
    while total < options.entries:
        index = len(projects)
        page = rng.random() >= options.orphan_ratio
        cached = min(1 + int(rng.expovariate(1 / 2.5)), 40)
        listed = min(int(rng.lognormvariate(3.0, 1.2)), 3000)
        versions = _versions(rng, 3 * cached + 50)
        chosen = sorted(rng.sample(range(len(versions) - 50), cached))
        releases = tuple(_release(rng, versions[i], options) for i in chosen)
        name = _name(index, rng)
        project = _Project(index, name, releases, page, listed, rng.getrandbits(64))
        if total + project.entries > options.entries:
            project = _fit(project, options.entries - total, versions[-50:])
        projects.append(project)
        total += project.entries
    return projects


# -- bytes: real distributions and pip's cache records -------------------------------------

_POOL: list[bytes] = []


def _payload(rng: random.Random, size: int) -> bytes:
    """``size`` incompressible bytes, cheaply: a slice of one seeded random pool."""
    if not _POOL:
        _POOL.append(random.Random(0x5EED).randbytes(_POOL_SIZE))
    pool = _POOL[0]
    start = rng.randrange(_POOL_SIZE)
    out = pool[start : start + size]
    while len(out) < size:
        out += pool[: size - len(out)]
    return out


def _size(rng: random.Random, options: Options) -> int:
    drawn = rng.lognormvariate(math.log(options.median_size), options.sigma)
    return max(1024, min(options.max_size, int(drawn)))


_WORDS: Final = (
    "cache",
    "pip",
    "wheel",
    "sdist",
    "page",
    "metadata",
    "project",
    "fetch",
    "list",
    "prune",
)


def _metadata(rng: random.Random, name: str, version: str) -> bytes:
    deps = rng.randrange(0, 8)
    words = rng.choices(_WORDS, k=rng.randrange(50, 1200))
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {name} does things, version {version}",
        "Home-page: https://example.org/" + normalize(name),
        "Author-email: Someone <someone@example.org>",
        "License: MIT",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: License :: OSI Approved :: MIT License",
        "Requires-Python: >=3.8",
        *(f"Requires-Dist: dep{rng.randrange(1000)}>={rng.randrange(1, 9)}.0" for _ in range(deps)),
        "Description-Content-Type: text/markdown",
    ]
    return ("\n".join(lines) + "\n\n" + " ".join(words) + "\n").encode()


def _record_hash(data: bytes) -> str:
    import base64

    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def _wheel(rng: random.Random, name: str, version: str, tag: str, size: int, meta: bytes) -> bytes:
    module = _escape(name)
    dist_info = f"{module}-{version}.dist-info"
    wheel = f"Wheel-Version: 1.0\nGenerator: bench (1.0)\nRoot-Is-Purelib: true\nTag: {tag}\n\n"
    members = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{module}/_payload.bin": _payload(rng, size),
        f"{dist_info}/METADATA": meta,
        f"{dist_info}/WHEEL": wheel.encode(),
    }
    record = [f"{arc},{_record_hash(data)},{len(data)}" for arc, data in members.items()]
    members[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            # The payload is random: deflating it would only cost time.
            info.compress_type = zipfile.ZIP_STORED if arcname.endswith(".bin") else 8
            zf.writestr(info, data)
    return out.getvalue()


def _sdist(rng: random.Random, base: str, size: int, meta: bytes) -> bytes:
    module = base.rsplit("-", 1)[0].replace("-", "_").replace(".", "_").lower()
    members = {
        f"{base}/PKG-INFO": meta,
        f"{base}/pyproject.toml": b'[build-system]\nrequires = ["setuptools"]\n',
        f"{base}/{module}/__init__.py": b"",
        f"{base}/{module}/_payload.bin": _payload(rng, size),
    }
    out = io.BytesIO()
    with (
        gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), 1704067200, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _http_date(when: float) -> str:
    return email.utils.formatdate(when, usegmt=True)


def _fastly(rng: random.Random, when: int) -> list[tuple[str, str]]:
    """The CDN headers every PyPI response carries (they make metadata files ~1 kB)."""
    pop = rng.choice(("IAD", "FRA", "AMS", "SJC", "NRT"))
    return [
        ("Date", _http_date(when)),
        ("Age", str(rng.randrange(0, 86400))),
        ("X-Served-By", f"cache-iad-kiad7000{rng.randrange(100, 999)}-IAD, cache-{pop.lower()}"
                        f"-e{rng.randrange(1000, 9999)}-{pop}"),
        ("X-Cache", "HIT, HIT"),
        ("X-Cache-Hits", f"{rng.randrange(1, 500)}, {rng.randrange(0, 50)}"),
        ("X-Timer", f"S{when}.{rng.randrange(10**6):06d},VS0,VE1"),
        ("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload"),
        ("X-Frame-Options", "deny"),
        ("X-XSS-Protection", "1; mode=block"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Permitted-Cross-Domain-Policies", "none"),
    ]  # fmt: skip


def _file_headers(
    rng: random.Random, body: bytes, when: int, project: str, version: str, kind: str, py: str
) -> dict[str, str]:
    headers = [
        ("Connection", "keep-alive"),
        ("Content-Length", str(len(body))),
        ("Last-Modified", _http_date(when - rng.randrange(SPAN))),
        ("ETag", f'"{hashlib.md5(body).hexdigest()}"'),
        ("Content-Type", "application/octet-stream"),
        ("Cache-Control", FILE_CACHE_CONTROL),
        ("Accept-Ranges", "bytes"),
        *_fastly(rng, when),
        ("x-pypi-file-python-version", py),
        ("x-pypi-file-version", version),
        ("x-pypi-file-package-type", kind),
        ("x-pypi-file-project", project),
    ]
    return dict(headers)


def _page_headers(rng: random.Random, body: bytes, when: int, serial: int) -> dict[str, str]:
    headers = [
        ("Connection", "keep-alive"),
        ("Content-Length", str(len(body))),
        ("Content-Type", JSON_TYPE),
        ("Cache-Control", PAGE_CACHE_CONTROL),
        ("Content-Encoding", "gzip"),
        ("ETag", f'"{hashlib.md5(body).hexdigest()}"'),
        ("Vary", "Accept, Accept-Encoding"),
        ("X-PyPI-Last-Serial", str(serial)),
        ("Accept-Ranges", "bytes"),
        *_fastly(rng, when),
    ]
    return dict(headers)


def record_bytes(
    source: Literal["http-v2", "http"],
    body: bytes,
    headers: dict[str, str],
    vary: dict[str, str | None],
) -> bytes:
    """What pip writes: http-v2 metadata (no body, no ``strict``) or a whole legacy entry
    (cachecontrol 0.12: ``body`` first, ``strict: 0``)."""
    response: dict[str, object] = {"body": body if source == "http" else b"", "headers": headers}
    response.update(status=200, version=11, reason="OK")
    if source == "http":
        response["strict"] = 0
    response["decode_content"] = False
    packed: bytes = msgpack.packb({"response": response, "vary": vary}, use_bin_type=True)
    return _CC_PREFIX + packed


def key_relpath(url: str) -> str:
    h = hashlib.sha224(url.encode()).hexdigest()
    return "/".join((*h[:5], h))


def file_url(filename: str, data: bytes | None, seed: int) -> str:
    """A files.pythonhosted.org URL: ``packages/<blake2b-256 of the file, split>/<name>``."""
    source = data if data is not None else f"{seed}:{filename}".encode()
    b2 = hashlib.blake2b(source, digest_size=32).hexdigest()
    return f"{FILES_URL}{b2[:2]}/{b2[2:4]}/{b2[4:]}/{filename}"


# -- writing -----------------------------------------------------------------------------------

_MODES: Final[dict[str, int]] = {"http": 0o600, "http-v2": 0o644, "wheels": 0o644}


class _Writer:
    """os-level writes; remembers the directories it made."""

    def __init__(self, root: Path) -> None:
        self.root = os.fspath(root)
        self._dirs: set[str] = set()

    def put(self, relpath: str, data: bytes, mode: int, when: int) -> None:
        path = os.path.join(self.root, relpath)
        parent = os.path.dirname(path)
        if parent not in self._dirs:
            os.makedirs(parent, exist_ok=True)
            self._dirs.add(parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.utime(path, (when, when))

    def http(
        self,
        source: Literal["http-v2", "http"],
        url: str,
        body: bytes,
        headers: dict[str, str],
        vary: dict[str, str | None],
        when: int,
    ) -> tuple[str, int]:
        """Write one HTTP entry the way pip does (body first); (relpath, bytes)."""
        relpath = f"{source}/{key_relpath(url)}"
        meta = record_bytes(source, body, headers, vary)
        if source == "http-v2":
            self.put(relpath + ".body", body, _MODES[source], when)
            self.put(relpath, meta, _MODES[source], when)
            return relpath, len(meta) + len(body)
        self.put(relpath, meta, _MODES[source], when)
        return relpath, len(meta)


@dataclass(frozen=True, slots=True)
class _Listed:
    filename: str
    url: str
    sha256: str
    size: int
    metadata_sha256: str | None
    upload: int


def _write_project(writer: _Writer, p: _Project, options: Options) -> list[GenEntry]:
    rng = random.Random(p.seed)
    out: list[GenEntry] = []
    listed: list[_Listed] = []
    for rel in p.releases:
        out += _write_release(writer, rng, p, rel, options, listed)
    listed += _extra_files(rng, p, {rel.version for rel in p.releases}, options)
    for source, when in p.page_sources():
        out.append(_write_page(writer, rng, p, listed, source, when))
    return out


def _write_release(
    writer: _Writer,
    rng: random.Random,
    p: _Project,
    rel: _Release,
    options: Options,
    listed: list[_Listed],
) -> list[GenEntry]:
    out: list[GenEntry] = []
    meta = _metadata(rng, p.name, rel.version)
    upload = rel.time - rng.randrange(SPAN // 4)

    def cache_file(
        filename: str, data: bytes, kind: EntryKind, py: str, when: int, url: str | None = None
    ) -> str:
        url = url or file_url(filename, data, p.seed)
        pypi_kind = "sdist" if kind == "sdist" else "bdist_wheel"
        headers = _file_headers(rng, data, when, p.project, rel.version, pypi_kind, py)
        relpath, size = writer.http(rel.source, url, data, headers, {}, when)
        out.append(
            GenEntry(
                rel.source, relpath, kind, p.project, rel.version, filename, url, size, when,
                p.page,
            )
        )  # fmt: skip
        return url

    if rel.wheel:
        tag, py = _WHEEL_TAGS[rel.tag]
        filename = f"{_escape(p.name)}-{rel.version}-{tag}.whl"
        data = _wheel(rng, p.name, rel.version, tag, _size(rng, options), meta)
        url = cache_file(filename, data, "wheel", py, rel.time)
        cache_file(filename + ".metadata", meta, "metadata", py, rel.time + 1, url + ".metadata")
        listed.append(_Listed(filename, url, _sha(data), len(data), _sha(meta), upload))
    if rel.sdist:
        plain = rng.random() < 0.7 or "_" in p.name  # PEP 625 name, or the old style
        base = f"{_escape(p.name) if plain else p.name}-{rel.version}"
        data = _sdist(rng, base, _size(rng, options), meta)
        url = cache_file(base + ".tar.gz", data, "sdist", "source", rel.time + 2)
        listed.append(_Listed(base + ".tar.gz", url, _sha(data), len(data), None, upload))
        if rel.built:
            out.append(_write_built(writer, rng, p, rel, url, _sha(data), meta))
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_built(
    writer: _Writer,
    rng: random.Random,
    p: _Project,
    rel: _Release,
    sdist_url: str,
    sdist_sha: str,
    meta: bytes,
) -> GenEntry:
    """pip's ``wheels/`` entry for a wheel built from ``sdist_url``, with ``origin.json``."""
    parts = {
        "url": sdist_url,
        "sha256": sdist_sha,
        "interpreter_name": "cp",
        "interpreter_version": "311",
    }
    key = hashlib.sha224(
        json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    directory = f"wheels/{key[:2]}/{key[2:4]}/{key[4:6]}/{key[6:]}"
    filename = f"{_escape(p.name)}-{rel.version}-py3-none-any.whl"
    data = _wheel(rng, p.name, rel.version, "py3-none-any", 4096, meta)
    origin = {
        "archive_info": {"hash": f"sha256={sdist_sha}", "hashes": {"sha256": sdist_sha}},
        "url": sdist_url,
    }
    origin_bytes = json.dumps(origin).encode()
    when = rel.time + 30
    writer.put(f"{directory}/{filename}", data, _MODES["wheels"], when)
    writer.put(f"{directory}/origin.json", origin_bytes, _MODES["wheels"], when)
    size = len(data) + len(origin_bytes)
    relpath = f"{directory}/{filename}"
    return GenEntry(
        "wheels", relpath, "wheel", p.project, rel.version, filename, sdist_url, size, when
    )


def _extra_files(
    rng: random.Random, p: _Project, cached: set[str], options: Options
) -> list[_Listed]:
    """Files of releases the cache does not hold: a real page lists every release."""
    out: list[_Listed] = []
    n = 0
    while len(out) < p.listed:
        version = f"0.{n // 3}.{n % 3}"
        n += 1
        if version in cached:
            continue
        tag = _WHEEL_TAGS[rng.randrange(len(_WHEEL_TAGS))][0]
        for filename in (
            f"{_escape(p.name)}-{version}-{tag}.whl",
            f"{_escape(p.name)}-{version}.tar.gz",
        ):
            size = _size(rng, options)
            meta_sha = _sha(filename.encode()) if filename.endswith(".whl") else None
            upload = rng.randrange(SPAN)
            out.append(
                _Listed(filename, file_url(filename, None, p.seed), _sha(filename.encode() + b"!"),
                        size, meta_sha, DEFAULT_NOW - 3 * SPAN + upload)
            )  # fmt: skip
    return out[: p.listed]


def _iso(when: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(when))


def page_json(project: str, files: Sequence[_Listed], serial: int) -> bytes:
    """A PEP 691 project page as PyPI serves it (keys in PyPI's order)."""
    entries = []
    for f in sorted(files, key=lambda f: f.filename):
        meta: dict[str, str] | bool = (
            {"sha256": f.metadata_sha256} if f.metadata_sha256 is not None else False
        )
        entries.append(
            {
                "core-metadata": meta,
                "data-dist-info-metadata": meta,
                "filename": f.filename,
                "hashes": {"sha256": f.sha256},
                "provenance": None,
                "requires-python": ">=3.8",
                "size": f.size,
                "upload-time": _iso(f.upload),
                "url": f.url,
                "yanked": False,
            }
        )
    versions = sorted({_version_of(f.filename) for f in files})
    doc = {
        "alternate-locations": [],
        "files": entries,
        "meta": {"_last-serial": serial, "api-version": "1.3"},
        "name": project,
        "project-status": {"status": "active"},
        "versions": versions,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _version_of(filename: str) -> str:
    stem = filename.removesuffix(".tar.gz").removesuffix(".whl")
    return stem.split("-")[1] if filename.endswith(".whl") else stem.rsplit("-", 1)[1]


def _write_page(
    writer: _Writer,
    rng: random.Random,
    p: _Project,
    listed: Sequence[_Listed],
    source: Literal["http-v2", "http"],
    when: int,
) -> GenEntry:
    serial = rng.randrange(10**6, 3 * 10**7)
    body = gzip.compress(page_json(p.project, listed, serial), mtime=0)
    url = f"{INDEX_URL}{p.project}/"
    headers = _page_headers(rng, body, when, serial)
    vary: dict[str, str | None] = {"Accept": PIP_ACCEPT, "Accept-Encoding": PIP_ACCEPT_ENCODING}
    relpath, size = writer.http(source, url, body, headers, vary, when)
    return GenEntry(source, relpath, "index", p.project, None, None, url, size, when)


# -- driver ------------------------------------------------------------------------------------

_CHUNK: Final = 64  # projects per task


def _work(args: tuple[str, Options, list[_Project]]) -> list[GenEntry]:
    root, options, projects = args
    writer = _Writer(Path(root))
    out: list[GenEntry] = []
    for project in projects:
        out += _write_project(writer, project, options)
    return out


def generate(dest: Path, options: Options) -> Result:
    """Write a cache into ``dest`` (created; must be empty or missing)."""
    start = time.perf_counter()
    dest.mkdir(parents=True, exist_ok=True)
    if any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    projects = plan(options)
    tasks = [
        (os.fspath(dest), options, projects[i : i + _CHUNK])
        for i in range(0, len(projects), _CHUNK)
    ]
    workers = options.workers or os.cpu_count() or 1
    result = Result(dest, options)
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            result.entries += _work(task)
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for chunk in pool.imap(_work, tasks):
                result.entries += chunk
    result.seconds = time.perf_counter() - start
    return result


def write_manifest(result: Result, path: Path) -> None:
    """The expected entries as JSON (one object per entry), for checks by other tools."""
    rows = [
        {f: getattr(e, f) for f in GenEntry.__dataclass_fields__}  # keep dataclass order
        for e in result.entries
    ]
    path.write_text(json.dumps({"entries": rows}, indent=0) + "\n")


def summary(result: Result) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts().items()))
    return (
        f"{len(result.entries)} entries, {result.bytes / 1e6:.1f} MB, "
        f"{len(result.projects())} projects in {result.seconds:.1f}s ({counts})"
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="cache dir to create (must be empty)")
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--layout", choices=LAYOUTS, default="http-v2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--median-size", type=int, default=20_000, help="of wheels, in bytes")
    parser.add_argument("--sigma", type=float, default=1.3, help="log-normal spread of sizes")
    parser.add_argument("--max-size", type=int, default=16 << 20)
    parser.add_argument("--orphans", type=float, default=0.02, help="share of pages not cached")
    parser.add_argument("--workers", type=int, default=0, help="processes (0: one per CPU)")
    parser.add_argument("--manifest", type=Path, help="also write the expected entries here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    options = Options(
        entries=args.entries,
        layout=args.layout,
        seed=args.seed,
        median_size=args.median_size,
        sigma=args.sigma,
        max_size=args.max_size,
        orphan_ratio=args.orphans,
        workers=args.workers,
    )
    result = generate(args.dest, options)
    if args.manifest is not None:
        write_manifest(result, args.manifest)
    print(summary(result))
    return 0


def by_relpath(entries: Iterable[GenEntry]) -> dict[str, GenEntry]:
    return {e.relpath: e for e in entries}


if __name__ == "__main__":
    raise SystemExit(main())
