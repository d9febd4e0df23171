"""indexes.py and reqfile.py: where pip looked, by pip's precedence, checked against pip.

Each case runs twice: our command line (``list`` plus pip's index options) through
:func:`search_scope`, and real pip (the latest, in its own venv) parsing the same options
for ``pip download`` and reading the same requirements files into its finder. The
environment is scrubbed: no ``PIP_*`` of this machine, HOME and the XDG dirs in tmp_path.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pip_cache_plus.cli.app import build_parser
from pip_cache_plus.cli.options import index_options_of
from pip_cache_plus.errors import UsageError
from pip_cache_plus.locate.compat import PYPI_SIMPLE_URL as PYPI
from pip_cache_plus.locate.compat import load_configuration
from pip_cache_plus.locate.indexes import IndexOptions, index_urls, search_scope
from pip_cache_plus.locate.reqfile import read_requirements
from realpip import get_pip

# What pip's finder searched, from pip's own option parser and requirements-file reader.
_ORACLE = """
import json, sys
from pip._internal.commands import create_command
from pip._internal.req.req_file import parse_requirements
cmd = create_command("download", isolated="--isolated" in sys.argv[1:])
options, _ = cmd.parse_args(sys.argv[1:])
finder = cmd._build_package_finder(options, session=None)
for name in options.constraints:
    list(parse_requirements(name, session=None, finder=finder, options=options, constraint=True))
for name in options.requirements:
    list(parse_requirements(name, session=None, finder=finder, options=options))
scope = finder.search_scope
print(json.dumps([scope.index_urls, scope.find_links, scope.no_index]))
"""


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    config: str | None = None  # pip.conf text
    files: Mapping[str, str] = field(default_factory=dict)  # relative path -> text


def env_for(tmp: Path, case: Case) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "XDG_"))}
    env |= {"HOME": str(tmp / "home"), "XDG_CONFIG_HOME": str(tmp / "xdg-home")}
    env |= {"XDG_CONFIG_DIRS": str(tmp / "xdg-dirs")}
    env["PIP_CONFIG_FILE"] = str(tmp / "pip.conf") if case.config is not None else os.devnull
    return env | dict(case.env)


def build(tmp: Path, case: Case) -> None:
    (tmp / "home").mkdir()
    if case.config is not None:
        (tmp / "pip.conf").write_text(case.config)
    for name, text in case.files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith("/"):
            path.mkdir(exist_ok=True)
        else:
            path.write_text(text)


def ours(case: Case) -> tuple[list[str], list[str], bool] | str:
    try:
        args = build_parser().parse_args(["list", *case.args])
        options = index_options_of(args)
        config = load_configuration(os.environ, isolated=options.isolated)
        scope = search_scope(config, options, "download")
    except UsageError as exc:
        return f"error: {exc}"
    return list(scope.index_urls), list(scope.find_links), scope.no_index


def pips(tmp: Path, case: Case) -> tuple[list[str], list[str], bool] | str:
    python = str(get_pip("latest").python)
    proc = subprocess.run(
        [python, "-c", _ORACLE, *case.args],
        env=env_for(tmp, case),
        cwd=tmp,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    urls, links, no_index = json.loads(proc.stdout)
    return urls, links, no_index


E, C, X, R = (f"http://{name}.example/simple/" for name in ("env", "conf", "cli", "req"))
CASES = [
    pytest.param(Case(), id="default-pypi"),
    pytest.param(Case(env={"PIP_INDEX_URL": E}), id="env"),
    pytest.param(Case(config=f"[global]\nindex-url = {C}\n"), id="config"),
    pytest.param(
        Case(env={"PIP_INDEX_URL": E}, config=f"[global]\nindex-url={C}\n"), id="env>conf"
    ),
    pytest.param(
        Case(("-i", X), env={"PIP_INDEX_URL": E}, config=f"[global]\nindex-url = {C}\n"),
        id="cli>env>config",
    ),
    pytest.param(
        Case(config=f"[global]\nindex-url = {C}\n[download]\nindex-url = {X}\n"),
        id="command-section>global",
    ),
    pytest.param(Case(("--index-url", X, "--index-url", R)), id="last-cli-wins"),
    pytest.param(Case(("--pypi-url", X)), id="pypi-url-alias"),
    pytest.param(Case(("--isolated",), env={"PIP_INDEX_URL": E}), id="isolated-no-env"),
    pytest.param(
        Case(("--isolated", "-i", X), env={"PIP_EXTRA_INDEX_URL": E, "PIP_NO_INDEX": "1"}),
        id="isolated-cli-only",
    ),
    pytest.param(
        Case(("--extra-index-url", X, "--extra-index-url", R), env={"PIP_EXTRA_INDEX_URL": E}),
        id="extra-cli-appends-to-env",
    ),
    pytest.param(
        Case(("--no-index", "-f", "http://links.example/"), env={"PIP_INDEX_URL": E}),
        id="no-index",
    ),
    pytest.param(Case(env={"PIP_NO_INDEX": "yes", "PIP_INDEX_URL": E}), id="env-no-index"),
    pytest.param(Case(("-i", X), env={"PIP_NO_INDEX": "off"}), id="env-no-index-off"),
    pytest.param(Case(env={"PIP_NO_INDEX": "maybe"}), id="env-no-index-bad"),
    pytest.param(
        Case(("-f", "http://w.example/"), env={"PIP_FIND_LINKS": "http://u.example/ /v"}),
        id="find-links-env-and-cli",
    ),
    pytest.param(
        Case(("-r", "reqs.txt"), env={"PIP_EXTRA_INDEX_URL": E}, files={"reqs.txt": f"-i {R}\n"}),
        id="reqfile-index-replaces-all",
    ),
    pytest.param(
        Case(("-r", "reqs.txt", "-i", X), files={"reqs.txt": f"--extra-index-url {R}\nfoo\n"}),
        id="reqfile-extra",
    ),
    pytest.param(
        Case(("-r", "reqs.txt"), files={"reqs.txt": f"--no-index\n--index-url {R}\n"}),
        id="reqfile-no-index-then-index",
    ),
    pytest.param(
        Case(("--no-index", "-r", "reqs.txt"), files={"reqs.txt": f"-i {R}\n"}),
        id="cli-no-index-beats-reqfile",
    ),
    pytest.param(
        Case(
            ("-r", "reqs.txt"),
            files={
                "reqs.txt": "# top\n-r sub/inner.txt\nfoo==1  # a requirement\n",
                "sub/inner.txt": f"--index-url {R} \\\n  --extra-index-url {X}\n-f links/\n",
                "sub/links/": "",
            },
        ),
        id="nested-continued-relative-find-links",
    ),
    pytest.param(
        Case(
            ("-r", "reqs.txt", "-c", "cons.txt"),
            files={"reqs.txt": f"--extra-index-url {R}\n", "cons.txt": f"-i {C}\n"},
        ),
        id="constraints-first",
    ),
    pytest.param(
        Case(
            ("-r", "reqs.txt"),
            env={"MYHOST": "req.example"},
            files={"reqs.txt": "-i http://${MYHOST}/simple/\n"},
        ),
        id="reqfile-env-var",
    ),
    pytest.param(
        Case(config="[global]\nrequirement = cfg.txt\n", files={"cfg.txt": f"-i {R}\n"}),
        id="configured-requirement-file",
    ),
    pytest.param(
        Case(("-r", "reqs.txt"), files={"reqs.txt": "--index-url\n"}), id="reqfile-bad-line"
    ),
    pytest.param(
        Case(("-r", "reqs.txt"), files={"reqs.txt": "--no-such-option x\n"}),
        id="reqfile-unknown-option",
    ),
]


@pytest.mark.realpip
@pytest.mark.parametrize("case", CASES)
def test_search_scope_is_pips(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = Path(os.path.realpath(tmp_path))
    build(tmp, case)
    monkeypatch.chdir(tmp)
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in env_for(tmp, case).items():
        monkeypatch.setenv(key, value)
    expected, got = pips(tmp, case), ours(case)
    if isinstance(expected, str):  # both refuse
        assert isinstance(got, str), (expected, got)
    else:
        assert got == expected


def test_missing_requirements_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="Could not open requirements file"):
        read_requirements([str(tmp_path / "nope.txt")], {})


def test_self_including_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("-r b.txt\n")
    (tmp_path / "b.txt").write_text("-r a.txt\n")
    with pytest.raises(UsageError, match="recursively references itself"):
        read_requirements([str(tmp_path / "a.txt")], {})


def test_url_requirements_file_is_not_fetched() -> None:
    with pytest.raises(UsageError, match="not fetched"):
        read_requirements(["https://example.invalid/reqs.txt"], {})


def test_index_urls_union_over_commands_with_http_find_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[install]\nindex-url = {C}\n[wheel]\nextra-index-url = {E}\n")
    environ = {"HOME": str(tmp_path), "PIP_CONFIG_FILE": str(conf)}
    options = IndexOptions(find_links=("http://links.example/", "/local/dir"))
    assert index_urls(options, environ) == [C, "http://links.example/", PYPI, E]
