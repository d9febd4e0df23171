"""locate.py, compat.py, pipconfig.py: where pip's cache is, read by pip's code and our copy.

Every test runs in a scrubbed environment: HOME, the XDG dirs, sys.prefix (site config) and
/etc (global config) all point into tmp_path, and no PIP_* variable is left, so this
machine's own pip configuration never leaks in. The tests that compare with a real
``python -m pip cache dir`` use the machine's /etc and sys.prefix, like pip itself.
"""

from __future__ import annotations

import importlib.metadata
import ntpath
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# pip's modules are imported here, before a test patches sys.prefix: pip computes some
# paths when first imported.
import pip._internal.configuration as pip_configuration_module
import pip._internal.utils.appdirs as pip_appdirs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pip_cache_plus.errors import CacheDisabledError, UsageError
from pip_cache_plus.locate import compat, pipconfig
from pip_cache_plus.locate.cachedir import CacheLocation, find_cache, resolve_cache
from pip_cache_plus.locate.pipconfig import PipConfig, rules_for

PIP_VERSION = pipconfig.pip_version()

USER = "home/.config/pip/pip.conf"
LEGACY = "home/.pip/pip.conf"
XDG_USER = "xdgconf/pip/pip.conf"
GLOBAL_XDG = "xdg/pip/pip.conf"
GLOBAL_ETC = "etc/pip.conf"
SITE = "prefix/pip.conf"
ENV_FILE = "env.conf"


def conf(section: str, **values: str) -> str:
    lines = [
        f"[{section}]",
        *(f"{key.replace('_', '-')} = {value}" for key, value in values.items()),
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    """A scrubbed world plus files, links and variables; ``{tmp}`` is tmp_path."""

    files: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)  # link -> target
    cache_dir: str | None = None
    no_cache_dir: bool = False


@dataclass(frozen=True)
class World:
    tmp: Path

    def fill(self, text: str) -> str:
        return text.format(tmp=self.tmp)

    def options(self, case: Case) -> Case:
        """Only the command-line part of ``case``, filled in."""
        cache_dir = None if case.cache_dir is None else self.fill(case.cache_dir)
        return Case(cache_dir=cache_dir, no_cache_dir=case.no_cache_dir)

    def build(self, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, text in case.files.items():
            path = self.tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.fill(text))
        for link, target in case.links.items():
            (self.tmp / target).mkdir(parents=True, exist_ok=True)
            (self.tmp / link).symlink_to(self.tmp / target, target_is_directory=True)
        for key, value in case.env.items():
            monkeypatch.setenv(key, self.fill(value))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """Scrub the environment; global, user and site configuration live in tmp_path."""
    tmp = Path(os.path.realpath(tmp_path))
    for key in list(os.environ):
        if key.startswith(("PIP_", "XDG_")):
            monkeypatch.delenv(key)
    (tmp / "home").mkdir()
    (tmp / "cwd").mkdir()
    monkeypatch.setenv("HOME", str(tmp / "home"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp / "xdg"))
    monkeypatch.setattr(sys, "prefix", str(tmp / "prefix"))
    monkeypatch.chdir(tmp / "cwd")
    # pip and our copy both append /etc to the XDG config dirs: point both at tmp/etc.
    monkeypatch.setattr(pipconfig, "_ETC_DIR", str(tmp / "etc"))
    real_site_config_dirs = pip_appdirs.site_config_dirs

    def site_config_dirs(appname: str) -> list[str]:
        dirs: list[str] = real_site_config_dirs(appname)
        return [str(tmp / "etc") if d == "/etc" else d for d in dirs]

    monkeypatch.setattr(pip_appdirs, "site_config_dirs", site_config_dirs)
    return World(tmp)


IMPLS = ["pip", "fallback"]


def load(impl: str) -> PipConfig:
    """The configuration as pip's own code reads it, or as our copy does."""
    if impl == "pip":
        config = compat.pip_configuration()
    else:
        config = pipconfig.fallback_configuration(os.environ)
    assert config is not None, "pip's code did not load: compat fell back"
    assert config.reader == impl
    return config


def locate(impl: str, case: Case) -> CacheLocation:
    environ = None if impl == "pip" else dict(os.environ)
    config = load(impl)
    return resolve_cache(config, case.cache_dir, no_cache_dir=case.no_cache_dir, environ=environ)


def outcome(impl: str, case: Case) -> tuple[str, str]:
    """A comparable result: the location, or the error and its message."""
    try:
        found = locate(impl, case)
    except (CacheDisabledError, UsageError) as exc:
        return type(exc).__name__, str(exc)
    return "found", f"{found.path} {found.origin} {found.detail}"


# Precedence --------------------------------------------------------------------------------

# (case, expected path, origin, detail), paths and details with {tmp}.
PRECEDENCE = [
    pytest.param(Case(), "{tmp}/home/.cache/pip", "default", "platform default", id="default"),
    pytest.param(
        Case(env={"XDG_CACHE_HOME": "{tmp}/xc"}),
        "{tmp}/xc/pip",
        "default",
        "platform default",
        id="default-xdg-cache-home",
    ),
    pytest.param(
        Case(
            files={USER: conf("global", cache_dir="{tmp}/u")},
            env={"PIP_CACHE_DIR": "{tmp}/e"},
            cache_dir="{tmp}/o",
        ),
        "{tmp}/o",
        "option",
        "--cache-dir",
        id="option-beats-env-and-config",
    ),
    pytest.param(
        Case(files={USER: conf("cache", cache_dir="{tmp}/u")}, env={"PIP_CACHE_DIR": "{tmp}/e"}),
        "{tmp}/e",
        "env",
        "PIP_CACHE_DIR",
        id="env-beats-config-command-section",
    ),
    pytest.param(
        Case(files={USER: conf("global", cache_dir="{tmp}/u")}, env={"PIP_CACHE_DIR": ""}),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="empty-env-ignored",
    ),
    pytest.param(
        Case(files={USER: conf("global", cache_dir="{tmp}/u")}),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="user",
    ),
    pytest.param(
        Case(files={LEGACY: conf("global", cache_dir="{tmp}/l")}),
        "{tmp}/l",
        "config",
        "{tmp}/home/.pip/pip.conf [global]",
        id="user-legacy",
    ),
    pytest.param(
        Case(
            files={
                LEGACY: conf("global", cache_dir="{tmp}/l"),
                USER: conf("global", cache_dir="{tmp}/u"),
            }
        ),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="user-beats-legacy",
    ),
    pytest.param(
        Case(
            files={
                XDG_USER: conf("global", cache_dir="{tmp}/x"),
                USER: conf("global", cache_dir="{tmp}/u"),
            },
            env={"XDG_CONFIG_HOME": "{tmp}/xdgconf"},
        ),
        "{tmp}/x",
        "config",
        "{tmp}/xdgconf/pip/pip.conf [global]",
        id="user-xdg-config-home",
    ),
    pytest.param(
        Case(files={GLOBAL_XDG: conf("global", cache_dir="{tmp}/g")}),
        "{tmp}/g",
        "config",
        "{tmp}/xdg/pip/pip.conf [global]",
        id="global-xdg",
    ),
    pytest.param(
        Case(
            files={
                GLOBAL_XDG: conf("global", cache_dir="{tmp}/g"),
                GLOBAL_ETC: conf("global", cache_dir="{tmp}/etc-cache"),
            }
        ),
        "{tmp}/etc-cache",
        "config",
        "{tmp}/etc/pip.conf [global]",
        id="global-etc-beats-xdg",
    ),
    pytest.param(
        Case(
            files={
                GLOBAL_ETC: conf("global", cache_dir="{tmp}/g"),
                USER: conf("global", cache_dir="{tmp}/u"),
            }
        ),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="user-beats-global",
    ),
    pytest.param(
        Case(
            files={
                USER: conf("global", cache_dir="{tmp}/u"),
                SITE: conf("global", cache_dir="{tmp}/s"),
            }
        ),
        "{tmp}/s",
        "config",
        "{tmp}/prefix/pip.conf [global]",
        id="site-beats-user",
    ),
    pytest.param(
        Case(
            files={
                SITE: conf("global", cache_dir="{tmp}/s"),
                ENV_FILE: conf("global", cache_dir="{tmp}/f"),
            },
            env={"PIP_CONFIG_FILE": "{tmp}/env.conf"},
        ),
        "{tmp}/f",
        "config",
        "{tmp}/env.conf [global]",
        id="config-file-beats-site",
    ),
    pytest.param(
        Case(
            files={USER: conf("cache", cache_dir="{tmp}/u"), ENV_FILE: "[global]\n"},
            env={"PIP_CONFIG_FILE": "{tmp}/env.conf"},
        ),
        "{tmp}/home/.cache/pip",
        "default",
        "platform default",
        id="config-file-replaces-user-files",
    ),
    pytest.param(
        Case(
            files={USER: conf("global", cache_dir="{tmp}/u")},
            env={"PIP_CONFIG_FILE": "{tmp}/missing.conf"},
        ),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="missing-config-file-keeps-user-files",
    ),
    pytest.param(
        Case(
            files={
                USER: conf("global", cache_dir="{tmp}/u"),
                SITE: conf("cache", cache_dir="{tmp}/s"),
            },
            env={"PIP_CONFIG_FILE": os.devnull},
        ),
        "{tmp}/home/.cache/pip",
        "default",
        "platform default",
        id="devnull-loads-no-file",
    ),
    pytest.param(
        Case(
            files={USER: conf("global", cache_dir="{tmp}/g") + conf("cache", cache_dir="{tmp}/c")}
        ),
        "{tmp}/c",
        "config",
        "{tmp}/home/.config/pip/pip.conf [cache]",
        id="cache-section-beats-global",
    ),
    pytest.param(
        # pip groups by section before priority: [cache] anywhere beats [global] anywhere.
        Case(
            files={
                GLOBAL_XDG: conf("cache", cache_dir="{tmp}/c"),
                SITE: conf("global", cache_dir="{tmp}/s"),
            }
        ),
        "{tmp}/c",
        "config",
        "{tmp}/xdg/pip/pip.conf [cache]",
        id="cache-section-in-global-file-beats-site-global",
    ),
    pytest.param(
        Case(files={USER: conf("install", cache_dir="{tmp}/i")}),
        "{tmp}/home/.cache/pip",
        "default",
        "platform default",
        id="other-command-section-ignored",
    ),
    pytest.param(
        Case(files={USER: "[global]\nCache_Dir = {tmp}/u\n"}),
        "{tmp}/u",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="key-spelling-normalised",
    ),
    pytest.param(
        Case(files={USER: conf("DEFAULT", cache_dir="{tmp}/d") + "[global]\n"}),
        "{tmp}/d",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="configparser-default-section",
    ),
    pytest.param(
        Case(files={USER: conf("global", cache_dir="~/c")}),
        "{tmp}/home/c",
        "config",
        "{tmp}/home/.config/pip/pip.conf [global]",
        id="tilde-in-config",
    ),
    pytest.param(
        Case(env={"PIP_CACHE_DIR": "~/e"}),
        "{tmp}/home/e",
        "env",
        "PIP_CACHE_DIR",
        id="tilde-in-env",
    ),
    pytest.param(
        Case(cache_dir="~/o"), "{tmp}/home/o", "option", "--cache-dir", id="tilde-in-option"
    ),
    pytest.param(
        Case(env={"PIP_CACHE_DIR": "rel/c"}),
        "{tmp}/cwd/rel/c",
        "env",
        "PIP_CACHE_DIR",
        id="relative",
    ),
    pytest.param(
        Case(env={"PIP_CACHE_DIR": "{tmp}/link"}, links={"link": "real/cache"}),
        "{tmp}/real/cache",
        "env",
        "PIP_CACHE_DIR",
        id="symlink-resolved",
    ),
    pytest.param(
        Case(env={"HOME": "{tmp}/home2"}, links={"home2": "realhome"}),
        "{tmp}/realhome/.cache/pip",
        "default",
        "platform default",
        id="symlinked-home-resolved",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("case", "path", "origin", "detail"), PRECEDENCE)
def test_precedence(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    impl: str,
    case: Case,
    path: str,
    origin: str,
    detail: str,
) -> None:
    world.build(case, monkeypatch)
    found = locate(impl, world.options(case))
    assert (found.path, found.origin, found.detail) == (
        Path(world.fill(path)),
        origin,
        world.fill(detail),
    )


# Disabled and invalid -----------------------------------------------------------------------

DISABLED = [
    pytest.param(Case(no_cache_dir=True), "--no-cache-dir", id="option"),
    *(
        pytest.param(
            Case(env={"PIP_NO_CACHE_DIR": value}), f"PIP_NO_CACHE_DIR={value}", id=f"env-{value}"
        )
        for value in ("1", "true", "YES", "on", "false", "no", "0", "off")
    ),
    pytest.param(
        Case(env={"PIP_NO_CACHE_DIR": "1", "PIP_CACHE_DIR": "{tmp}/e"}),
        "PIP_NO_CACHE_DIR=1",
        id="env-beats-cache-dir-env",
    ),
    pytest.param(
        Case(files={USER: conf("global", no_cache_dir="true")}),
        "no-cache-dir = true in {tmp}/home/.config/pip/pip.conf [global]",
        id="config-global",
    ),
    pytest.param(
        Case(
            files={
                USER: conf("cache", no_cache_dir="off"),
                SITE: conf("cache", cache_dir="{tmp}/s"),
            }
        ),
        "no-cache-dir = off in {tmp}/home/.config/pip/pip.conf [cache]",
        id="config-beats-higher-cache-dir",
    ),
    pytest.param(Case(cache_dir=""), "--cache-dir is empty", id="empty-option"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("case", "reason"), DISABLED)
def test_disabled(
    world: World, monkeypatch: pytest.MonkeyPatch, impl: str, case: Case, reason: str
) -> None:
    world.build(case, monkeypatch)
    with pytest.raises(CacheDisabledError) as caught:
        locate(impl, case)
    assert f"({world.fill(reason)}" in str(caught.value)


def test_disabled_by_false_says_why(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "false")
    with pytest.raises(CacheDisabledError, match="even a false one"):
        find_cache()


NOT_DISABLED = [
    pytest.param(Case(env={"PIP_NO_CACHE_DIR": ""}), "default", id="empty-env"),
    pytest.param(
        Case(files={USER: conf("install", no_cache_dir="yes")}), "default", id="other-command"
    ),
    pytest.param(
        Case(env={"PIP_NO_CACHE_DIR": "1"}, cache_dir="{tmp}/o"), "option", id="option-beats-env"
    ),
    pytest.param(
        Case(files={USER: conf("global", no_cache_dir="1")}, cache_dir="{tmp}/o"),
        "option",
        id="option-beats-config",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("case", "origin"), NOT_DISABLED)
def test_not_disabled(
    world: World, monkeypatch: pytest.MonkeyPatch, impl: str, case: Case, origin: str
) -> None:
    world.build(case, monkeypatch)
    assert locate(impl, world.options(case)).origin == origin


INVALID = [
    pytest.param(Case(env={"PIP_NO_CACHE_DIR": "maybe"}), id="env"),
    pytest.param(Case(env={"PIP_NO_CACHE_DIR": "maybe"}, cache_dir="/o"), id="env-with-option"),
    pytest.param(
        Case(env={"PIP_NO_CACHE_DIR": "maybe"}, no_cache_dir=True), id="env-with-no-cache-dir"
    ),
    pytest.param(Case(files={USER: conf("cache", no_cache_dir="sometimes")}), id="config"),
    pytest.param(Case(files={USER: "cache-dir = /no/section\n"}), id="config-no-section"),
    pytest.param(
        Case(files={USER: "[global]\ncache-dir = /a\ncache-dir = /b\n"}), id="config-duplicate"
    ),
    pytest.param(Case(cache_dir="/o", no_cache_dir=True), id="option-conflict"),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", INVALID)
def test_invalid(world: World, monkeypatch: pytest.MonkeyPatch, impl: str, case: Case) -> None:
    world.build(case, monkeypatch)
    with pytest.raises(UsageError) as caught:
        locate(impl, case)
    assert "\n" not in str(caught.value)


# Both implementations, and pip's versions --------------------------------------------------

# Cases where pip versions differ; the tables above hold for every pip.
VERSION_DEPENDENT = [
    pytest.param(
        Case(
            files={
                GLOBAL_XDG: conf("global", cache_dir="{tmp}/g"),
                USER: conf("global", cache_dir=""),
            }
        ),
        id="empty-user-value-over-global",
    ),
    pytest.param(
        Case(
            files={
                GLOBAL_XDG: conf("global", no_cache_dir="yes"),
                USER: conf("global", no_cache_dir=""),
            }
        ),
        id="empty-user-no-cache-dir-over-global",
    ),
    pytest.param(
        Case(
            files={
                GLOBAL_XDG: conf("global", no_cache_dir="maybe"),
                USER: conf("global", no_cache_dir="1"),
            }
        ),
        id="invalid-global-hidden-by-user",
    ),
    pytest.param(Case(env={"XDG_CACHE_HOME": "rel"}), id="relative-xdg-cache-home"),
    pytest.param(Case(env={"XDG_CACHE_HOME": " {tmp}/xc "}), id="padded-xdg-cache-home"),
    pytest.param(
        Case(env={"XDG_CONFIG_DIRS": "{tmp}/a:rel:{tmp}/b"}), id="relative-xdg-config-dir"
    ),
    pytest.param(
        Case(
            files={GLOBAL_XDG: conf("global", extra_index_url="https://g/simple")},
            env={"PIP_EXTRA_INDEX_URL": ""},
        ),
        id="empty-env-over-config",
    ),
]


ALL_CASES = [
    *(
        pytest.param(param.values[0], id=f"{name}-{param.id}")
        for name, table in [
            ("precedence", PRECEDENCE),
            ("disabled", DISABLED),
            ("not-disabled", NOT_DISABLED),
            ("invalid", INVALID),
        ]
        for param in table
    ),
    *VERSION_DEPENDENT,
]


@pytest.mark.parametrize("case", ALL_CASES)
def test_implementations_agree(world: World, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    """Our copy of pip's rules gives what the installed pip's code gives, errors included."""
    world.build(case, monkeypatch)
    case = world.options(case)
    pip_result = outcome("pip", case)
    if pip_result[0] == "UsageError" and "configuration" in pip_result[1]:
        # A broken file: both refuse it, in their own words.
        assert outcome("fallback", case)[0] == "UsageError"
        return
    assert outcome("fallback", case) == pip_result
    for impl in IMPLS:
        for command, names in [("cache", CACHE_NAMES), ("install", INDEX_NAMES)]:
            ours = [(item.name, item.value) for item in load(impl).for_command(command, names)]
            assert ours == pip_parser_items(command, names), (impl, command)


CACHE_NAMES = {"cache-dir", "no-cache-dir"}
INDEX_NAMES = {"index-url", "extra-index-url"}


def pip_parser_items(command: str, names: set[str]) -> list[tuple[str, str]]:
    """What pip's own option parser applies for ``command``, in order."""
    from pip._internal.cli.parser import ConfigOptionParser

    parser = ConfigOptionParser(name=command, isolated=False)
    parser.config.load()
    return [(key, val) for key, val in parser._get_ordered_configuration_items() if key in names]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("23.2.1", "{tmp}/home/.cache/pip", id="23.2-hides"),
        pytest.param("25.1.1", "{tmp}/home/.cache/pip", id="25.1-hides"),
        pytest.param("25.2", "{tmp}/g", id="25.2-falls-through"),
        pytest.param("25.3", "{tmp}/g", id="25.3-falls-through"),
        pytest.param("26.0", "{tmp}/home/.cache/pip", id="26.0-hides"),
        pytest.param("26.3", "{tmp}/home/.cache/pip", id="26.3-hides"),
    ],
)
def test_empty_value_falls_through_only_in_pip_25_2_and_25_3(
    world: World, monkeypatch: pytest.MonkeyPatch, version: str, expected: str
) -> None:
    """An empty value in a higher file hides a lower file's value, except in 25.2-25.3."""
    files = {GLOBAL_XDG: conf("global", cache_dir="{tmp}/g"), USER: conf("global", cache_dir="")}
    world.build(Case(files=files), monkeypatch)
    config = pipconfig.fallback_configuration(os.environ, rules=rules_for(version))
    assert resolve_cache(config).path == Path(world.fill(expected))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("25.3", "{tmp}/cwd/rel/pip", id="raw"),
        pytest.param("26.2", "{tmp}/cwd/rel/pip", id="stripped"),
        pytest.param("26.3", "{tmp}/home/.cache/pip", id="absolute-only"),
        pytest.param(None, "{tmp}/home/.cache/pip", id="unknown-is-newest"),
    ],
)
def test_relative_xdg_cache_home_ignored_since_pip_26_3(
    world: World, monkeypatch: pytest.MonkeyPatch, version: str | None, expected: str
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "rel")
    config = pipconfig.fallback_configuration(os.environ, rules=rules_for(version))
    assert resolve_cache(config).path == Path(world.fill(expected))


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="plain"),
        pytest.param(
            {"XDG_CONFIG_HOME": "{tmp}/xdgconf", "XDG_CONFIG_DIRS": "{tmp}/a:{tmp}/b"}, id="xdg"
        ),
        pytest.param({"XDG_CONFIG_DIRS": ""}, id="xdg-config-dirs-empty"),
        pytest.param({"XDG_CONFIG_DIRS": "{tmp}/a:rel: {tmp}/b :"}, id="xdg-config-dirs-odd"),
        pytest.param({"XDG_CONFIG_HOME": "rel"}, id="xdg-config-home-relative"),
        pytest.param({"PIP_CONFIG_FILE": "{tmp}/env.conf"}, id="config-file"),
        pytest.param({"PIP_CONFIG_FILE": "{tmp}/missing.conf"}, id="config-file-missing"),
        pytest.param({"PIP_CONFIG_FILE": ""}, id="config-file-empty"),
    ],
)
def test_config_file_list_matches_pip(
    world: World, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    world.build(Case(files={ENV_FILE: "[global]\n"}, env=env), monkeypatch)
    pip_config = pip_configuration_module.Configuration(isolated=False)
    expected = {str(kind): list(files) for kind, files in pip_config.iter_config_files()}
    assert dict(pipconfig.config_files(os.environ)) == expected


def test_devnull_lists_no_file(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    assert pipconfig.config_files(os.environ) == []


def test_find_cache_reads_with_pip_unless_given_another_environ(world: World) -> None:
    assert compat.load_configuration().reader == "pip"
    assert compat.load_configuration(os.environ).reader == "pip"
    assert compat.load_configuration(dict(os.environ)).reader == "fallback"
    assert find_cache() == find_cache(environ=dict(os.environ))


def test_environ_mapping_is_honoured_without_touching_os_environ(world: World) -> None:
    environ = {"HOME": str(world.tmp / "elsewhere"), "PIP_CACHE_DIR": "~/c"}
    assert find_cache(environ=environ).path == world.tmp / "elsewhere" / "c"
    assert find_cache(environ={"HOME": str(world.tmp / "h2")}).path == world.tmp / "h2/.cache/pip"


@pytest.mark.parametrize(
    "break_pip",
    [
        pytest.param(
            lambda mp: mp.setitem(sys.modules, "pip._internal.configuration", None), id="missing"
        ),
        pytest.param(
            lambda mp: mp.delattr(pip_configuration_module.Configuration, "items"), id="moved"
        ),
    ],
)
def test_falls_back_when_pip_internals_are_unavailable(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    break_pip: Callable[[pytest.MonkeyPatch], None],
) -> None:
    monkeypatch.setenv("PIP_CACHE_DIR", str(world.tmp / "e"))
    break_pip(monkeypatch)
    assert compat.pip_configuration() is None
    assert compat.load_configuration().reader == "fallback"
    assert find_cache().path == world.tmp / "e"


# Platform defaults (our copy only: pip's code knows only the platform it runs on) ----------


@pytest.mark.parametrize(
    ("platform", "environ", "version", "expected"),
    [
        pytest.param("linux", {"HOME": "/home/u"}, None, "/home/u/.cache/pip", id="linux"),
        pytest.param(
            "linux", {"HOME": "/home/u", "XDG_CACHE_HOME": "/x"}, None, "/x/pip", id="linux-xdg"
        ),
        pytest.param(
            "linux",
            {"HOME": "/home/u", "XDG_CACHE_HOME": "  "},
            "23.2.1",
            "/home/u/.cache/pip",
            id="linux-blank-xdg",
        ),
        pytest.param(
            "darwin", {"HOME": "/Users/u"}, None, "/Users/u/Library/Caches/pip", id="macos"
        ),
        pytest.param(
            "darwin",
            {"HOME": "/Users/u", "XDG_CACHE_HOME": "/x"},
            "26.1",
            "/Users/u/Library/Caches/pip",
            id="macos-xdg-ignored-before-26.2",
        ),
        pytest.param(
            "darwin",
            {"HOME": "/Users/u", "XDG_CACHE_HOME": "/x"},
            "26.2",
            "/x/pip",
            id="macos-xdg-26.2",
        ),
        pytest.param(
            "win32",
            {"LOCALAPPDATA": r"C:\Users\u\AppData\Local", "USERPROFILE": r"C:\Users\u"},
            None,
            r"C:\Users\u\AppData\Local\pip\Cache",
            id="windows",
        ),
        pytest.param(
            "win32",
            {"USERPROFILE": r"C:\Users\u", "XDG_CACHE_HOME": "/x"},
            None,
            r"C:\Users\u\AppData\Local\pip\Cache",
            id="windows-no-localappdata",
        ),
    ],
)
def test_platform_default(
    platform: str, environ: dict[str, str], version: str | None, expected: str
) -> None:
    rules = rules_for(version)
    assert pipconfig.default_cache_dir(environ, rules=rules, platform=platform) == expected


def test_windows_config_files(world: World) -> None:
    environ = {
        "USERPROFILE": r"C:\Users\u",
        "APPDATA": r"C:\Users\u\AppData\Roaming",
        "ALLUSERSPROFILE": r"C:\ProgramData",
    }
    files = dict(pipconfig.config_files(environ, platform="win32"))
    assert files["global"] == [r"C:\ProgramData\pip\pip.ini"]
    assert files["user"] == [r"C:\Users\u\pip\pip.ini", r"C:\Users\u\AppData\Roaming\pip\pip.ini"]
    assert files["site"] == [ntpath.join(sys.prefix, "pip.ini")]


def test_macos_config_files(world: World) -> None:
    environ = {"HOME": "/Users/u"}
    files = dict(pipconfig.config_files(environ, platform="darwin", rules=rules_for("26.1")))
    assert files["global"] == ["/Library/Application Support/pip/pip.conf"]
    assert files["user"] == ["/Users/u/.pip/pip.conf", "/Users/u/.config/pip/pip.conf"]


# Index URLs --------------------------------------------------------------------------------

PYPI = compat.PYPI_SIMPLE_URL
INDEX_URLS = [
    pytest.param(Case(), [PYPI], id="default"),
    pytest.param(
        Case(env={"PIP_INDEX_URL": "https://m/simple"}), ["https://m/simple"], id="env-index"
    ),
    pytest.param(
        Case(env={"PIP_EXTRA_INDEX_URL": "https://a/simple  https://b/simple"}),
        [PYPI, "https://a/simple", "https://b/simple"],
        id="env-extra-space-separated",
    ),
    pytest.param(
        Case(
            files={
                USER: conf("global", index_url="https://g/simple")
                + conf("download", index_url="https://d/simple", extra_index_url="https://x/simple")
            }
        ),
        ["https://g/simple", "https://d/simple", "https://x/simple"],
        id="config-sections",
    ),
    pytest.param(
        Case(
            files={USER: conf("install", extra_index_url="https://c/simple")},
            env={"PIP_EXTRA_INDEX_URL": "https://e/simple"},
        ),
        [PYPI, "https://e/simple"],
        id="env-replaces-config-extra",
    ),
    pytest.param(
        Case(files={USER: conf("global", pypi_url="https://alias/simple")}),
        ["https://alias/simple"],
        id="pypi-url-alias",
    ),
    pytest.param(
        Case(files={USER: conf("freeze", index_url="https://f/simple")}),
        [PYPI],
        id="unrelated-command",
    ),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("case", "expected"), INDEX_URLS)
def test_configured_index_urls(
    world: World, monkeypatch: pytest.MonkeyPatch, impl: str, case: Case, expected: list[str]
) -> None:
    world.build(case, monkeypatch)
    environ = os.environ if impl == "pip" else dict(os.environ)
    assert compat.load_configuration(environ).reader == impl
    assert compat.configured_index_urls(environ) == expected


# HTTP cache paths and version ----------------------------------------------------------------


@pytest.fixture
def pip_cache_path() -> Iterator[None]:
    assert compat.pip_cache_relative_path("x") is not None, "pip's SafeFileCache did not load"
    yield


@pytest.mark.usefixtures("pip_cache_path")
@pytest.mark.parametrize(
    "key",
    [
        pytest.param("https://pypi.org/simple/pip/", id="page"),
        pytest.param(
            "https://files.pythonhosted.org/packages/a/b/pip-26.0-py3-none-any.whl", id="file"
        ),
        pytest.param("https://h/ü/€?q=1", id="non-ascii"),
        pytest.param("", id="empty"),
    ],
)
@pytest.mark.parametrize("legacy", [True, False], ids=["http", "http-v2"])
def test_cache_relative_path_matches_pip(key: str, legacy: bool) -> None:
    import hashlib

    digest = hashlib.sha224(key.encode()).hexdigest()
    expected = (digest[0], digest[1], digest[2], digest[3], digest[4], digest)
    assert compat.cache_relative_path(key, legacy) == expected
    assert compat.pip_cache_relative_path(key) == expected
    assert compat.fallback_cache_relative_path(key) == expected


@pytest.mark.usefixtures("pip_cache_path")
@settings(deadline=None)  # a loaded machine, not the code, makes one example slow
@given(st.text())
def test_cache_relative_path_property(key: str) -> None:
    assert compat.pip_cache_relative_path(key) == compat.fallback_cache_relative_path(key)


def test_cache_relative_path_without_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    compat._pip_cache_path_function.cache_clear()
    monkeypatch.setitem(sys.modules, "pip._internal.network.cache", None)
    try:
        assert compat.pip_cache_relative_path("k") is None
        assert compat.cache_relative_path("k", False) == compat.fallback_cache_relative_path("k")
    finally:
        compat._pip_cache_path_function.cache_clear()


def test_pip_version() -> None:
    assert importlib.metadata.version("pip") == PIP_VERSION


def test_rules_for() -> None:
    assert rules_for("25.1.1") == pipconfig.PipRules(
        values_by_file=False, fallthrough=False, xdg="raw", xdg_on_macos=False
    )
    assert rules_for("25.3").fallthrough
    assert not rules_for("26.0").fallthrough
    assert rules_for("26.3.dev0") == rules_for("26.3") == rules_for("nonsense")


# Against a real `python -m pip cache dir` --------------------------------------------------

REAL_PIP = [
    pytest.param(Case(), id="default"),
    pytest.param(Case(env={"XDG_CACHE_HOME": "{tmp}/xc"}), id="xdg-cache-home"),
    pytest.param(Case(env={"PIP_CACHE_DIR": "rel/c"}), id="relative-env"),
    pytest.param(Case(cache_dir="~/o"), id="option-tilde"),
    pytest.param(
        Case(files={USER: conf("global", cache_dir="{tmp}/g") + conf("cache", cache_dir="~/c")}),
        id="user-cache-section",
    ),
    pytest.param(
        Case(
            files={
                USER: conf("global", cache_dir="{tmp}/u"),
                ENV_FILE: conf("cache", cache_dir="{tmp}/f"),
            },
            env={"PIP_CONFIG_FILE": "{tmp}/env.conf"},
        ),
        id="config-file",
    ),
    pytest.param(
        Case(
            files={USER: conf("global", cache_dir="{tmp}/u")}, env={"PIP_CONFIG_FILE": os.devnull}
        ),
        id="devnull",
    ),
    pytest.param(
        Case(
            files={
                GLOBAL_XDG: conf("global", cache_dir="{tmp}/g"),
                USER: conf("global", cache_dir=""),
            }
        ),
        id="empty-user-value",
    ),
    pytest.param(Case(env={"PIP_CACHE_DIR": "{tmp}/link"}, links={"link": "real"}), id="symlink"),
    pytest.param(Case(env={"PIP_NO_CACHE_DIR": "false"}), id="disabled-false"),
    pytest.param(Case(files={USER: conf("cache", no_cache_dir="1")}), id="disabled-config"),
    pytest.param(Case(env={"PIP_NO_CACHE_DIR": "maybe"}), id="invalid"),
    pytest.param(Case(files={USER: "no section\n"}), id="broken-config"),
]


@pytest.fixture
def real_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """Only HOME, PATH and the XDG config dirs: pip sees this machine's /etc and prefix."""
    tmp = Path(os.path.realpath(tmp_path))
    (tmp / "home").mkdir()
    (tmp / "cwd").mkdir()
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT") if k in os.environ}
    for key in list(os.environ):
        monkeypatch.delenv(key)
    for key, value in {
        **keep,
        "HOME": str(tmp / "home"),
        "XDG_CONFIG_DIRS": str(tmp / "xdg"),
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp / "cwd")
    return World(tmp)


def real_pip_outcome(case: Case, cwd: Path) -> str:
    option = [] if case.cache_dir is None else ["--cache-dir", case.cache_dir]
    result = subprocess.run(
        [sys.executable, "-m", "pip", *option, "cache", "dir"],
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return result.stdout.strip()
    if result.returncode == 1 and "cache is disabled" in result.stderr:
        return "disabled"
    assert result.returncode == 2, result.stderr
    return "usage error"


def our_outcome(case: Case, environ: Mapping[str, str] | None) -> str:
    try:
        return str(find_cache(case.cache_dir, environ=environ).path)
    except CacheDisabledError:
        return "disabled"
    except UsageError:
        return "usage error"


@pytest.mark.parametrize("case", REAL_PIP)
def test_same_as_real_pip(real_world: World, monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    real_world.build(case, monkeypatch)
    case = real_world.options(case)
    pip_says = real_pip_outcome(case, real_world.tmp / "cwd")
    assert our_outcome(case, None) == pip_says, "read by pip's code"
    assert our_outcome(case, dict(os.environ)) == pip_says, "read by our copy"
