"""Where pip's cache is, by the rules ``pip cache dir`` follows (pip 23.2 to 26.3).

``--cache-dir`` > ``PIP_CACHE_DIR`` > ``cache-dir`` in ``[global]``/``[cache]`` of pip's
configuration files > the platform default; ``--no-cache-dir``, ``PIP_NO_CACHE_DIR`` or
``no-cache-dir`` in the configuration disable the cache. The configuration itself is read
by :mod:`pip_cache_plus.locate.compat`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pip_cache_plus.errors import CacheDisabledError, PipCachePlusError, UsageError, unreadable
from pip_cache_plus.locate import compat, pipconfig
from pip_cache_plus.locate.pipconfig import ConfigItem, PipConfig

CacheOrigin = Literal["option", "env", "config", "default"]

_COMMAND = "cache"  # `pip cache dir` reads [global], then [cache], then PIP_* variables
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})  # pip's strtobool
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


@dataclass(frozen=True, slots=True)
class CacheLocation:
    """The cache directory and what chose it."""

    path: Path  # normalised as pip does: ~ expanded, symlinks resolved, case normalised
    origin: CacheOrigin
    detail: str  # "--cache-dir", "PIP_CACHE_DIR", "/etc/pip.conf [global]", "platform default"


def find_cache(
    cache_dir: str | None = None,
    *,
    no_cache_dir: bool = False,
    environ: Mapping[str, str] | None = None,
    isolated: bool = False,
) -> CacheLocation:
    """The cache pip would use, given its ``--cache-dir``/``--no-cache-dir`` options
    (``isolated``: its ``--isolated``, which ignores ``PIP_*`` and the user's file).

    Raises CacheDisabledError if pip's cache is turned off, UsageError for an invalid
    ``no-cache-dir`` value or configuration file (pip refuses those too).

    With ``cache_dir`` the configuration only matters for pip's check of configured
    ``no-cache-dir`` values: our copy of pip's rules makes it, which keeps pip's slow
    import (~0.2 s) off every command given ``--cache-dir``.
    """
    if cache_dir is not None:
        env = os.environ if environ is None else environ
        config = pipconfig.fallback_configuration(env, isolated=isolated)
    else:
        config = compat.load_configuration(environ, isolated=isolated)
    return resolve_cache(config, cache_dir, no_cache_dir=no_cache_dir, environ=environ)


def resolve_cache(
    config: PipConfig,
    cache_dir: str | None = None,
    *,
    no_cache_dir: bool = False,
    environ: Mapping[str, str] | None = None,
) -> CacheLocation:
    """:func:`find_cache` over an already loaded configuration."""
    if cache_dir is not None and no_cache_dir:
        raise UsageError("--cache-dir and --no-cache-dir cannot be used together")
    environ = os.environ if environ is None else environ
    items = config.for_command(_COMMAND, {"cache-dir", "no-cache-dir"})
    # pip checks the configured values before it looks at the command line, so a bad
    # value is an error even with --cache-dir.
    disabled_by = _last_disabling(items)
    if no_cache_dir:
        raise CacheDisabledError("--no-cache-dir")
    if cache_dir is not None:
        return _location(cache_dir, "option", "--cache-dir", environ)
    if disabled_by is not None:
        raise CacheDisabledError(_disabled_reason(disabled_by))
    chosen = [item for item in items if item.name == "cache-dir"]
    if chosen:
        item = chosen[-1]
        return _location(item.value, item.origin, _describe(item), environ)
    return _location(config.default_cache_dir, "default", "platform default", environ)


def normalize_path(path: str, environ: Mapping[str, str] | None = None) -> str:
    """pip's ``normalize_path``: expand ``~``, resolve symlinks, normalise case."""
    environ = os.environ if environ is None else environ
    return os.path.normcase(os.path.realpath(pipconfig.expanduser(path, environ)))


def _location(
    raw: str, origin: CacheOrigin, detail: str, environ: Mapping[str, str]
) -> CacheLocation:
    if not raw:  # only an empty --cache-dir gets here: pip then treats the cache as off
        raise CacheDisabledError(f"{detail} is empty")
    return CacheLocation(Path(normalize_path(raw, environ)), origin, detail)


def _last_disabling(items: list[ConfigItem]) -> ConfigItem | None:
    """The no-cache-dir item that wins, after checking each one as pip does."""
    found = None
    for item in items:
        if item.name != "no-cache-dir":
            continue
        if item.value.lower() not in _TRUE | _FALSE:
            raise UsageError(
                f"{_describe(item)} sets no-cache-dir to {item.value!r}, which pip rejects; "
                "use a boolean such as yes/no, true/false, on/off or 1/0"
            )
        found = item
    return found


def _disabled_reason(item: ConfigItem) -> str:
    where = (
        f"{item.source}={item.value}"
        if item.origin == "env"
        else f"no-cache-dir = {item.value} in {_describe(item)}"
    )
    if item.value.lower() in _FALSE:
        # pip's _handle_no_cache_dir: any valid value disables, for backwards compatibility.
        return f"{where}; pip disables the cache for any boolean value, even a false one"
    return where


def _describe(item: ConfigItem) -> str:
    return item.source if item.origin == "env" else f"{item.source} [{item.section}]"


__all__ = [
    "CacheLocation",
    "CacheOrigin",
    "check_cache_dir",
    "find_cache",
    "normalize_path",
    "resolve_cache",
]


def check_cache_dir(path: Path) -> bool:
    """Whether the cache dir exists. A missing one is an empty cache; one that is not a
    directory (or cannot be one: a part of its path is a file), cannot be reached or
    cannot be read is an error, before a command takes it for empty or tries to write
    there."""
    try:
        mode = os.stat(path).st_mode  # a link to a directory is fine: pip follows it
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise PipCachePlusError(
            f"the cache dir {path} cannot be a directory: a part of its path is a file"
        ) from None
    except OSError as exc:
        raise PipCachePlusError(f"the cache dir {path} {unreadable(exc)}") from None
    if not stat.S_ISDIR(mode):
        raise PipCachePlusError(f"the cache dir {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise PipCachePlusError(f"the cache dir {path} cannot be read (permission denied)")
    return True
