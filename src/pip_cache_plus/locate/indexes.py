"""Which index URLs and find-links pip used, by pip 26.3's precedence.

For one pip command, pip's option parser starts from the configuration (``[global]``,
then ``[<command>]``, then ``PIP_*``: the last value of a name counts; list options such
as ``--extra-index-url`` take it split on whitespace) and applies the command line on
top: ``-i`` replaces the configured index, ``--extra-index-url`` and ``-f`` add to the
configured lists, ``--no-index`` drops every index. Requirements files (``-c`` files
first, then ``-r`` files) change that scope line by line (``req_file.handle_option_line``):
``--no-index`` drops the indexes, ``-i`` replaces every index so far (extras included),
``--extra-index-url`` and ``-f`` add.

We name entries that any pip command may have cached, so the answer is the union over
the commands that fetch pages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pip_cache_plus.errors import UsageError
from pip_cache_plus.locate.compat import PYPI_SIMPLE_URL, load_configuration
from pip_cache_plus.locate.pipconfig import PipConfig
from pip_cache_plus.locate.reqfile import OptionLine, read_requirements

__all__ = ["IndexOptions", "SearchScope", "index_urls", "search_scope"]

#: pip's commands that fetch index pages (each may have its own config section).
INDEX_COMMANDS = ("install", "download", "wheel", "index", "lock")
#: pip's default index, spelt as pip spells it (PyPI.simple_url).
PIP_DEFAULT_INDEX = "https://pypi.org/simple"
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})  # pip's strtobool
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """pip's index options as given on our command line; the defaults: none given."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    isolated: bool = False  # pip's --isolated: no PIP_* variables, no user config file
    # The option lines of the -c files, then of the -r files (each in pip's order).
    constraint_lines: tuple[OptionLine, ...] = ()
    requirement_lines: tuple[OptionLine, ...] = ()

    @property
    def given(self) -> bool:
        return self != IndexOptions()


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Where one pip command looked: index base URLs and find-links, in pip's order."""

    index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    no_index: bool


def search_scope(
    config: PipConfig,
    options: IndexOptions,
    command: str,
    environ: Mapping[str, str] | None = None,
) -> SearchScope:
    """What pip ``command`` would search with ``config`` and ``options`` (``environ``:
    for ``${VAR}`` in configured requirements files; default ``os.environ``)."""
    index = config.for_command(command, {"index-url", "pypi-url"})
    extra = config.for_command(command, {"extra-index-url"})
    links = config.for_command(command, {"find-links"})
    no_index_items = config.for_command(command, {"no-index"})
    no_index = options.no_index
    if no_index_items:
        no_index = no_index or _strtobool(no_index_items[-1].value, "no-index")
    index_url = options.index_url or (index[-1].value if index else PIP_DEFAULT_INDEX)
    urls = [index_url, *(extra[-1].value.split() if extra else ()), *options.extra_index_urls]
    find_links = [*(links[-1].value.split() if links else ()), *options.find_links]
    if no_index:
        urls = []
    for line in _file_lines(config, options, command, os.environ if environ is None else environ):
        if line.no_index:
            no_index, urls = True, []
        if line.index_url and not no_index:
            urls = [line.index_url]
        if line.extra_index_urls and not no_index:
            urls += line.extra_index_urls
        if line.find_links is not None:
            find_links.append(line.find_links)
    return SearchScope(tuple(urls), tuple(find_links), no_index)


def _file_lines(
    config: PipConfig, options: IndexOptions, command: str, environ: Mapping[str, str]
) -> list[OptionLine]:
    """The requirements files' option lines in pip's order: constraints (configured, then
    given), then requirements. A configured file that cannot be read adds nothing: it
    breaks pip's installs, but listing the cache need not fail for it."""
    lines: list[OptionLine] = []
    for name, given in (
        ("constraint", options.constraint_lines),
        ("requirement", options.requirement_lines),
    ):
        items = config.for_command(command, {name})
        for path in items[-1].value.split() if items else ():
            try:
                lines += read_requirements([path], environ)
            except UsageError:
                continue
        lines += given
    return lines


def index_urls(options: IndexOptions, environ: Mapping[str, str] | None = None) -> list[str]:
    """Every URL a cached page may have been fetched from, by pip's precedence, over the
    commands that fetch pages: the index base URLs, then the find-links that are HTTP
    URLs (a local directory or file is never in the HTTP cache)."""
    environ = os.environ if environ is None else environ
    config = load_configuration(environ, isolated=options.isolated)
    urls: dict[str, None] = {}
    for command in INDEX_COMMANDS:
        scope = search_scope(config, options, command, environ)
        # The same base (pip joins a name with posixpath.join) as the one PyPI is known by.
        bases = (PYPI_SIMPLE_URL if u == PIP_DEFAULT_INDEX else u for u in scope.index_urls)
        urls.update(dict.fromkeys(bases))
        urls.update(dict.fromkeys(link for link in scope.find_links if _is_http(link)))
    return list(urls)


def _is_http(link: str) -> bool:
    try:
        return urlsplit(link).scheme.lower() in ("http", "https")
    except ValueError:
        return False


def _strtobool(value: str, name: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(
        f"{value} is not a valid value for {name} option, please specify a boolean value "
        "like yes/no, true/false or 1/0 instead."
    )
