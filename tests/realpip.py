"""Real pip caches for tests, written by real pip versions through a loopback index.

Four parts, no pytest in here (``conftest.py`` wraps them in fixtures):

- :func:`build_packages` writes small, valid distributions built by hand (deterministic,
  no network) and returns a :class:`PackageFile` for each.
- :class:`IndexServer` serves them like PyPI does: PEP 691 JSON or PEP 503 HTML pages
  (gzip when asked), files at absolute ``/files/<filename>`` URLs with PEP 658/714
  ``.metadata``, and PyPI's cache headers; it logs every request (:class:`RequestRecord`).
- :func:`get_pip` returns a :class:`PipRunner` for a pip version installed in a venv that
  is made once and reused (``$PCP_PIP_VENVS`` or ``tests/.pips/<python-tag>/<version>/``);
  ``"latest"`` is resolved to a concrete version. Runs are ``--isolated``, with every
  ``PIP_*`` variable dropped and ``PIP_CONFIG_FILE=os.devnull`` so no config file loads.
- :func:`build_cache` fills a cache dir (``legacy``: pip 23.2.1, ``v2``: current pip,
  ``mixed``: both) and checks it is not empty; it returns a :class:`BuiltCache`.

Each pip run is tagged through ``PIP_USER_AGENT_USER_DATA``; the server reads the tag and
the pip version back from the User-Agent, so requests are attributed exactly even when
several pips talk to one server at once.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import gzip
import hashlib
import html
import io
import itertools
import json
import os
import platform
import re
import shutil
import socket
import ssl
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Final, Literal
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "CACHE_KINDS",
    "DOWNLOAD_REQUIREMENTS",
    "LEGACY_PIP",
    "OLDEST_PIP",
    "BuiltCache",
    "CacheBuildError",
    "CacheKind",
    "IndexServer",
    "PackageFile",
    "PackageKind",
    "PipRunError",
    "PipRunner",
    "RequestKind",
    "RequestRecord",
    "TLSCert",
    "TLSUnavailable",
    "build_cache",
    "build_packages",
    "cache_entry_path",
    "check_cache",
    "copy_cache",
    "fill_cache",
    "get_pip",
    "http_dir_for",
    "make_tls_cert",
    "new_tag",
    "normalize",
    "platform_tags",
    "python_tag",
    "resolve_latest_pip",
    "scrubbed_env",
    "venvs_root",
    "writes_origin",
]

PackageKind = Literal["wheel", "sdist"]
RequestKind = Literal["page", "file", "metadata", "other"]
CacheKind = Literal["legacy", "v2", "mixed"]
PageFormat = Literal["auto", "json", "html", "dirlisting"]
FileLayout = Literal["files", "pypiserver", "warehouse", "devpi"]

CACHE_KINDS: Final[tuple[CacheKind, ...]] = ("legacy", "v2", "mixed")
LEGACY_PIP: Final = "23.2.1"
"""The last pip that writes the legacy ``http/`` dir (23.3 moved to ``http-v2/``)."""
OLDEST_PIP: Final = "21.3"
"""The oldest pip the identification tests fill caches with (``http/`` too, no PEP 658,
no PEP 691, no ``origin.json``)."""

REQUIRES_PYTHON: Final = ">=3.8"
_FIXED_MTIME: Final = 1704067200  # 2024-01-01T00:00:00Z, inside every archive
_ZIP_DATE: Final = (2024, 1, 1, 0, 0, 0)
_LAST_MODIFIED: Final = email.utils.formatdate(_FIXED_MTIME, usegmt=True)
_UPLOAD_TIME: Final = "2024-01-01T00:00:00.000000Z"
_BACKEND_MODULE: Final = "pcp_backend"

FILE_CACHE_CONTROL: Final = "max-age=365000000, immutable, public"
PAGE_CACHE_CONTROL: Final = "max-age=600, public"
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
HTML_TYPE: Final = "application/vnd.pypi.simple.v1+html"


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _escape(name: str) -> str:
    """Wheel/dist-info escaped name (binary distribution format spec)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Package synthesis


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One distribution file written by :func:`build_packages`."""

    filename: str
    project: str  # PEP 503 normalized
    name: str  # as in METADATA's Name
    version: str
    kind: PackageKind
    path: Path
    sha256: str
    size: int
    python_version: str  # PyPI's python_version: "py3", "cp311", "source"
    core_metadata: bytes | None = None  # PEP 658 metadata, wheels only

    @property
    def metadata_sha256(self) -> str | None:
        return None if self.core_metadata is None else _sha256(self.core_metadata)

    @property
    def package_type(self) -> str:
        """PyPI's packagetype (``x-pypi-file-package-type``)."""
        return "bdist_wheel" if self.kind == "wheel" else "sdist"


def _metadata(name: str, version: str, requires: Sequence[str] = ()) -> bytes:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {name} {version}, a pip_cache_plus test distribution",
        f"Requires-Python: {REQUIRES_PYTHON}",
        *(f"Requires-Dist: {req}" for req in requires),
    ]
    return ("\n".join(lines) + "\n\n").encode()


def _module(version: str) -> bytes:
    return f'"""A pip_cache_plus test module."""\n\n__version__ = "{version}"\n'.encode()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def _zip_bytes(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for arcname, data in files.items():
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out.getvalue()


def _tar_gz_bytes(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with (
        gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for arcname in sorted(files):
            info = tarfile.TarInfo(arcname)
            info.size = len(files[arcname])
            info.mtime = _FIXED_MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[arcname]))
    return out.getvalue()


def _wheel_bytes(
    name: str,
    version: str,
    modules: Mapping[str, bytes],
    metadata: bytes,
    tags: Sequence[str],
    *,
    purelib: bool,
) -> bytes:
    dist_info = f"{_escape(name)}-{version}.dist-info"
    wheel = [
        "Wheel-Version: 1.0",
        "Generator: pip_cache_plus-tests (1.0)",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        *(f"Tag: {tag}" for tag in tags),
    ]
    files = {
        **modules,
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": ("\n".join(wheel) + "\n\n").encode(),
    }
    record = [f"{arc},{_record_hash(data)},{len(data)}" for arc, data in files.items()]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return _zip_bytes(files)


# An in-tree PEP 517 backend (stdlib only) so pip builds our sdists with build
# isolation, `requires = []` and no network. Its wheel holds every top-level *.py
# file except itself, and PKG-INFO as METADATA.
_BACKEND_SOURCE: Final = r'''"""In-tree PEP 517 backend of the test sdists: stdlib only."""

import base64
import hashlib
import os
import re
import tarfile
import zipfile
from email.parser import Parser

_ROOT = os.path.dirname(os.path.abspath(__file__))
_SELF = os.path.basename(__file__)
_TAG = "py3-none-any"
_DATE = (2024, 1, 1, 0, 0, 0)


def _escape(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def _pkg_info():
    with open(os.path.join(_ROOT, "PKG-INFO"), "rb") as f:
        data = f.read()
    msg = Parser().parsestr(data.decode("utf-8"))
    return data, msg["Name"], msg["Version"]


def _wheel_files():
    data, name, version = _pkg_info()
    dist_info = "{}-{}.dist-info".format(_escape(name), version)
    files = {}
    for fn in sorted(os.listdir(_ROOT)):
        if fn.endswith(".py") and fn != _SELF:
            with open(os.path.join(_ROOT, fn), "rb") as f:
                files[fn] = f.read()
    files[dist_info + "/METADATA"] = data
    files[dist_info + "/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: pcp_backend (1.0)\n"
        "Root-Is-Purelib: true\nTag: " + _TAG + "\n\n"
    ).encode()
    return name, version, dist_info, files


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _, _, dist_info, files = _wheel_files()
    for arcname, data in files.items():
        if arcname.startswith(dist_info + "/"):
            path = os.path.join(metadata_directory, *arcname.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, dist_info, files = _wheel_files()
    record = ""
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record += "{},sha256={},{}\n".format(arcname, digest.decode(), len(data))
    files[dist_info + "/RECORD"] = (record + dist_info + "/RECORD,,\n").encode()
    filename = "{}-{}-{}.whl".format(_escape(name), version, _TAG)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for arcname, data in files.items():
            info = zipfile.ZipInfo(arcname, date_time=_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    _, name, version = _pkg_info()
    base = "{}-{}".format(_escape(name), version)
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as tar:
        for fn in sorted(os.listdir(_ROOT)):
            if os.path.isfile(os.path.join(_ROOT, fn)):
                tar.add(os.path.join(_ROOT, fn), arcname=base + "/" + fn)
    return base + ".tar.gz"
'''

_PYPROJECT: Final = f"""[build-system]
requires = []
build-backend = "{_BACKEND_MODULE}"
backend-path = ["."]
""".encode()


def _sdist_bytes(name: str, version: str, module: str, requires: Sequence[str] = ()) -> bytes:
    base = f"{_escape(name)}-{version}"
    files = {
        f"{base}/PKG-INFO": _metadata(name, version, requires),
        f"{base}/pyproject.toml": _PYPROJECT,
        f"{base}/{_BACKEND_MODULE}.py": _BACKEND_SOURCE.encode(),
        f"{base}/{module}.py": _module(version),
    }
    return _tar_gz_bytes(files)


def platform_tags(python_version: tuple[int, int] | None = None) -> tuple[str, ...]:
    """Wheel tags of a platform wheel installable by this interpreter on this machine.

    On Linux: ``cpXY-cpXY-manylinux_2_17_<arch>`` and ``...-manylinux2014_<arch>``
    (glibc only); elsewhere the interpreter's own platform tag.
    """
    major, minor = python_version or sys.version_info[:2]
    interp = f"cp{major}{minor}"
    if sys.platform.startswith("linux"):
        arch = platform.machine()
        plats = [f"manylinux_2_17_{arch}", f"manylinux2014_{arch}"]
    else:
        plats = [re.sub(r"[-.]", "_", sysconfig.get_platform())]
    return tuple(f"{interp}-{interp}-{plat}" for plat in plats)


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    version: str
    module: str
    requires: tuple[str, ...] = ()
    wheel: bool = True
    sdist: bool = False
    platform: bool = False


_SPECS: Final = (
    _Spec("tiny_pure", "1.0", "tiny_pure"),
    _Spec("tiny_pure", "1.1", "tiny_pure", requires=("dotted.pkg",), sdist=True),
    _Spec("dotted.pkg", "2.0", "dotted_pkg"),
    _Spec("Mixed_Case", "0.2", "mixed_case"),
    _Spec("platpkg", "0.3", "platpkg", platform=True),
    _Spec("sdist_only", "0.5", "sdist_only", wheel=False, sdist=True),
)


def _write(dest: Path, filename: str, data: bytes) -> Path:
    path = dest / filename
    path.write_bytes(data)
    os.utime(path, (_FIXED_MTIME, _FIXED_MTIME))
    return path


def _spec_files(
    spec: _Spec, dest: Path, python_version: tuple[int, int] | None
) -> list[PackageFile]:
    project = normalize(spec.name)
    out: list[PackageFile] = []
    if spec.wheel:
        tags = platform_tags(python_version) if spec.platform else ("py3-none-any",)
        interp, abi = tags[0].split("-")[:2]
        plats = ".".join(tag.split("-")[2] for tag in tags)
        filename = f"{_escape(spec.name)}-{spec.version}-{interp}-{abi}-{plats}.whl"
        metadata = _metadata(spec.name, spec.version, spec.requires)
        modules = {f"{spec.module}.py": _module(spec.version)}
        data = _wheel_bytes(
            spec.name, spec.version, modules, metadata, tags, purelib=not spec.platform
        )
        path = _write(dest, filename, data)
        out.append(
            PackageFile(
                filename, project, spec.name, spec.version, "wheel", path, _sha256(data),
                len(data), interp, metadata,
            )
        )  # fmt: skip
    if spec.sdist:
        filename = f"{_escape(spec.name)}-{spec.version}.tar.gz"
        data = _sdist_bytes(spec.name, spec.version, spec.module, spec.requires)
        path = _write(dest, filename, data)
        out.append(
            PackageFile(
                filename, project, spec.name, spec.version, "sdist", path, _sha256(data),
                len(data), "source",
            )
        )  # fmt: skip
    return out


def build_packages(
    dest: Path, *, python_version: tuple[int, int] | None = None
) -> list[PackageFile]:
    """Write the test distributions into ``dest`` (created if missing).

    ``tiny_pure`` 1.0 and 1.1 (wheels; 1.1 needs ``dotted.pkg``; plus a 1.1 sdist),
    ``dotted.pkg`` 2.0, ``Mixed_Case`` 0.2, ``platpkg`` 0.3 (a platform wheel for
    ``python_version``, default: this interpreter) and ``sdist_only`` 0.5 (sdist only).
    Sdists build with an in-tree backend and no build requirements. Deterministic.
    """
    dest.mkdir(parents=True, exist_ok=True)
    files = [f for spec in _SPECS for f in _spec_files(spec, dest, python_version)]
    return sorted(files, key=lambda f: f.filename)


# --------------------------------------------------------------------------------------
# Loopback index server


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the :class:`IndexServer` answered."""

    seq: int
    method: str
    path: str
    url: str  # absolute, as pip requested it (and keys its cache on)
    kind: RequestKind
    status: int
    accept: str
    accept_encoding: str
    cache_control: str  # of the request
    user_agent: str
    pip_version: str | None  # from the User-Agent
    tag: str | None  # PIP_USER_AGENT_USER_DATA of the pip run
    content_type: str | None
    content_encoding: str | None
    body_sha256: str | None  # of the bytes sent; None when no body was sent
    filename: str | None  # the package file a file/metadata request is for


@dataclass(slots=True)
class _Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    kind: RequestKind = "other"
    filename: str | None = None


def _parse_user_agent(user_agent: str) -> tuple[str | None, str | None]:
    """(pip version, user_data) from pip's ``pip/<version> {json}`` User-Agent."""
    head, _, rest = user_agent.partition(" ")
    version = head.removeprefix("pip/") if head.startswith("pip/") else None
    tag: str | None = None
    with contextlib.suppress(ValueError):
        data = json.loads(rest)
        if isinstance(data, dict) and isinstance(data.get("user_data"), str):
            tag = data["user_data"]
    return version, tag


def _accept_q(accept: str) -> dict[str, float]:
    result: dict[str, float] = {}
    for item in accept.split(","):
        mime, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                with contextlib.suppress(ValueError):
                    q = float(value)
        if mime:
            result[mime.lower()] = max(q, result.get(mime.lower(), 0.0))
    return result


def _wants_gzip(accept_encoding: str) -> bool:
    q = _accept_q(accept_encoding)
    return q.get("gzip", 0.0) > 0.0


def _etag_matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


class TLSUnavailable(RuntimeError):
    """No way to make a certificate here (no ``openssl`` on PATH)."""


@dataclass(frozen=True, slots=True)
class TLSCert:
    """A self-signed certificate for 127.0.0.1 (its own CA: pip trusts it by ``--cert``)."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_tls_cert(dest: Path, host: str = "127.0.0.1") -> TLSCert:
    """Write ``cert.pem`` and ``key.pem`` into ``dest`` with ``openssl req``: a CA
    certificate whose subjectAltName is ``IP:host`` (what pip's verifier checks for
    an IP-address URL). Raises :class:`TLSUnavailable` when ``openssl`` is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TLSUnavailable("no openssl on PATH to make a self-signed certificate")
    dest.mkdir(parents=True, exist_ok=True)
    cert, key = dest / "cert.pem", dest / "key.pem"
    cmd = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    cmd += ["-subj", f"/CN={host}", "-keyout", os.fspath(key), "-out", os.fspath(cert)]
    cmd += ["-addext", f"subjectAltName=IP:{host}"]
    cmd += ["-addext", "basicConstraints=critical,CA:TRUE"]
    proc = subprocess.run(
        cmd, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise TLSUnavailable(f"openssl req failed ({proc.returncode}): {proc.stderr.strip()}")
    return TLSCert(cert, key)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    index: IndexServer
    tls: ssl.SSLContext | None = None

    def finish_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: object
    ) -> None:
        """The TLS handshake here, in the request's own thread: a client that stalls
        in it does not block ``accept``."""
        if self.tls is None or not isinstance(request, socket.socket):
            super().finish_request(request, client_address)
            return
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up or does not trust us: nothing to answer
        with secure:
            super().finish_request(secure, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _serve(self, *, head: bool) -> None:
        index = self.server.index
        response = index.respond(self.path, {k.lower(): v for k, v in self.headers.items()})
        sent = response.body if not head and response.status != 304 else b""
        # log first: a client that got the response finds it in the log
        index.record(self, response, sent)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if sent:
            self.wfile.write(sent)


class IndexServer:
    """A PyPI-like simple index on 127.0.0.1, in a daemon thread.

    ``page_format``: ``"auto"`` negotiates on Accept like PyPI (pip gets JSON),
    ``"json"``/``"html"`` force one; ``"dirlisting"`` serves each project as a directory
    ``python -m http.server`` lists (a folder of files used as an index: title "Directory
    listing for ...", relative links, files beside the page). ``pypi_headers`` adds
    PyPI's ``x-pypi-file-*``
    headers to files and ``.metadata``. ``gzip_pages`` gzips pages for clients that
    accept it. ``relative_links`` links files as ``../../files/<filename>`` in JSON and
    HTML pages, as devpi, pypiserver and Nexus do (PyPI's links are absolute): only the
    page's own URL resolves them.

    ``layout`` says where files live: ``"files"`` at ``/files/<filename>``;
    ``"pypiserver"`` at ``/packages/<filename>``, linked relatively
    (``../../packages/<filename>``) as pypiserver links them; ``"warehouse"`` at PyPI's
    ``/packages/<b2[:2]>/<b2[2:4]>/<b2[4:]>/<filename>`` (``b2``: the blake2b-256 of the
    file); ``"devpi"`` at devpi's ``/+f/<sha256[:3]>/<sha256[3:16]>/<filename>`` (beside
    ``/simple/``; devpi's own index is ``/<user>/<index>/+simple/``).
    ``page_cache=False`` sends pages and redirects with no cache headers at all (no
    Cache-Control, no ETag), as pypiserver does: pip then caches only the files.
    ``tls``: serve HTTPS with that certificate (``https://`` URLs; pip is then given
    ``--cert`` by :func:`fill_cache`).
    """

    def __init__(
        self,
        packages: Iterable[PackageFile],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_format: PageFormat = "auto",
        pypi_headers: bool = True,
        gzip_pages: bool = True,
        relative_links: bool = False,
        layout: FileLayout = "files",
        page_cache: bool = True,
        tls: TLSCert | None = None,
    ) -> None:
        self.tls = tls
        self.relative_links = relative_links
        self.layout: FileLayout = layout
        self.page_cache = page_cache
        self.packages: tuple[PackageFile, ...] = tuple(packages)
        self._by_filename = {p.filename: p for p in self.packages}
        self._by_path = {urlsplit(self.file_path(p.filename)).path: p for p in self.packages}
        self._projects: dict[str, list[PackageFile]] = {}
        for p in self.packages:
            self._projects.setdefault(p.project, []).append(p)
        self.page_format: PageFormat = page_format
        self.pypi_headers = pypi_headers
        self.gzip_pages = gzip_pages
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._seq = itertools.count()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.index = self
        self._httpd.tls = None if tls is None else tls.server_context()
        self._thread: threading.Thread | None = None
        host_, port_ = self._httpd.server_address[:2]
        self.host = str(host_)
        self.port = int(port_)

    # lifecycle
    def start(self) -> IndexServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"IndexServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> IndexServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # URLs
    @property
    def base_url(self) -> str:
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple/"

    def page_url(self, project: str) -> str:
        return f"{self.index_url}{normalize(project)}/"

    def file_path(self, filename: str) -> str:
        """Where ``filename`` is served, by :attr:`layout`."""
        if self.layout == "pypiserver":
            return f"/packages/{filename}"
        if self.layout == "warehouse":
            data = self._by_filename[filename].path.read_bytes()
            b2 = hashlib.blake2b(data, digest_size=32).hexdigest()
            return f"/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{filename}"
        if self.layout == "devpi":
            sha = self._by_filename[filename].sha256
            return f"/+f/{sha[:3]}/{sha[3:16]}/{filename}"
        return f"/files/{filename}"

    def file_url(self, filename: str) -> str:
        return self.base_url + self.file_path(filename)

    def _link(self, filename: str) -> str:
        """A file's link on its project's page (pypiserver's are relative)."""
        if self.relative_links or self.layout == "pypiserver":
            return "../.." + quote(self.file_path(filename))
        return self.file_url(filename)

    def metadata_url(self, filename: str) -> str:
        return self.file_url(filename) + ".metadata"

    # request log
    def requests(self, *, since: int = 0) -> tuple[RequestRecord, ...]:
        """Logged requests with ``seq >= since`` (see :meth:`mark`)."""
        with self._lock:
            return tuple(r for r in self._log if r.seq >= since)

    def mark(self) -> int:
        """A sequence number: ``requests(since=mark())`` gives only later requests."""
        with self._lock:
            return self._log[-1].seq + 1 if self._log else 0

    def counts(self) -> Counter[str]:
        """Number of requests per path."""
        with self._lock:
            return Counter(r.path for r in self._log)

    def count(
        self,
        *,
        kind: RequestKind | None = None,
        path: str | None = None,
        tag: str | None = None,
        status: int | None = None,
        since: int = 0,
    ) -> int:
        """Number of logged requests matching every given filter."""
        return sum(
            1
            for r in self.requests(since=since)
            if (kind is None or r.kind == kind)
            and (path is None or r.path == path)
            and (tag is None or r.tag == tag)
            and (status is None or r.status == status)
        )

    def reset(self) -> None:
        """Forget the log (sequence numbers keep growing)."""
        with self._lock:
            self._log.clear()

    def record(self, handler: BaseHTTPRequestHandler, response: _Response, sent: bytes) -> None:
        headers = handler.headers
        user_agent = headers.get("User-Agent", "")
        pip_version, tag = _parse_user_agent(user_agent)
        response_headers = {k.lower(): v for k, v in response.headers}
        with self._lock:
            self._log.append(
                RequestRecord(
                    seq=next(self._seq),
                    method=handler.command,
                    path=handler.path,
                    url=self.base_url + handler.path,
                    kind=response.kind,
                    status=response.status,
                    accept=headers.get("accept", ""),
                    accept_encoding=headers.get("accept-encoding", ""),
                    cache_control=headers.get("Cache-Control", ""),
                    user_agent=user_agent,
                    pip_version=pip_version,
                    tag=tag,
                    content_type=response_headers.get("content-type"),
                    content_encoding=response_headers.get("content-encoding"),
                    body_sha256=_sha256(sent) if sent else None,
                    filename=response.filename,
                )
            )

    # responses
    def respond(self, raw_path: str, headers: Mapping[str, str]) -> _Response:
        """The response to a GET of ``raw_path``; ``headers`` keys are lower-case."""
        path = unquote(urlsplit(raw_path).path)
        if path == "/simple":
            return self._redirect("/simple/")
        if path == "/simple/":
            return self._page(None, headers)
        if path.startswith("/simple/"):
            name = path.removeprefix("/simple/").rstrip("/")
            _, _, filename = name.partition("/")
            if self.page_format == "dirlisting" and filename and "/" not in filename:
                return self._file(filename, headers)  # beside its listing
            if "/" in name or not name:
                return self._not_found()
            if path != f"/simple/{normalize(name)}/":
                return self._redirect(f"/simple/{normalize(name)}/")
            if name not in self._projects:
                return self._not_found("page")
            return self._page(name, headers)
        if path.startswith("/files/") and self.layout == "files":
            return self._file(path.removeprefix("/files/"), headers)
        served = self._by_path.get(path.removesuffix(".metadata"))
        if served is not None:
            return self._file(
                served.filename + path[len(path.removesuffix(".metadata")) :], headers
            )
        return self._not_found()

    def _not_found(self, kind: RequestKind = "other") -> _Response:
        body = b"404 Not Found\n"
        headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        return _Response(404, headers, body, kind)

    def _redirect(self, location: str) -> _Response:
        headers = [("Location", self.base_url + location), ("Content-Length", "0")]
        if self.page_cache:
            headers.insert(1, ("Cache-Control", PAGE_CACHE_CONTROL))
        return _Response(301, headers, b"", "page")

    def _file(self, name: str, headers: Mapping[str, str]) -> _Response:
        filename = name.removesuffix(".metadata")
        package = self._by_filename.get(filename)
        if package is None:
            return self._not_found()
        kind: RequestKind = "metadata" if name.endswith(".metadata") else "file"
        if kind == "metadata":
            if package.core_metadata is None:
                return self._not_found("metadata")
            body = package.core_metadata
        else:
            body = package.path.read_bytes()
        etag = f'"{_sha256(body)[:32]}"'
        response_headers = [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", FILE_CACHE_CONTROL),
            ("ETag", etag),
            ("Last-Modified", _LAST_MODIFIED),
            ("Accept-Ranges", "bytes"),
        ]
        if self.pypi_headers:
            response_headers += [
                ("x-pypi-file-project", package.project),
                ("x-pypi-file-version", package.version),
                ("x-pypi-file-package-type", package.package_type),
                ("x-pypi-file-python-version", package.python_version),
            ]
        status = 304 if _etag_matches(headers.get("if-none-match", ""), etag) else 200
        return _Response(status, response_headers, body, kind, filename)

    def _negotiate(self, accept: str) -> str:
        if self.page_format == "json":
            return JSON_TYPE
        if self.page_format == "html":
            return HTML_TYPE
        if self.page_format == "dirlisting":
            return "text/html"
        q = _accept_q(accept or "*/*")
        json_q = max(q.get(JSON_TYPE, 0.0), q.get("application/vnd.pypi.simple.latest+json", 0.0))
        html_q = max(q.get(HTML_TYPE, 0.0), q.get("application/vnd.pypi.simple.latest+html", 0.0))
        text_q = max(q.get("text/html", 0.0), q.get("*/*", 0.0))
        if json_q > max(html_q, text_q):
            return JSON_TYPE
        return HTML_TYPE if html_q >= text_q else "text/html"

    def _page(self, project: str | None, headers: Mapping[str, str]) -> _Response:
        content_type = self._negotiate(headers.get("accept", ""))
        if content_type == JSON_TYPE:
            body = self._json_page(project)
        else:
            body = self._html_page(project)
            content_type += "; charset=utf-8" if content_type == "text/html" else ""
        digest = _sha256(content_type.encode() + b"\0" + body)[:32]
        encoding = None
        if self.gzip_pages and _wants_gzip(headers.get("accept-encoding", "")):
            body, encoding, digest = gzip.compress(body, mtime=0), "gzip", digest + "-gzip"
        etag = f'"{digest}"'
        response_headers = [
            ("Content-Type", content_type),
            ("Cache-Control", PAGE_CACHE_CONTROL),
            ("Vary", "Accept, Accept-Encoding"),
            ("ETag", etag),
            ("X-PyPI-Last-Serial", "1"),
        ]
        if not self.page_cache:
            response_headers = [(n, v) for n, v in response_headers if n in ("Content-Type",)]
        if encoding:
            response_headers.append(("Content-Encoding", encoding))
        if self.page_cache and _etag_matches(headers.get("if-none-match", ""), etag):
            return _Response(304, response_headers, body, "page")
        response_headers.append(("Content-Length", str(len(body))))
        return _Response(200, response_headers, body, "page")

    def _json_page(self, project: str | None) -> bytes:
        meta = {"api-version": "1.1", "_last-serial": 1}
        if project is None:
            doc: dict[str, object] = {
                "meta": meta,
                "projects": [{"name": name} for name in sorted(self._projects)],
            }
        else:
            files = []
            for p in sorted(self._projects[project], key=lambda p: p.filename):
                entry: dict[str, object] = {
                    "filename": p.filename,
                    "url": self._link(p.filename),
                    "hashes": {"sha256": p.sha256},
                    "requires-python": REQUIRES_PYTHON,
                    "size": p.size,
                    "upload-time": _UPLOAD_TIME,
                    "yanked": False,
                }
                if p.metadata_sha256 is not None:
                    entry["core-metadata"] = {"sha256": p.metadata_sha256}
                    entry["data-dist-info-metadata"] = {"sha256": p.metadata_sha256}
                else:
                    entry["core-metadata"] = False
                    entry["data-dist-info-metadata"] = False
                files.append(entry)
            versions = sorted({p.version for p in self._projects[project]})
            doc = {"meta": meta, "name": project, "versions": versions, "files": files}
        return json.dumps(doc, sort_keys=False).encode()

    def _html_page(self, project: str | None) -> bytes:
        if self.page_format == "dirlisting":
            return self._directory_listing(project)
        head = '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version"'
        head += ' content="1.1">\n'
        if project is None:
            links = [f'    <a href="/simple/{p}/">{p}</a>\n' for p in sorted(self._projects)]
            title = "Simple index"
        else:
            links = []
            for p in sorted(self._projects[project], key=lambda p: p.filename):
                attrs = f'href="{self._link(p.filename)}#sha256={p.sha256}"'
                attrs += f' data-requires-python="{html.escape(REQUIRES_PYTHON)}"'
                if p.metadata_sha256 is not None:
                    value = f"sha256={p.metadata_sha256}"
                    attrs += f' data-dist-info-metadata="{value}" data-core-metadata="{value}"'
                links.append(f"    <a {attrs}>{html.escape(p.filename)}</a><br />\n")
            title = f"Links for {project}"
        text = f"{head}    <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n"
        return (text + "".join(links) + "  </body>\n</html>\n").encode()

    def _directory_listing(self, project: str | None) -> bytes:
        """What http.server's SimpleHTTPRequestHandler.list_directory sends."""
        where = "/simple/" if project is None else f"/simple/{project}/"
        if project is None:
            names = [f"{p}/" for p in sorted(self._projects)]
        else:
            names = sorted(p.filename for p in self._projects[project])
        title = f"Directory listing for {where}"
        items = "".join(f'<li><a href="{quote(n)}">{html.escape(n)}</a></li>\n' for n in names)
        return (
            '<!DOCTYPE HTML>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<hr>\n<ul>\n"
            f"{items}</ul>\n<hr>\n</body>\n</html>\n"
        ).encode()


# --------------------------------------------------------------------------------------
# pip runners


class PipRunError(RuntimeError):
    """A pip command exited non-zero."""

    def __init__(self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"{' '.join(cmd)} exited {returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def http_dir_for(pip_version: str) -> Literal["http", "http-v2"]:
    """The HTTP cache dir a pip version writes: ``http`` before 23.3, else ``http-v2``."""
    return "http" if _version_tuple(pip_version) < (23, 3) else "http-v2"


_DROP_ENV: Final = frozenset(
    {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    | {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"}
    # requests prefers CURL_CA_BUNDLE to pip's --cert, and SSL_CERT_* steer the
    # default context: the loopback HTTPS index is trusted by --cert alone.
    | {"CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"}
)


def scrubbed_env(tag: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a pip that must see no config: no ``PIP_*``, no proxies,
    ``PIP_CONFIG_FILE=os.devnull`` (pip then loads no config file, not even global
    ones that ``--isolated`` keeps), and the run's tag as ``PIP_USER_AGENT_USER_DATA``."""
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if (not k.upper().startswith("PIP_") or k.upper().startswith("PIP_CACHE_PLUS_"))
        and k.upper() not in _DROP_ENV
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    if tag is not None:
        env["PIP_USER_AGENT_USER_DATA"] = tag
    return env


_INDEX_COMMANDS: Final = frozenset({"download", "install", "wheel", "index"})


@dataclass(frozen=True, slots=True)
class PipRunner:
    """Runs one pip version (``python -m pip``) against a loopback index."""

    python: Path
    version: str
    index_url: str | None = None
    trusted_host: str = "127.0.0.1"
    cert: Path | None = None  # a CA bundle pip verifies the index with (HTTPS)

    @property
    def http_dir(self) -> Literal["http", "http-v2"]:
        return http_dir_for(self.version)

    def with_index(self, index_url: str, *, cert: Path | None = None) -> PipRunner:
        """Bound to ``index_url``; ``cert``: the CA bundle of an HTTPS index (pip then
        verifies it, instead of trusting the host blindly)."""
        return replace(self, index_url=index_url, cert=cert)

    def command(self, command: str, *args: str, cache_dir: Path) -> list[str]:
        cmd = [str(self.python), "-m", "pip", command]
        cmd += ["--isolated", "--disable-pip-version-check", "--no-input", "--no-color"]
        cmd += ["--retries", "0", "--timeout", "60", "--cache-dir", os.fspath(cache_dir)]
        if command in _INDEX_COMMANDS:
            if self.index_url is None:
                raise ValueError(f"pip {command} needs an index: use with_index() first")
            cmd += ["--index-url", self.index_url]
            if self.cert is not None:
                cmd += ["--cert", os.fspath(self.cert)]
            else:
                cmd += ["--trusted-host", self.trusted_host]
        return cmd + list(args)

    def run(
        self,
        command: str,
        *args: str,
        cache_dir: Path,
        tag: str | None = None,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pip <command> <common options> <args>``; raise :class:`PipRunError`
        when ``check`` and pip fails. ``tag`` is sent in the User-Agent."""
        cmd = self.command(command, *args, cache_dir=cache_dir)
        proc = subprocess.run(
            cmd,
            env=scrubbed_env(tag),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and proc.returncode != 0:
            raise PipRunError(cmd, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def download(
        self, *reqs: str, dest: Path, cache_dir: Path, tag: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``pip download -d dest`` (options may be mixed into ``reqs``)."""
        return self.run("download", "-d", os.fspath(dest), *reqs, cache_dir=cache_dir, tag=tag)

    def install(
        self, *reqs: str, target: Path, cache_dir: Path, tag: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``pip install --target target``: the real install path, into a throwaway dir."""
        args = ["--target", os.fspath(target), "--no-warn-script-location", *reqs]
        return self.run("install", *args, cache_dir=cache_dir, tag=tag)

    def wheel(
        self, *reqs: str, dest: Path, cache_dir: Path, tag: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``pip wheel -w dest``: builds sdists, filling ``wheels/``."""
        return self.run("wheel", "-w", os.fspath(dest), *reqs, cache_dir=cache_dir, tag=tag)


def venvs_root() -> Path:
    """Where pip venvs live: ``$PCP_PIP_VENVS`` or ``tests/.pips`` (git-ignored)."""
    env = os.environ.get("PCP_PIP_VENVS")
    return Path(env) if env else Path(__file__).resolve().parent / ".pips"


_TAGS: dict[str, str] = {}


def python_tag(python: str | os.PathLike[str] | None = None) -> str:
    """``cp311``-style tag of an interpreter (default: this one)."""
    exe = os.fspath(python or sys.executable)
    if exe not in _TAGS:
        if exe == sys.executable:
            info = (sys.implementation.name, *sys.version_info[:2])
        else:
            out = subprocess.run(
                [exe, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                capture_output=True, text=True, check=True,
            ).stdout.split()  # fmt: skip
            info = (out[0], int(out[1]), int(out[2]))
        impl = {"cpython": "cp", "pypy": "pp"}.get(str(info[0]), str(info[0]))
        _TAGS[exe] = f"{impl}{info[1]}{info[2]}"
    return _TAGS[exe]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


_READY: Final = ".pcp-pip-version"


def _ready(venv: Path) -> bool:
    return (venv / _READY).is_file() and _venv_python(venv).exists()


# The environment as the test run started: tests monkeypatch PIP_INDEX_URL & co. to the
# loopback index, which must not leak into installing pip itself from PyPI.
_AMBIENT_ENV: Final = dict(os.environ)


def _run_setup(cmd: Sequence[str]) -> str:
    """Run a venv setup step with the ambient environment (it may need PyPI)."""
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        env=_AMBIENT_ENV,
    )
    if proc.returncode != 0:
        raise PipRunError(cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def _make_venv(parent: Path, base_python: str, pip_args: Sequence[str]) -> tuple[Path, str]:
    """Make a venv in a staging dir under ``parent`` and pip-install ``pip_args``.

    Returns (staging dir, installed pip version); the caller renames it into place.
    """
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
    staging.chmod(0o755)
    try:
        _run_setup([base_python, "-m", "venv", os.fspath(staging)])
        python = os.fspath(_venv_python(staging))
        install = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        _run_setup([*install, *pip_args])
        version = _run_setup([python, "-c", "import pip; print(pip.__version__)"]).strip()
        (staging / _READY).write_text(version + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, version


def _publish(staging: Path, final: Path) -> None:
    """Atomically move a finished venv into place; a racing winner is kept."""
    try:
        staging.rename(final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not _ready(final):
            raise


_LATEST_TTL: Final = 24 * 3600
_RUNNERS: dict[tuple[str, str], PipRunner] = {}
_RUNNERS_LOCK = threading.Lock()


def _latest_file(root: Path) -> Path:
    return root / "latest.json"


def _read_latest(root: Path, *, max_age: float | None) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(_latest_file(root).read_text())
        fresh = max_age is None or time.time() - float(data["resolved_at"]) < max_age
        if fresh and _ready(root / str(data["version"])):
            return str(data["version"])
    return None


def _write_latest(root: Path, version: str) -> None:
    tmp = root / f".latest-{uuid.uuid4().hex}.json"
    tmp.write_text(json.dumps({"version": version, "resolved_at": time.time()}))
    tmp.replace(_latest_file(root))


def resolve_latest_pip(
    base_python: str | None = None, *, refresh: bool = False, max_age: float = _LATEST_TTL
) -> str:
    """The version ``pip install --upgrade pip`` gives now, with a venv of it ready.

    ``$PCP_PIP_LATEST`` pins it. Otherwise the answer is remembered in
    ``<venvs>/<tag>/latest.json`` for ``max_age`` seconds; when PyPI cannot be
    reached, the last known answer is used whatever its age.
    """
    pinned = os.environ.get("PCP_PIP_LATEST")
    if pinned:
        return pinned
    base = base_python or sys.executable
    root = venvs_root() / python_tag(base)
    known = None if refresh else _read_latest(root, max_age=max_age)
    if known is not None:
        return known
    try:
        staging, version = _make_venv(root, base, ["--upgrade", "pip"])
    except PipRunError:
        stale = _read_latest(root, max_age=None)
        if stale is None:
            raise
        return stale
    _publish(staging, root / version)
    _write_latest(root, version)
    return version


def get_pip(version: str = "latest", *, base_python: str | None = None) -> PipRunner:
    """A :class:`PipRunner` for ``version`` (``"latest"`` resolved to a concrete one),
    in a venv of ``base_python`` (default: this interpreter) made once and reused."""
    base = base_python or sys.executable
    with _RUNNERS_LOCK:
        key = (base, version)
        if key not in _RUNNERS:
            concrete = resolve_latest_pip(base) if version == "latest" else version
            venv = venvs_root() / python_tag(base) / concrete
            if not _ready(venv):
                staging, installed = _make_venv(venv.parent, base, [f"pip=={concrete}"])
                if installed != concrete:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise RuntimeError(f"asked for pip {concrete}, got {installed}")
                _publish(staging, venv)
            _RUNNERS[key] = PipRunner(python=_venv_python(venv), version=concrete)
        return _RUNNERS[key]


# --------------------------------------------------------------------------------------
# Cache builders


class CacheBuildError(RuntimeError):
    """A built cache misses what the pips should have written."""


def cache_entry_path(cache_dir: Path, url: str, http_dir: str) -> Path:
    """``<cache>/<http_dir>/h[0]/h[1]/h[2]/h[3]/h[4]/h`` with ``h = sha224(url)``."""
    h = hashlib.sha224(url.encode()).hexdigest()
    return cache_dir.joinpath(http_dir, *h[:5], h)


@dataclass(frozen=True, slots=True)
class BuiltCache:
    """A cache dir filled by real pips through an :class:`IndexServer`."""

    kind: CacheKind
    path: Path
    pips: tuple[str, ...]  # pip versions, in the order they ran
    index_url: str
    packages: tuple[PackageFile, ...]
    requests: tuple[RequestRecord, ...]  # everything the pips asked the server

    @property
    def fetches(self) -> tuple[RequestRecord, ...]:
        """GET requests answered 200: what pip may have cached."""
        return tuple(r for r in self.requests if r.method == "GET" and r.status == 200)

    @property
    def http_dirs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(http_dir_for(v) for v in self.pips))

    def fetched_urls(
        self, *, kinds: Iterable[RequestKind] | None = None, pip_version: str | None = None
    ) -> list[str]:
        """Distinct URLs fetched (GET, 200), in first-fetch order."""
        wanted = None if kinds is None else set(kinds)
        urls = (
            r.url
            for r in self.fetches
            if (wanted is None or r.kind in wanted)
            and (pip_version is None or r.pip_version == pip_version)
        )
        return list(dict.fromkeys(urls))

    def package(self, filename: str) -> PackageFile:
        for p in self.packages:
            if p.filename == filename:
                return p
        raise KeyError(filename)


def copy_cache(built: BuiltCache, dest: Path) -> BuiltCache:
    """Copy a built cache (symlinks kept, mtimes and atimes preserved) to ``dest``."""
    shutil.copytree(built.path, dest, symlinks=True, copy_function=shutil.copy2)
    return replace(built, path=dest)


DOWNLOAD_REQUIREMENTS: Final = (
    "tiny_pure==1.0",
    "dotted.pkg",
    "Mixed_Case",
    "platpkg",
    "sdist_only",
)
"""What fill_cache's first ``pip download`` asks for (every project, one version each)."""

# Each pip run of fill_cache: (step, command, args); {dl}, {target} and {wheels} are
# scratch dirs. Together they fetch every file build_packages writes.
_STEPS: Final = (
    ("download", "download", ["-d", "{dl}", *DOWNLOAD_REQUIREMENTS]),
    ("download-sdist", "download", ["-d", "{dl}", "--no-binary", "tiny_pure",
                                    "tiny_pure==1.1"]),
    ("install", "install", ["--target", "{target}", "--no-warn-script-location",
                            "tiny_pure==1.1", "Mixed_Case", "platpkg"]),
    ("wheel", "wheel", ["-w", "{wheels}", "--no-deps", "sdist_only"]),
)  # fmt: skip


def new_tag(prefix: str = "pcp") -> str:
    """A unique tag for :meth:`PipRunner.run` (then ``IndexServer.count(tag=...)``)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def fill_cache(pip: PipRunner, server: IndexServer, cache_dir: Path) -> tuple[RequestRecord, ...]:
    """Run pip's download / install / wheel steps into ``cache_dir``; return the requests
    those runs made (attributed by their User-Agent tag)."""
    runner = pip.with_index(server.index_url, cert=None if server.tls is None else server.tls.cert)
    prefix = new_tag("fill")
    with tempfile.TemporaryDirectory(prefix="pcp-fill-") as scratch:
        dirs = {name: os.path.join(scratch, name) for name in ("dl", "target", "wheels")}
        for step, command, args in _STEPS:
            runner.run(
                command,
                *(arg.format(**dirs) for arg in args),
                cache_dir=cache_dir,
                tag=f"{prefix}:{step}",
            )
    return tuple(r for r in server.requests() if r.tag and r.tag.startswith(prefix + ":"))


def _entries(http_dir: Path) -> list[Path]:
    """Cache entries (metadata files) in an ``http``/``http-v2`` dir."""
    if not http_dir.is_dir():
        return []
    return [
        p for p in http_dir.rglob("*") if p.is_file() and not p.name.endswith((".body", ".tmp"))
    ]


def writes_origin(pip_version: str) -> bool:
    """pip records a built wheel's origin (``origin.json``) since 23.0 (pip#11527)."""
    return _version_tuple(pip_version) >= (23, 0)


def check_cache(built: BuiltCache) -> None:
    """Raise :class:`CacheBuildError` unless each pip's HTTP dir holds at least one entry
    per package file and ``.metadata`` it fetched, no other HTTP dir holds anything,
    and ``wheels/`` holds the built ``sdist_only`` wheel, beside its ``origin.json`` when a
    pip that writes one ran (pip 23.0 and later)."""
    problems = []
    for name in ("http", "http-v2"):
        entries = _entries(built.path / name)
        if name in built.http_dirs:
            served = {
                url
                for version in built.pips
                if http_dir_for(version) == name
                for url in built.fetched_urls(kinds=("file", "metadata"), pip_version=version)
            }
            if not served:
                problems.append(f"the server logged no file fetched for {name}/")
            if len(entries) < len(served):
                problems.append(
                    f"{name}/ holds {len(entries)} entries for {len(served)} files served "
                    "(does the server send cache headers? is the cache writable?)"
                )
        elif entries:
            problems.append(f"{name}/ holds {len(entries)} entries; no pip should write it")
    wheels = sorted((built.path / "wheels").rglob("sdist_only-0.5-*.whl"))
    if not wheels:
        problems.append("wheels/ holds no sdist_only-0.5-*.whl")
    elif any(writes_origin(v) for v in built.pips) and not all(
        (w.parent / "origin.json").is_file() for w in wheels
    ):
        problems.append("wheels/ holds a built wheel without origin.json beside it")
    if problems:
        where = f"{built.kind} cache at {built.path} (pips {', '.join(built.pips)})"
        raise CacheBuildError(f"{where}: " + "; ".join(problems))


def build_cache(
    kind: CacheKind,
    *,
    server: IndexServer,
    dest: Path,
    legacy: PipRunner | None = None,
    current: PipRunner | None = None,
    base: BuiltCache | None = None,
) -> BuiltCache:
    """Fill ``dest`` (must not exist, or be empty) and check it.

    ``legacy``: ``legacy`` pip only; ``v2``: ``current`` pip only; ``mixed``: ``legacy``
    then ``current`` into the same dir. For ``mixed``, ``base`` (a built legacy cache)
    is copied instead of running the legacy pip again.
    """
    pips: list[PipRunner] = []
    records: list[RequestRecord] = []
    if kind == "mixed" and base is not None:
        if base.kind != "legacy":
            raise ValueError("a mixed cache starts from a legacy one")
        if dest.exists():
            dest.rmdir()
        copy_cache(base, dest)
        records += base.requests
        previous = base.pips
    else:
        previous = ()
        if kind in ("legacy", "mixed"):
            pips.append(legacy or get_pip(LEGACY_PIP))
    if kind in ("v2", "mixed"):
        pips.append(current or get_pip("latest"))
    dest.mkdir(parents=True, exist_ok=True)
    for pip in pips:
        records += fill_cache(pip, server, dest)
    built = BuiltCache(
        kind=kind,
        path=dest,
        pips=(*previous, *(p.version for p in pips)),
        index_url=server.index_url,
        packages=server.packages,
        requests=tuple(records),
    )
    check_cache(built)
    return built
