"""pip's configuration as values, the rules that changed between pip versions, and our
pure-Python copy of pip's reader.

:mod:`.compat` asks pip's own code first and falls back to :func:`fallback_configuration`
here; the copy follows the source of pip 23.2.1 to 26.3. Nothing here imports pip beyond
``pip.__version__`` (which rules apply).
"""

from __future__ import annotations

import configparser
import locale
import ntpath
import os
import posixpath
import re
import sys
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from types import ModuleType
from typing import Literal

from pip_cache_plus.errors import UsageError

ENV_SECTION = ":env:"
"""The pseudo-section pip files ``PIP_*`` environment variables under."""

ItemOrigin = Literal["env", "config"]
XdgRule = Literal["raw", "stripped", "absolute"]

#: The option names anything in pip_cache_plus asks about; "pypi-url" is an alias of
#: "--index-url" that pip still accepts.
NAMES = frozenset(
    {"cache-dir", "no-cache-dir", "index-url", "pypi-url", "extra-index-url"}
    | {"find-links", "no-index", "constraint", "requirement"}
    | {"verbose", "quiet", "log", "log-file", "local-log"}
)
_ENV_NAMES_IGNORED = ("version", "help")  # pip's ENV_NAMES_IGNORED
_ETC_DIR = "/etc"  # pip appends it to the XDG config dirs; tests point it elsewhere
_XDG_CONFIG_DIRS_DEFAULT = "/etc/xdg"


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


# The copy of pip's reader ----------------------------------------------------------------


def fallback_configuration(
    environ: Mapping[str, str],
    *,
    rules: PipRules | None = None,
    platform: str | None = None,
    isolated: bool = False,
) -> PipConfig:
    """pip's configuration read by our copy of pip's rules (by default, the rules of the
    pip installed here); ``isolated``: as pip's ``--isolated``, no ``PIP_*`` variables and
    no user configuration file."""
    rules = rules or rules_for(pip_version())
    kinds = config_files(environ, rules=rules, platform=platform, isolated=isolated)
    files = [name for _, names in kinds for name in names]
    if rules.values_by_file:
        files = list(dict.fromkeys(files))
    env = [] if isolated else list(_env_items(environ))
    groups = chain((_read_file(name) for name in files), [env])
    default = default_cache_dir(environ, rules=rules, platform=platform)
    return PipConfig(tuple(chain.from_iterable(groups)), default, "fallback", rules.fallthrough)


def config_files(
    environ: Mapping[str, str],
    *,
    rules: PipRules | None = None,
    platform: str | None = None,
    isolated: bool = False,
) -> list[tuple[str, list[str]]]:
    """pip's configuration files as ``(kind, files)``, lowest priority first (``isolated``:
    without the user's, as pip's ``--isolated``; ``PIP_CONFIG_FILE`` still counts there)."""
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
    if not isolated and not (env_file and os.path.exists(env_file)):
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
            msg = f"pip's configuration file {fname} could not be loaded: {one_line(exc)}"
            raise UsageError(msg) from exc
    pairs = ((s, normalize_name(n), v) for s in parser.sections() for n, v in parser.items(s))
    return [ConfigItem(s, n, v, "config", fname) for s, n, v in pairs if n in NAMES]


def _env_items(environ: Mapping[str, str]) -> Iterator[ConfigItem]:
    for key, value in environ.items():
        if key.startswith("PIP_") and key[4:].lower() not in _ENV_NAMES_IGNORED:
            name = normalize_name(key[4:])
            if name in NAMES:
                yield ConfigItem(ENV_SECTION, name, value, "env", env_var_name(name))


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


def normalize_name(name: str) -> str:
    """pip's key normalisation: ``--Cache_Dir`` and ``cache-dir`` are one option."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def env_var_name(name: str) -> str:
    return "PIP_" + name.upper().replace("-", "_")


def _is_windows(platform: str) -> bool:
    return platform.startswith("win")


def _path_module(platform: str) -> ModuleType:
    return ntpath if _is_windows(platform) else posixpath


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
