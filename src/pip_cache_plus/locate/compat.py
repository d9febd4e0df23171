"""pip's own view of its configuration and cache layout, behind one door.

This is the only module that imports pip internals, and it does so inside functions:
importing pip costs about 0.2 s, and its internals move between releases. Each answer
comes from pip's own code when that imports and behaves as expected, and otherwise from
a pure-Python copy of the same rules (:mod:`.pipconfig`, checked against the source of
pip 23.2.1 to 26.3).

pip reads ``os.environ`` only, so a caller that passes another mapping gets the copy.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import PurePath
from typing import Any

from pip_cache_plus.errors import UsageError
from pip_cache_plus.locate.pipconfig import (
    ENV_SECTION,
    NAMES,
    ConfigItem,
    PipConfig,
    env_var_name,
    fallback_configuration,
    normalize_name,
    one_line,
    pip_version,
    rules_for,
)

PYPI_SIMPLE_URL = "https://pypi.org/simple/"

_DUMMY_CACHE_DIR = PurePath(os.sep, "pip-cache-plus-dummy")
# Anything else from pip's side means its internals moved: use the copy instead.
_PIP_MOVED = (ImportError, AttributeError, TypeError, ValueError)


def load_configuration(
    environ: Mapping[str, str] | None = None, *, isolated: bool = False
) -> PipConfig:
    """pip's configuration: read by pip itself when it can, else by our copy
    (``isolated``: as pip's ``--isolated``, no ``PIP_*`` variables, no user file)."""
    if environ is None or environ is os.environ:
        config = pip_configuration(isolated=isolated)
        if config is not None:
            return config
        environ = os.environ
    return fallback_configuration(environ, isolated=isolated)


def configured_index_urls(environ: Mapping[str, str] | None = None) -> list[str]:
    """Every URL pip would fetch pages from, for any command that uses an index, with no
    index option on the command line (see :func:`.indexes.index_urls`)."""
    from pip_cache_plus.locate.indexes import IndexOptions, index_urls

    return index_urls(IndexOptions(), environ)


# pip's own code ------------------------------------------------------------------------


def pip_configuration(
    environ: Mapping[str, str] | None = None, *, isolated: bool = False
) -> PipConfig | None:
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
            return _read_with_pip(isolated)
    except _PIP_MOVED:
        return None


def _read_with_pip(isolated: bool = False) -> PipConfig:
    from pip._internal.configuration import Configuration
    from pip._internal.exceptions import ConfigurationError
    from pip._internal.utils.appdirs import user_cache_dir

    config = Configuration(isolated=isolated)
    try:
        config.load()
    except ConfigurationError as exc:
        raise UsageError(f"pip's configuration could not be loaded: {one_line(exc)}") from exc
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
            if parser.has_section(section) and name in map(normalize_name, parser.options(section)):
                return str(fname)
    return ENV_SECTION if section == ENV_SECTION else "pip configuration"


def _item(section_key: str, value: Any, source: str) -> Iterator[ConfigItem]:
    section, _, name = section_key.partition(".")
    if name in NAMES:
        if source == ENV_SECTION:
            yield ConfigItem(section, name, str(value), "env", env_var_name(name))
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
