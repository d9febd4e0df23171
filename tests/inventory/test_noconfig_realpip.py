"""Issue 17's "Must show" on caches that real pips (21.3, 23.2.1 and the latest) filled
over http and https from a loopback index given only on pip's command line: listed with
nothing configured, every entry's kind, project, version and exact filename are right and
every URL is right or null, never wrong; listed with ``--index-url`` on our command line
or with ``PIP_INDEX_URL``, every URL is right. The same answers with the memo on and off.

The index links files absolutely (as PyPI) or relatively (as devpi, pypiserver, Nexus).
The truth is what the server logged: the URL of each answered GET, and so its key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pip_cache_plus import Cache
from pip_cache_plus.cli.app import main
from realpip import (
    OLDEST_PIP,
    BuiltCache,
    CacheKind,
    IndexServer,
    PackageFile,
    PipRunner,
    RequestRecord,
    TLSCert,
    TLSUnavailable,
    build_cache,
    cache_entry_path,
    get_pip,
    http_dir_for,
    make_tls_cert,
    normalize,
)

pytestmark = pytest.mark.realpip

PIPS = ("oldest", "legacy", "current")  # 21.3, 23.2.1, the latest (or $PCP_PIP_CURRENT)
SCHEMES = ("http", "https")
LINKS = ("absolute", "relative")
CASES = [
    pytest.param((pip, scheme, links), id=f"{pip}-{scheme}-{links}")
    for pip in PIPS
    for scheme in SCHEMES
    for links in LINKS
]

BUILT_WHEEL = "sdist_only-0.5-py3-none-any.whl"  # what `pip wheel sdist_only` builds
BUILT_FROM = "sdist_only-0.5.tar.gz"


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> TLSCert:
    try:
        return make_tls_cert(tmp_path_factory.mktemp("tls"))
    except TLSUnavailable as exc:
        pytest.skip(f"no HTTPS index: {exc}")


@pytest.fixture(scope="module", params=CASES)
def filled(
    request: pytest.FixtureRequest,
    packages: tuple[PackageFile, ...],
    pip_legacy: PipRunner,
    pip_current: PipRunner,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BuiltCache]:
    which, scheme, links = request.param
    pip = {"oldest": get_pip(OLDEST_PIP), "legacy": pip_legacy, "current": pip_current}[which]
    tls = request.getfixturevalue("tls_cert") if scheme == "https" else None
    kind: CacheKind = "legacy" if pip.http_dir == "http" else "v2"
    with IndexServer(packages, tls=tls, relative_links=links == "relative") as server:
        dest = tmp_path_factory.mktemp(f"noconfig-{which}-{scheme}-{links}") / "cache"
        yield build_cache(kind, server=server, dest=dest, legacy=pip, current=pip)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a listing says of one entry, from the library or from ``list --format json``."""

    source: str
    key: str | None
    kind: str
    project: str | None
    version: str | None
    filename: str | None
    url: str | None


def _library(cache: Path, index_urls: list[str], memo: Path | None) -> list[Answer]:
    entries = Cache(cache, index_urls=index_urls, memo_dir=memo).entries()
    answers = [
        Answer(e.source, e.raw.key, e.kind, e.project, e.version, e.filename, e.url)
        for e in entries
    ]
    return sorted(answers, key=_order)


def _cli(capsys: pytest.CaptureFixture[str], cache: Path, *args: str) -> list[Answer]:
    code = main(["--cache-dir", str(cache), "list", "--format", "json", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    fields = ("source", "key", "kind", "project", "version", "filename", "url")
    return sorted((Answer(*(e[f] for f in fields)) for e in json.loads(out)["entries"]), key=_order)


def _order(answer: Answer) -> tuple[str, str, str]:
    return (answer.source, answer.key or "", answer.filename or "")


def _truth(built: BuiltCache) -> dict[str, RequestRecord]:
    """Each HTTP entry's key -> the request that filled it."""
    return {
        cache_entry_path(built.path, r.url, http_dir_for(r.pip_version or "")).name: r
        for r in built.fetches
        if r.pip_version is not None
    }


def _check(built: BuiltCache, answers: list[Answer], *, urls: str) -> tuple[int, int]:
    """Assert every answer against the truth; ``urls``: "right" or "right-or-null".
    Returns (entries, URLs known)."""
    truth = _truth(built)
    http = [a for a in answers if a.source != "wheels"]
    assert sorted(a.key or "" for a in http) == sorted(truth)
    for a in http:
        assert a.key is not None
        record = truth[a.key]
        assert a.url == record.url or (urls == "right-or-null" and a.url is None), a
        if record.kind == "page":
            assert (a.kind, a.project) == ("index", normalize(record.url.split("/")[-2])), a
            continue
        assert record.filename is not None
        package = built.package(record.filename)
        suffix = ".metadata" if record.kind == "metadata" else ""
        want = ("metadata" if suffix else package.kind, package.project, package.version)
        assert (a.kind, a.project, a.version, a.filename) == (*want, record.filename + suffix), a
    (wheel,) = (a for a in answers if a.source == "wheels")
    assert (wheel.kind, wheel.project, wheel.version, wheel.filename) == (
        "wheel",
        "sdist-only",
        "0.5",
        BUILT_WHEEL,
    )
    # A built wheel's URL is the file it was built from: origin.json tells it, or (pip
    # 21.3) its directory's name proves it from the sdist's URL.
    origin = built.index_url.removesuffix("simple/") + f"files/{BUILT_FROM}"
    if urls == "right":
        assert wheel.url == origin
    else:
        assert wheel.url in (origin, None)
    return len(answers), sum(a.url is not None for a in answers)


def test_nothing_configured_names_every_entry_and_no_url_is_wrong(
    filled: BuiltCache, tmp_path: Path
) -> None:
    plain = _library(filled.path, [], None)
    entries, _ = _check(filled, plain, urls="right-or-null")
    assert entries == len(_truth(filled)) + 1
    cold = _library(filled.path, [], tmp_path / "memo")
    warm = _library(filled.path, [], tmp_path / "memo")
    assert cold == warm == plain


@pytest.mark.usefixtures("isolated_pip_env")
@pytest.mark.parametrize("memo", ["off", "after-an-unconfigured-listing"])
@pytest.mark.parametrize("how", ["--index-url", "PIP_INDEX_URL"])
def test_with_the_index_given_every_url_is_right(
    filled: BuiltCache,
    how: str,
    memo: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if memo == "off":
        monkeypatch.setenv("PIP_CACHE_PLUS_MEMO_DIR", "")
    else:
        monkeypatch.setenv("PIP_CACHE_PLUS_MEMO_DIR", str(tmp_path / "memo"))
        _check(filled, _cli(capsys, filled.path), urls="right-or-null")
    if how == "PIP_INDEX_URL":
        monkeypatch.setenv("PIP_INDEX_URL", filled.index_url)
        answers = _cli(capsys, filled.path)
    else:
        answers = _cli(capsys, filled.path, "--index-url", filled.index_url)
    entries, known = _check(filled, answers, urls="right")
    assert known == entries
    assert answers == _library(filled.path, [filled.index_url], None)
