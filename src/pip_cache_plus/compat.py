"""pip's own view of its configuration, behind one door.

This is the only module that imports pip internals, and it does so inside functions:
importing pip costs about 0.2 s, and its internals move between releases. Each answer
comes from pip's own code when that imports and behaves as expected, and otherwise from
a pure-Python copy of the same rules (checked against the source of pip 23.2.1 to 26.3).

pip reads ``os.environ`` only, so a caller that passes another mapping gets the copy.
"""

from __future__ import annotations

import configparser
import hashlib
import locale
import ntpath
import os
import posixpath
import re
import sys
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from itertools import chain
from pathlib import PurePath
from types import ModuleType
from typing import Any, Literal

from pip_cache_plus.errors import UsageError

ENV_SECTION = ":env:"
"""The pseudo-section pip files ``PIP_*`` environment variables under."""

PYPI_SIMPLE_URL = "https://pypi.org/simple/"

ItemOrigin = Literal["env", "config"]
XdgRule = Literal["raw", "stripped", "absolute"]

# The option names anything in pip_cache_plus asks about; "pypi-url" is an alias of
# "--index-url" that pip still accepts.
_NAMES = frozenset({"cache-dir", "no-cache-dir", "index-url", "pypi-url", "extra-index-url"})
_ENV_NAMES_IGNORED = ("version", "help")  # pip's ENV_NAMES_IGNORED
_INDEX_COMMANDS = ("install", "download", "wheel", "index", "lock")
_ETC_DIR = "/etc"  # pip appends it to the XDG config dirs; tests point it elsewhere
_XDG_CONFIG_DIRS_DEFAULT = "/etc/xdg"
_DUMMY_CACHE_DIR = PurePath(os.sep, "pip-cache-plus-dummy")
# Anything else from pip's side means its internals moved: use the copy instead.
_PIP_MOVED = (ImportError, AttributeError, TypeError, ValueError)


@dataclass(frozen=True, slots=True)
class ConfigItem:
    """One ``section.name = value`` pip read from a file or a ``PIP_*`` variable."""

    section: str  # "global", a command name, or ENV_SECTION
    name: str  # normalised as pip does: "cache-dir"
    value: str
    origin: ItemOrigin
    source: str  # the file, or the variable ("PIP_CACHE_DIR")


@dataclass(frozen=True, slots=True)
class PipConfig:
    """The configuration values we care about, in the order pip reads them."""

    items: tuple[ConfigItem, ...]
    default_cache_dir: str  # platformdirs.user_cache_dir("pip", appauthor=False)
    reader: Literal["pip", "fallback"]
    fallthrough: bool  # see PipRules

    def for_command(self, command: str, names: Collection[str]) -> list[ConfigItem]:
        """What pip's option parser applies for ``command``, in order, each later item
        overriding: ``[global]``, then ``[command]``, then ``PIP_*`` variables."""
        order = ("global", command, ENV_SECTION)
        chosen = [
            item
            for section in order
            for item in self.items
            if item.section == section and item.name in names
        ]
        if not self.fallthrough:
            # One value per section and name, from the highest file: an empty value there
            # hides the others. A dict keeps the first position and the last value, as pip's.
            chosen = list({(item.section, item.name): item for item in chosen}.values())
        return [item for item in chosen if item.value]  # pip skips empty values


@dataclass(frozen=True, slots=True)
class PipRules:
    """The rules that changed between the pip versions we support."""

    # pip >= 25.2 keeps one dict of values per file name: a file listed twice counts once.
    values_by_file: bool
    # pip 25.2 and 25.3 apply every file's value in turn, so an empty value falls through
    # to a lower file's and each no-cache-dir value is checked; 26.0 went back to one
    # value per key.
    fallthrough: bool
    # How platformdirs reads XDG_* variables: any non-blank value (pip < 26.2),
    # stripped (26.2) or stripped and absolute only (26.3+).
    xdg: XdgRule
    # platformdirs honours XDG_* on macOS too since pip 26.2.
    xdg_on_macos: bool


def rules_for(version: str | None) -> PipRules:
    """The rules of pip ``version``; the newest known ones if unknown."""
    match = re.match(r"(\d+)\.(\d+)", version or "")
    release = (int(match[1]), int(match[2])) if match else (999, 0)
    xdg: XdgRule = "raw" if release < (26, 2) else "stripped" if release < (26, 3) else "absolute"
    return PipRules(
        values_by_file=release >= (25, 2),
        fallthrough=(25, 2) <= release < (26, 0),
        xdg=xdg,
        xdg_on_macos=release >= (26, 2),
    )


def pip_version() -> str | None:
    """The version of the pip importable here, or None without one."""
    try:
        import pip
    except ImportError:
        return None
    version = getattr(pip, "__version__", None)
    return version if isinstance(version, str) else None


def load_configuration(environ: Mapping[str, str] | None = None) -> PipConfig:
    """pip's configuration: read by pip itself when it can, else by our copy."""
    if environ is None or environ is os.environ:
        config = pip_configuration()
        if config is not None:
            return config
        environ = os.environ
    return fallback_configuration(environ)


def configured_index_urls(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every index URL pip would fetch pages from, for any command that uses an index.

    Per command pip takes the last ``index-url`` (default PyPI) and the last
    ``extra-index-url`` (space separated) from ``[global]``, ``[<command>]`` and
    ``PIP_*``. pip joins a project name to a base URL with ``posixpath.join``, so a
    trailing slash makes no difference.
    """
    config = load_configuration(environ)
    urls: dict[str, None] = {}
    for command in _INDEX_COMMANDS:
        index = config.for_command(command, {"index-url", "pypi-url"})
        extra = config.for_command(command, {"extra-index-url"})
        urls[index[-1].value if index else PYPI_SIMPLE_URL] = None
        urls.update(dict.fromkeys(extra[-1].value.split() if extra else ()))
    return list(urls)


# pip's own code ------------------------------------------------------------------------


def pip_configuration(environ: Mapping[str, str] | None = None) -> PipConfig | None:
    """pip's configuration as pip's ``Configuration`` reads it.

    None when ``environ`` is not ``os.environ`` (pip cannot read anything else), when
    pip is missing, or when its internals moved: the caller then uses the copy.
    """
    if environ is not None and environ is not os.environ:
        return None
    try:
        with warnings.catch_warnings():
            # pip's vendored code may warn on a new Python; that is not our users' business.
            warnings.simplefilter("ignore")
            return _read_with_pip()
    except _PIP_MOVED:
        return None


def _read_with_pip() -> PipConfig:
    from pip._internal.configuration import Configuration
    from pip._internal.exceptions import ConfigurationError
    from pip._internal.utils.appdirs import user_cache_dir

    config = Configuration(isolated=False)
    try:
        config.load()
    except ConfigurationError as exc:
        raise UsageError(f"pip's configuration could not be loaded: {_one_line(exc)}") from exc
    # The option parser's part is not in Configuration: take the installed pip's rules.
    fallthrough = rules_for(pip_version()).fallthrough
    # Called now, not pip's USER_CACHE_DIR: that constant froze the environment at import.
    return PipConfig(tuple(_pip_items(config)), str(user_cache_dir("pip")), "pip", fallthrough)


def _pip_items(config: Any) -> Iterator[ConfigItem]:
    for key, value in config.items():
        if isinstance(value, dict):  # pip >= 25.2: one dict per file, ":env:" for variables
            for section_key, one in value.items():
                yield from _item(section_key, one, key)
        else:  # older pips: one merged value per key; find the file it came from
            yield from _item(key, value, _merged_source(config, key))


def _merged_source(config: Any, key: str) -> str:
    section, _, name = key.partition(".")
    for variant in ("env-var", "env", "site", "user", "global"):  # pip's OVERRIDE_ORDER, reversed
        if key not in config.get_values_in_config(variant):
            continue
        if variant == "env-var":
            return ENV_SECTION
        for fname, parser in reversed(config._parsers[variant]):
            if parser.has_section(section) and name in map(
                _normalize_name, parser.options(section)
            ):
                return str(fname)
    return ENV_SECTION if section == ENV_SECTION else "pip configuration"


def _item(section_key: str, value: Any, source: str) -> Iterator[ConfigItem]:
    section, _, name = section_key.partition(".")
    if name in _NAMES:
        if source == ENV_SECTION:
            yield ConfigItem(section, name, str(value), "env", _env_var_name(name))
        else:
            yield ConfigItem(section, name, str(value), "config", source)


def pip_cache_relative_path(key: str) -> tuple[str, ...] | None:
    """The path pip's ``SafeFileCache`` gives ``key``, relative to the cache; None
    if pip's code is unavailable."""
    get_path = _pip_cache_path_function()
    if get_path is None:
        return None
    try:
        return PurePath(get_path(key)).relative_to(_DUMMY_CACHE_DIR).parts
    except _PIP_MOVED:
        return None


@cache
def _pip_cache_path_function() -> Callable[[str], str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pip._internal.network.cache import SafeFileCache

            # The constructor only stores the directory; nothing is created.
            get_path: Callable[[str], str] = SafeFileCache(str(_DUMMY_CACHE_DIR))._get_cache_path
    except _PIP_MOVED:
        return None
    return get_path


def cache_relative_path(key: str, legacy: bool) -> tuple[str, ...]:
    """Path parts of the HTTP cache entry for ``key`` under ``http/`` (``legacy``) or
    ``http-v2/``.

    Both directories use the same layout (cachecontrol's ``FileCache._fn`` in pip < 23.3,
    ``SafeFileCache._get_cache_path`` since): ``legacy`` is where a divergence would go.
    """
    del legacy  # same layout in both, see above
    parts = pip_cache_relative_path(key)
    return parts if parts is not None else fallback_cache_relative_path(key)


def fallback_cache_relative_path(key: str) -> tuple[str, ...]:
    digest = hashlib.sha224(key.encode()).hexdigest()
    return (*digest[:5], digest)


# The copy --------------------------------------------------------------------------------


def fallback_configuration(
    environ: Mapping[str, str], *, rules: PipRules | None = None, platform: str | None = None
) -> PipConfig:
    """pip's configuration read by our copy of pip's rules (by default, the rules of the
    pip installed here)."""
    rules = rules or rules_for(pip_version())
    files = [
        name for _, names in config_files(environ, rules=rules, platform=platform) for name in names
    ]
    if rules.values_by_file:
        files = list(dict.fromkeys(files))
    groups = chain((_read_file(name) for name in files), [list(_env_items(environ))])
    default = default_cache_dir(environ, rules=rules, platform=platform)
    return PipConfig(tuple(chain.from_iterable(groups)), default, "fallback", rules.fallthrough)


def config_files(
    environ: Mapping[str, str], *, rules: PipRules | None = None, platform: str | None = None
) -> list[tuple[str, list[str]]]:
    """pip's configuration files as ``(kind, files)``, lowest priority first."""
    rules = rules or rules_for(pip_version())
    platform = platform or sys.platform
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:  # pip's documented way to load no file at all
        return []
    path = _path_module(platform)
    basename = "pip.ini" if _is_windows(platform) else "pip.conf"
    kinds = [
        ("global", [path.join(d, basename) for d in _site_config_dirs(environ, rules, platform)])
    ]
    # A PIP_CONFIG_FILE that exists replaces the user's files.
    if not (env_file and os.path.exists(env_file)):
        legacy_dir = "pip" if _is_windows(platform) else ".pip"
        legacy = path.join(expanduser("~", environ, platform), legacy_dir, basename)
        kinds.append(
            ("user", [legacy, path.join(_user_config_dir(environ, rules, platform), basename)])
        )
    kinds.append(("site", [path.join(sys.prefix, basename)]))
    kinds.append(("env", [] if env_file is None else [env_file]))
    return kinds


def default_cache_dir(
    environ: Mapping[str, str], *, rules: PipRules | None = None, platform: str | None = None
) -> str:
    """``platformdirs.user_cache_dir("pip", appauthor=False)`` as pip's copy computes it."""
    rules = rules or rules_for(pip_version())
    platform = platform or sys.platform
    if _is_windows(platform):
        local = environ.get("LOCALAPPDATA") or ntpath.join(
            expanduser("~", environ, platform), "AppData", "Local"
        )
        return ntpath.join(ntpath.normpath(local), "pip", "Cache")
    xdg = _xdg_dir(environ.get("XDG_CACHE_HOME", ""), rules)
    if platform == "darwin" and not (xdg and rules.xdg_on_macos):
        return posixpath.join(expanduser("~/Library/Caches", environ, platform), "pip")
    return posixpath.join(xdg or expanduser("~/.cache", environ, platform), "pip")


def _user_config_dir(environ: Mapping[str, str], rules: PipRules, platform: str) -> str:
    if _is_windows(platform):
        roaming = environ.get("APPDATA") or ntpath.join(
            expanduser("~", environ, platform), "AppData", "Roaming"
        )
        return ntpath.join(ntpath.normpath(roaming), "pip")
    if platform == "darwin":
        # pip prefers ~/Library/Application Support/pip when it exists, else ~/.config/pip.
        xdg = _xdg_dir(environ.get("XDG_DATA_HOME", ""), rules) if rules.xdg_on_macos else None
        data = xdg or expanduser("~/Library/Application Support", environ, platform)
        support = posixpath.join(data, "pip")
        if os.path.isdir(support):
            return support
        return expanduser("~/.config/pip", environ, platform)
    xdg = _xdg_dir(environ.get("XDG_CONFIG_HOME", ""), rules)
    return posixpath.join(xdg or expanduser("~/.config", environ, platform), "pip")


def _site_config_dirs(environ: Mapping[str, str], rules: PipRules, platform: str) -> list[str]:
    if _is_windows(platform):
        common = environ.get("ALLUSERSPROFILE") or environ.get("PROGRAMDATA") or r"C:\ProgramData"
        return [ntpath.join(ntpath.normpath(common), "pip")]
    if platform == "darwin":
        dirs = _xdg_dirs(environ.get("XDG_DATA_DIRS", ""), rules) if rules.xdg_on_macos else []
        return [posixpath.join(d, "pip") for d in dirs or ["/Library/Application Support"]]
    dirs = _xdg_dirs(environ.get("XDG_CONFIG_DIRS", ""), rules) or [_XDG_CONFIG_DIRS_DEFAULT]
    return [*(posixpath.join(d, "pip") for d in dirs), _ETC_DIR]


def _xdg_dir(value: str, rules: PipRules) -> str | None:
    if rules.xdg == "raw":
        return value if value.strip() else None
    stripped = value.strip()
    if rules.xdg == "stripped":
        return stripped or None
    return stripped if posixpath.isabs(stripped) else None


def _xdg_dirs(value: str, rules: PipRules) -> list[str]:
    if rules.xdg == "raw":
        return value.split(os.pathsep) if value.strip() else []
    if rules.xdg == "stripped":
        return [d for d in value.strip().split(os.pathsep) if d.strip()]
    return [d.strip() for d in value.split(os.pathsep) if posixpath.isabs(d.strip())]


def _read_file(fname: str) -> list[ConfigItem]:
    parser = configparser.RawConfigParser()
    if os.path.exists(fname):
        encoding = locale.getpreferredencoding(False)  # what pip reads config files with
        try:
            parser.read(fname, encoding=encoding)
        except UnicodeDecodeError as exc:
            msg = f"pip's configuration file {fname} contains invalid {encoding} characters"
            raise UsageError(msg) from exc
        except configparser.Error as exc:
            msg = f"pip's configuration file {fname} could not be loaded: {_one_line(exc)}"
            raise UsageError(msg) from exc
    pairs = ((s, _normalize_name(n), v) for s in parser.sections() for n, v in parser.items(s))
    return [ConfigItem(s, n, v, "config", fname) for s, n, v in pairs if n in _NAMES]


def _env_items(environ: Mapping[str, str]) -> Iterator[ConfigItem]:
    for key, value in environ.items():
        if key.startswith("PIP_") and key[4:].lower() not in _ENV_NAMES_IGNORED:
            name = _normalize_name(key[4:])
            if name in _NAMES:
                yield ConfigItem(ENV_SECTION, name, value, "env", _env_var_name(name))


# Small helpers -----------------------------------------------------------------------------


def expanduser(path: str, environ: Mapping[str, str], platform: str | None = None) -> str:
    """``os.path.expanduser`` reading the home directory from ``environ``."""
    if environ is os.environ and platform is None:
        # Exactly what pip calls; Path.expanduser raises where this returns the input.
        return os.path.expanduser(path)
    if not path.startswith("~"):
        return path
    windows = _is_windows(platform or sys.platform)
    separators = "\\/" if windows else "/"
    end = next((i for i, char in enumerate(path) if char in separators), len(path))
    if end > 1:  # "~user": only the password database knows
        return os.path.expanduser(path)
    home = _home(environ, windows)
    if home is None:
        return path
    return (home.rstrip(separators) + path[end:]) or separators[-1]


def _home(environ: Mapping[str, str], windows: bool) -> str | None:
    if windows:
        if "USERPROFILE" in environ:
            return environ["USERPROFILE"]
        if "HOMEPATH" in environ:
            return environ.get("HOMEDRIVE", "") + environ["HOMEPATH"]
        return None
    if "HOME" in environ:
        return environ["HOME"]
    try:  # what os.path.expanduser falls back to
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return None


def _normalize_name(name: str) -> str:
    """pip's key normalisation: ``--Cache_Dir`` and ``cache-dir`` are one option."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def _env_var_name(name: str) -> str:
    return "PIP_" + name.upper().replace("-", "_")


def _is_windows(platform: str) -> bool:
    return platform.startswith("win")


def _path_module(platform: str) -> ModuleType:
    return ntpath if _is_windows(platform) else posixpath


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
