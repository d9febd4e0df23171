"""Options several commands share: where the cache is, which entries, the output format.

A bad value (pattern, age, size, kind) is argparse's error: exit 2 with one line.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..errors import UsageError
from ..inventory.filters import Filter, Pattern, any_of, parse_age, parse_kinds, parse_pattern
from ..locate.indexes import IndexOptions
from ..model import SOURCES, Source

T = TypeVar("T")
SOURCE_CHOICES = ("all", *SOURCES)


def typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Turn our UsageError into argparse's error, so bad values exit 2 with one line."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.removeprefix("parse_")
    return convert


def age(text: str) -> float:
    return parse_age(text, time.time())


def unused_for(text: str) -> tuple[str, float]:
    """``--unused-for AGE``: the text as given (for the output) and its cutoff."""
    return text.strip(), parse_age(text, time.time())


def parse_top(text: str) -> int:
    try:
        top = int(text)
    except ValueError:
        top = 0
    if top < 1:
        raise UsageError(f"bad number {text!r}: --top takes a whole number of projects, 1 or more")
    return top


def hint_of(args: argparse.Namespace) -> str:
    """The command line that reaches the cache this run used, for hints the user pastes:
    with their ``--cache-dir``, or a pasted hint would act on the default cache."""
    words = ["python", "-m", "pip_cache_plus"]
    if isinstance(getattr(args, "cache_dir", None), str):
        words += ["--cache-dir", args.cache_dir]
    return shlex.join(words)


def check_commands(args: argparse.Namespace, files: Sequence[str]) -> tuple[str | None, str]:
    """``check``'s two lines: export exactly ``files`` into DIR (None if there are none),
    then pip install from DIR alone what the user asked."""
    export = None
    if files:
        patterns = [_file_pattern(f) for f in files]
        export = f"{hint_of(args)} {shlex.join(['export', *patterns, '-d', args.dest])}"
    words = ["pip", "install", "--no-index", "--find-links", args.dest]
    for option, dest in (("-r", "requirements"), ("-c", "constraints")):
        for path in getattr(args, dest, ()):
            words += [option, path]
    return export, shlex.join(words + list(args.requirement))


def _file_pattern(filename: str) -> str:
    """A filename as an export pattern (a glob on filenames); NAME==VERSION for one a glob
    would read otherwise."""
    if re.fullmatch(r"[A-Za-z0-9._+-]+", filename) and "-" in filename:
        return filename
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    if filename.endswith(".whl"):
        name, version = parse_wheel_filename(filename)[:2]
    else:
        name, version = parse_sdist_filename(filename)
    return f"{name}=={version}"


def add_filters(parser: argparse.ArgumentParser, *, pattern: str, several: bool = True) -> None:
    """``pattern``: ``*`` (any number, none for everything) or ``+`` (at least one);
    not ``several``: pip's command, whose count of patterns ``pipmsg.refusal`` checks."""
    parser.add_argument(
        "pattern",
        nargs=pattern,
        default=[],
        type=typed(parse_pattern),
        metavar="PATTERN",
        help="glob on filename (with '-') or project name; NAME==VERSION; a PEP 440 "
        "specifier ('NAME>=1,<2'); "
        + ("several: entries any of them matches" if several else "one, as in pip"),
    )
    parser.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default="all",
        help="which part of the cache (default: all)",
    )
    parser.add_argument(
        "--kind",
        type=typed(parse_kinds),
        default=None,
        metavar="K[,K]",
        help="wheel, sdist, metadata, index, other, invalid",
    )
    parser.add_argument(
        "--older-than",
        type=typed(age),
        default=None,
        metavar="AGE",
        help="only entries not used for AGE (30d, 12h, 2w) or since a date",
    )


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices, default="human")


def patterns_of(args: argparse.Namespace) -> list[Pattern]:
    given = args.pattern if isinstance(args.pattern, list) else [args.pattern]
    return [p if isinstance(p, Pattern) else parse_pattern(p) for p in given]


def filter_of(args: argparse.Namespace) -> Filter:
    pattern = any_of(patterns_of(args))
    return Filter(pattern=pattern, kinds=args.kind, unused_since=args.older_than)


def sources_of(args: argparse.Namespace) -> tuple[Source, ...]:
    return SOURCES if args.source == "all" else (args.source,)


#: Our commands that name entries, and so take pip's index options.
INDEX_OPTION_COMMANDS = frozenset(
    {"info", "list", "du", "show", "remove", "purge", "prune", "export", "verify", "check"}
)


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """pip's index options, as pip spells them: where the pages and files in the cache
    came from, so that their URLs can be proven (pip's precedence against ``PIP_*`` and
    pip's configuration files applies)."""
    group = parser.add_argument_group(
        "index options (as given to pip; they only help name entries)"
    )
    group.add_argument(
        "-i",
        "--index-url",
        "--pypi-url",
        dest="index_url",
        metavar="URL",
        default=None,
        help="the base URL of the index pip used (default: pip's configured one, or PyPI)",
    )
    group.add_argument(
        "--extra-index-url",
        dest="extra_index_urls",
        metavar="URL",
        action="append",
        default=[],
        help="an extra index pip used; can be given several times",
    )
    group.add_argument(
        "-f",
        "--find-links",
        dest="find_links",
        metavar="URL",
        action="append",
        default=[],
        help="a find-links page pip read; can be given several times",
    )
    group.add_argument(
        "--no-index",
        action="store_true",
        default=False,
        help="pip used no index (only --find-links): configured index URLs are ignored",
    )
    group.add_argument(
        "-r",
        "--requirement",
        dest="requirements",
        metavar="FILE",
        action="append",
        default=[],
        help="a requirements file pip read: the index options in it count, as in pip "
        "(nested -r/-c files too); can be given several times",
    )
    group.add_argument(
        "-c",
        "--constraint",
        dest="constraints",
        metavar="FILE",
        action="append",
        default=[],
        help="a constraints file pip read: likewise",
    )


def index_options_of(args: argparse.Namespace) -> IndexOptions:
    """The index options given; the requirements files are read now (a missing one is
    a usage error, as in pip), pip's configuration only when a page needs it."""
    from ..locate.reqfile import read_requirements

    if not hasattr(args, "index_url"):
        return IndexOptions()
    return IndexOptions(
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_urls),
        find_links=tuple(args.find_links),
        no_index=args.no_index,
        isolated=bool(getattr(args, "isolated", False)),
        constraint_lines=read_requirements(args.constraints, os.environ),
        requirement_lines=read_requirements(args.requirements, os.environ),
    )


def command_hint_of(args: argparse.Namespace, command: str | None = None) -> str:
    """This run's command line (or ``command``'s) for a hint that adds an index option:
    the ``--cache-dir`` and the index options the user gave (all but ``--index-url``,
    which the hint supplies), so a pasted hint reaches the same cache with the same
    indexes."""
    words = [command or args.command]
    if command is None and hasattr(args, "pattern"):
        words += [p.text for p in patterns_of(args) if p.text != "*"]
    for url in getattr(args, "extra_index_urls", ()):
        words += ["--extra-index-url", url]
    for url in getattr(args, "find_links", ()):
        words += ["--find-links", url]
    for option, dest in (("-r", "requirements"), ("-c", "constraints")):
        for path in getattr(args, dest, ()):
            words += [option, path]
    return f"{hint_of(args)} {shlex.join(words)}"
