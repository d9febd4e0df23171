"""Fixtures for tests on caches written by real pip (see ``realpip.py``).

Session-scoped (built once):
    packages_dir        Path of the hand-built distributions
    packages            tuple[PackageFile, ...] in it
    index_server        IndexServer serving them (one port all session, so cached URLs
                        stay valid for later pip runs)
    pip_legacy          PipRunner of pip 23.2.1 (writes ``http/``), bound to index_server
    pip_current         PipRunner of the latest pip (writes ``http-v2/``), bound likewise;
                        ``$PCP_PIP_CURRENT`` picks another version >= 23.3 (nox pip_compat)
    built_legacy_cache, built_v2_cache, built_mixed_cache
                        BuiltCache made once; read-only, do not mutate

Function-scoped (a private copy in ``tmp_path / "cache"``, mtimes and atimes kept):
    legacy_cache, v2_cache, mixed_cache -> BuiltCache
    any_cache           each of the three in turn (parametrized: ids legacy, v2, mixed)

Tests using a pip or cache fixture (``REALPIP_FIXTURES``) are marked ``realpip``
automatically (deselect them with ``-m "not realpip"``); a test that gets them through
``request.getfixturevalue`` must say ``@pytest.mark.realpip`` itself. The pip venvs are
made once under ``tests/.pips`` (or ``$PCP_PIP_VENVS``); that needs PyPI, everything
else is offline. ``$PCP_PIP_LATEST`` pins what "latest" means.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from realpip import (
    CACHE_KINDS,
    LEGACY_PIP,
    BuiltCache,
    IndexServer,
    PackageFile,
    PipRunner,
    build_cache,
    build_packages,
    copy_cache,
    get_pip,
)

REALPIP_FIXTURES = frozenset(
    {
        "pip_legacy",
        "pip_current",
        "built_legacy_cache",
        "built_v2_cache",
        "built_mixed_cache",
        "legacy_cache",
        "v2_cache",
        "mixed_cache",
        "any_cache",
    }
)

_TIMINGS: dict[str, float] = {}


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REALPIP_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realpip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIMINGS:
        parts = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"realpip fixture build times: {parts}")


class _Timer:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        _TIMINGS[self.name] = time.perf_counter() - self.start


@pytest.fixture(scope="session")
def packages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("packages")


@pytest.fixture(scope="session")
def packages(packages_dir: Path) -> tuple[PackageFile, ...]:
    return tuple(build_packages(packages_dir))


@pytest.fixture(scope="session")
def index_server(packages: tuple[PackageFile, ...]) -> Iterator[IndexServer]:
    with IndexServer(packages) as server:
        yield server


@pytest.fixture(scope="session")
def pip_legacy(index_server: IndexServer) -> PipRunner:
    with _Timer("pip 23.2.1 venv"):
        return get_pip(LEGACY_PIP).with_index(index_server.index_url)


@pytest.fixture(scope="session")
def pip_current(index_server: IndexServer) -> PipRunner:
    version = os.environ.get("PCP_PIP_CURRENT", "latest")
    with _Timer(f"{version} pip venv"):
        pip = get_pip(version).with_index(index_server.index_url)
    if pip.http_dir != "http-v2":
        raise pytest.UsageError(f"PCP_PIP_CURRENT={version}: pip_current must be >= 23.3")
    return pip


@pytest.fixture(scope="session")
def built_legacy_cache(
    tmp_path_factory: pytest.TempPathFactory, index_server: IndexServer, pip_legacy: PipRunner
) -> BuiltCache:
    dest = tmp_path_factory.mktemp("legacy") / "cache"
    with _Timer("legacy cache"):
        return build_cache("legacy", server=index_server, dest=dest, legacy=pip_legacy)


@pytest.fixture(scope="session")
def built_v2_cache(
    tmp_path_factory: pytest.TempPathFactory, index_server: IndexServer, pip_current: PipRunner
) -> BuiltCache:
    dest = tmp_path_factory.mktemp("v2") / "cache"
    with _Timer("v2 cache"):
        return build_cache("v2", server=index_server, dest=dest, current=pip_current)


@pytest.fixture(scope="session")
def built_mixed_cache(
    tmp_path_factory: pytest.TempPathFactory,
    index_server: IndexServer,
    pip_current: PipRunner,
    built_legacy_cache: BuiltCache,
) -> BuiltCache:
    dest = tmp_path_factory.mktemp("mixed") / "cache"
    with _Timer("mixed cache"):
        return build_cache(
            "mixed", server=index_server, dest=dest, current=pip_current, base=built_legacy_cache
        )


@pytest.fixture
def legacy_cache(built_legacy_cache: BuiltCache, tmp_path: Path) -> BuiltCache:
    return copy_cache(built_legacy_cache, tmp_path / "cache")


@pytest.fixture
def v2_cache(built_v2_cache: BuiltCache, tmp_path: Path) -> BuiltCache:
    return copy_cache(built_v2_cache, tmp_path / "cache")


@pytest.fixture
def mixed_cache(built_mixed_cache: BuiltCache, tmp_path: Path) -> BuiltCache:
    return copy_cache(built_mixed_cache, tmp_path / "cache")


@pytest.fixture(params=CACHE_KINDS)
def any_cache(request: pytest.FixtureRequest) -> BuiltCache:
    cache: BuiltCache = request.getfixturevalue(f"{request.param}_cache")
    return cache


@pytest.fixture(autouse=True)
def own_memo_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test (and every child it starts) remembers answers in its own memo directory,
    never in this machine's user cache directory."""
    path = tmp_path_factory.mktemp("memo")
    monkeypatch.setenv("PIP_CACHE_PLUS_MEMO_DIR", str(path))
    return path


def _scrub_pip_env(mp: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIP_") and not name.startswith("PIP_CACHE_PLUS_"):
            mp.delenv(name)
    mp.setenv("PIP_CONFIG_FILE", os.devnull)


@pytest.fixture
def isolated_pip_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``PIP_*`` variable and no pip config file of this machine reaches the code
    (ours, ``PIP_CACHE_PLUS_*``, stay: see :func:`own_memo_dir`)."""
    _scrub_pip_env(monkeypatch)


@pytest.fixture(scope="module")
def module_index_env(index_server: IndexServer) -> Iterator[None]:
    """:func:`index_env` for a whole module (hypothesis tests take no function fixtures)."""
    with pytest.MonkeyPatch.context() as mp:
        _scrub_pip_env(mp)
        mp.setenv("PIP_INDEX_URL", index_server.index_url)
        yield


@pytest.fixture
def index_env(
    isolated_pip_env: None, monkeypatch: pytest.MonkeyPatch, index_server: IndexServer
) -> None:
    """Like a user whose pip is configured for the loopback index, and nothing else."""
    monkeypatch.setenv("PIP_INDEX_URL", index_server.index_url)
