"""Command line: one ``_add_<cmd>``/``_cmd_<cmd>`` pair per command; errors handled once.

Exit codes: 0 success; 1 an error (message on stderr); 2 bad usage; 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .._version import __version__
from ..cache import Cache
from ..errors import CacheDisabledError, PipCachePlusError, UsageError
from ..inventory.filters import (
    Filter,
    any_of,
    close_projects,
    parse_export_kinds,
    parse_kinds,
    parse_pattern,
    parse_size,
    unmatched,
)
from ..locate.cachedir import check_cache_dir
from . import render
from .console import (
    clearing_streams,
    printable_paths,
    safe_streams,
    silence_stdout,
    terminal_of,
)
from .general import (
    add_general_options,
    apply_configuration,
    log_only,
    logging,
    quiet_streams,
    verbosity,
)
from .options import (
    INDEX_OPTION_COMMANDS,
    SOURCE_CHOICES,
    add_filters,
    add_format,
    add_index_options,
    age,
    check_commands,
    command_hint_of,
    filter_of,
    hint_of,
    index_options_of,
    parse_top,
    patterns_of,
    sources_of,
    typed,
    unused_for,
)
from .pipmsg import DISABLED, PIP_COMMANDS, no_match, pip_error, pip_warning, refusal, take_extra
from .render.progress import ProgressLine, delay_from
from .render.space import printable

if TYPE_CHECKING:
    from ..actions.clean import Removal
    from ..model import CacheEntry

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
Handler = Callable[[argparse.Namespace, Cache], int]


def _waiting() -> None:
    print("Waiting for another pip_cache_plus command to finish...", file=sys.stderr)


def _add_dir(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    sub.add_parser("dir", help="show the cache directory")
    return _cmd_dir


def _cmd_dir(args: argparse.Namespace, cache: Cache) -> int:
    print(cache.path)
    return EXIT_OK


def _add_info(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser("info", help="where the cache is, and how big each part is")
    add_format(parser, "human", "json")
    return _cmd_info


def _cmd_info(args: argparse.Namespace, cache: Cache) -> int:
    from ..inventory.pipview import pip_view

    pip = pip_view(cache.path) if args.format == "human" else None
    render.render_info(cache.info(), args.format, sys.stdout, hint=hint_of(args), pip=pip)
    if args.format == "human" and cache.memo_dir is not None:
        from ..inventory.memo import remembered_unknown_urls

        unknown = remembered_unknown_urls(cache.memo_dir, cache.path)
        hint = command_hint_of(args, "list")
        if (note := render.remembered_note(unknown, hint)) is not None:
            print(note)
    return EXIT_OK


def _add_list(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser("list", help="list entries: downloaded files, pages, built wheels")
    add_filters(parser, pattern="*", several=False)
    add_format(parser, "human", "abspath", "json")
    return _cmd_list


def _cmd_list(args: argparse.Namespace, cache: Cache) -> int:
    entries = cache.select(filter_of(args), sources_of(args))
    hint = command_hint_of(args)
    render.render_list(entries, cache.path, args.format, sys.stdout, hint=hint)
    _warn_unmatched(args, cache, entries)
    return EXIT_OK


def _warn_unmatched(args: argparse.Namespace, cache: Cache, found: Iterable[CacheEntry]) -> None:
    """On stderr, each pattern that matched nothing, with the projects it may have meant
    (read from a second walk, done only then: the memo makes it cheap); ``remove`` says
    it in pip's words."""
    missed = unmatched(patterns_of(args), found)
    if not missed:
        return
    projects = {e.project for e in cache.entries(sources_of(args)) if e.project is not None}
    for pattern in missed:
        if args.command == "remove":
            pip_warning(no_match(pattern.text))
        else:
            print(f'No matching entries for pattern "{pattern.text}"', file=sys.stderr)
        close = close_projects(pattern, projects)
        if close:
            names = " or ".join(f'"{printable(name)}"' for name in close)
            print(f"Did you mean {names}?", file=sys.stderr)


def _add_du(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    from ..inventory.summary import SORT_KEYS

    parser = sub.add_parser(
        "du",
        help="where the space goes: per-project totals, what could go, a grand total",
        epilog="Sizes are the sums of the entries' files (du -b of the same files). HTTP: "
        "bytes pip downloads again when needed; BUILT: wheels pip built locally; UNUSED: "
        "entries not used for --unused-for.",
    )
    add_filters(parser, pattern="*")
    parser.add_argument(
        "--sort",
        choices=SORT_KEYS,
        default="size",
        help="size (largest first, the default), name, or used (least recently used first)",
    )
    parser.add_argument(
        "--top", type=typed(parse_top), default=None, metavar="N", help="only the first N projects"
    )
    parser.add_argument(
        "--unused-for",
        type=typed(unused_for),
        default=unused_for("30d"),
        metavar="AGE",
        help="what the UNUSED figures count: entries not used for AGE (default: 30d)",
    )
    add_format(parser, "human", "json")
    return _cmd_du


def _cmd_du(args: argparse.Namespace, cache: Cache) -> int:
    from ..inventory.summary import summarize

    text, cutoff = args.unused_for
    entries = cache.select(filter_of(args), sources_of(args))
    summary = summarize(entries, unused_before=cutoff, sort=args.sort, top=args.top)
    render.render_summary(
        summary, cache.path, args.format, sys.stdout, unused_for=text, hint=hint_of(args)
    )
    _warn_unmatched(args, cache, entries)
    return EXIT_OK


def _add_remove(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser("remove", help="remove matching entries (all their files)")
    add_filters(parser, pattern="*", several=False)
    parser.add_argument("--dry-run", action="store_true", help="only show what would go")
    add_format(parser, "human", "json")
    return _cmd_remove


def _cmd_remove(args: argparse.Namespace, cache: Cache) -> int:
    result = cache.remove(
        filter_of(args),
        sources_of(args),
        dry_run=args.dry_run,
        on_wait=_waiting,
        on_removed=_removed_told(args, cache),
    )
    if args.format == "human":
        _warn_unmatched(args, cache, [*result.entries, *result.kept, *result.changed])
    return _finish_removal(result, args, cache)


def _finish_removal(result: Removal, args: argparse.Namespace, cache: Cache) -> int:
    if result.selfcheck_removed:
        (_removed_printer(args) or (lambda _: None))("legacy selfcheck.json file")
    render.render_removal(result, cache.path, args.format, sys.stdout)
    for error in result.errors:
        print(f"error: could not remove {error}", file=sys.stderr)
    return EXIT_ERROR if result.errors else EXIT_OK


def _removed_told(args: argparse.Namespace, cache: Cache) -> Callable[[str], None] | None:
    """What is told of each file and directory removed: pip's ``-v`` lines (see
    :func:`_removed_printer`), else the progress display, which counts them."""
    printer, progress = _removed_printer(args), cache.progress
    if progress is None or verbosity(args) >= 1:
        return printer
    removed = [0]

    def told(path: str) -> None:
        removed[0] += 1
        progress("removing", removed[0], None)
        if printer is not None:
            printer(path)

    return told


def _removed_printer(args: argparse.Namespace) -> Callable[[str], None] | None:
    """pip's ``-v``: ``Removed <path>`` for each file and directory, as they go; without
    it, only in the ``--log`` file, as pip's."""
    if args.format == "human" and verbosity(args) >= 1:
        return lambda path: print(f"Removed {path}")  # escaped by safe_streams
    if logging():
        return lambda path: log_only(f"Removed {path}")
    return None


def _add_purge(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser("purge", help="remove everything pip cached (like pip cache purge)")
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="remove only the legacy http/ cache, which pip >= 23.3 never reads",
    )
    parser.add_argument("--dry-run", action="store_true", help="only show what would go")
    add_format(parser, "human", "json")
    return _cmd_purge


def _cmd_purge(args: argparse.Namespace, cache: Cache) -> int:
    result = cache.purge(
        legacy_only=args.legacy,
        dry_run=args.dry_run,
        on_wait=_waiting,
        on_removed=_removed_told(args, cache),
    )
    if args.format == "human" and not result.pip_files:
        pip_warning(no_match("*"))  # pip's test: even when it removed other files
    return _finish_removal(result, args, cache)


def _add_show(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "show",
        help="all about matching entries: URL, files, freshness, which pips read them",
        epilog="Exit status: 0 if an entry matched, 1 if none did.",
    )
    add_filters(parser, pattern="+")
    add_format(parser, "human", "json")
    return _cmd_show


def _cmd_show(args: argparse.Namespace, cache: Cache) -> int:
    shown = cache.show(filter_of(args), sources_of(args))
    hint = command_hint_of(args)
    render.render_show(shown, cache.path, args.format, sys.stdout, hint=hint)
    _warn_unmatched(args, cache, [s.entry for s in shown])
    return EXIT_OK if shown else EXIT_ERROR


def _add_verify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "verify",
        help="check every entry is whole: parses, body length, zip directory",
        epilog="Exit status: 0 when all is well, 1 when any entry has a problem.",
    )
    parser.add_argument(
        "--deep",
        action="store_true",
        help="also check every zip member's CRC and bodies against index-page sha256s",
    )
    add_format(parser, "human", "json")
    return _cmd_verify


def _cmd_verify(args: argparse.Namespace, cache: Cache) -> int:
    result = cache.verify(deep=args.deep)
    render.render_verify(result, args.format, sys.stdout)
    return EXIT_OK if result.ok else EXIT_ERROR


def _add_prune(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "prune",
        help="remove debris, entries unused for AGE, the least recently used beyond SIZE",
        epilog="Debris (half entries, *.tmp files, foreign files, empty directories) is "
        "removed once nothing has touched it for an hour. Symbolic links are left alone. "
        "Exit status: 0, or 1 if something could not be removed.",
    )
    parser.add_argument(
        "--older-than",
        type=typed(age),
        default=None,
        metavar="AGE",
        help="remove entries not used for AGE (30d, 12h, 2w) or since a date",
    )
    parser.add_argument(
        "--max-size",
        type=typed(parse_size),
        default=None,
        metavar="SIZE",
        help="remove the least recently used entries until the cache is at most SIZE "
        "(500MB, 2GiB); built wheels go after HTTP entries of the same age",
    )
    parser.add_argument(
        "--kind",
        type=typed(parse_kinds),
        default=None,
        metavar="K[,K]",
        help="only these kinds go for age or size (wheel, sdist, metadata, index, other)",
    )
    parser.add_argument("--dry-run", action="store_true", help="only show what would go")
    add_format(parser, "human", "json")
    return _cmd_prune


def _cmd_prune(args: argparse.Namespace, cache: Cache) -> int:
    from ..actions.prune import PruneOptions

    options = PruneOptions(unused_since=args.older_than, max_size=args.max_size, kinds=args.kind)
    result = cache.prune(options, dry_run=args.dry_run, on_wait=_waiting)
    render.render_prune(result, cache.path, args.format, sys.stdout)
    for error in result.removal.errors:
        print(f"error: could not remove {error}", file=sys.stderr)
    return EXIT_ERROR if result.removal.errors else EXIT_OK


def _add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "export",
        help="copy cached wheels and sdists into DIR, for pip install --no-index --find-links",
        epilog="Files keep their real names and bytes; an existing different file is never "
        "replaced. Exit status: 0, or 1 if a file was in the way, had no good copy, or DIR "
        "filled up.",
    )
    parser.add_argument(
        "pattern",
        nargs="+",
        type=typed(parse_pattern),
        metavar="PATTERN",
        help="glob on filename (with '-') or project name; NAME==VERSION; '*' for all; "
        "several: files any of them matches",
    )
    parser.add_argument(
        "-d", "--dest", required=True, metavar="DIR", help="where to write (created if missing)"
    )
    parser.add_argument(
        "--kind",
        type=typed(parse_export_kinds),
        default=None,
        metavar="K[,K]",
        help="wheel, sdist (default: both)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default="all",
        help="which part of the cache (default: all)",
    )
    add_format(parser, "human", "json")
    return _cmd_export


def _cmd_export(args: argparse.Namespace, cache: Cache) -> int:
    pattern = any_of(patterns_of(args))
    filt = Filter(pattern=pattern, kinds=args.kind)
    dest = Path(args.dest).absolute()
    result = cache.export(filt, dest, sources_of(args))
    render.render_export(result, cache.path, args.format, sys.stdout)
    found = result.exported or result.identical or result.conflicts or result.failed
    if not (found or result.skipped or result.fatal) and args.format == "human":
        print(f'No matching files for pattern "{pattern.text}"', file=sys.stderr)
    if result.fatal is not None:
        print(f"error: {result.fatal}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_ERROR


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "check",
        help="can the cache alone install these requirements, for this interpreter?",
        epilog="Requirements come from the command line and -r FILE (constraints: -c FILE). "
        "Exit status: 0 when every requirement and dependency is served by a cached wheel, "
        "1 when something is missing or not proven (an sdist, a choice for pip's resolver).",
    )
    parser.add_argument(
        "requirement",
        nargs="*",
        metavar="REQUIREMENT",
        help="a requirement as pip takes it: NAME, 'NAME>=1,<2', 'NAME[extra]'",
    )
    parser.add_argument(
        "-d",
        "--dest",
        default="wheelhouse",
        metavar="DIR",
        help="the export directory the printed commands use (default: wheelhouse)",
    )
    add_format(parser, "human", "json")
    return _cmd_check


def _cmd_check(args: argparse.Namespace, cache: Cache) -> int:
    from ..actions.check import Request
    from ..locate.reqfile import read_requirement_lines

    requests = [Request(text) for text in args.requirement]
    for line in read_requirement_lines(args.requirements, args.constraints, os.environ):
        requests.append(Request(line.text, line.source, line.constraint, line.editable))
    if not any(not r.constraint for r in requests):
        raise UsageError("check needs a requirement: NAME on the command line or -r FILE")
    result = cache.check(requests)
    export, install = check_commands(args, result.files)
    render.render_check(
        result, cache.path, args.format, sys.stdout, export_command=export, install_command=install
    )
    return EXIT_OK if result.ok else EXIT_ERROR


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Handler:
    parser = sub.add_parser(
        "migrate",
        help="move the legacy http/ cache into http-v2/, where pip >= 23.3 reads",
        epilog="Exit status: 0 on success, 1 if a write or a removal failed.",
    )
    parser.add_argument("--keep-legacy", action="store_true", help="copy, and leave http/ as it is")
    parser.add_argument("--dry-run", action="store_true", help="only report what would move")
    add_format(parser, "human", "json")
    return _cmd_migrate


def _cmd_migrate(args: argparse.Namespace, cache: Cache) -> int:
    result = cache.migrate(dry_run=args.dry_run, keep_legacy=args.keep_legacy, on_wait=_waiting)
    render.render_migration(result, cache.path, args.format, sys.stdout)
    for error in result.errors:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_ERROR if result.errors else EXIT_OK


_COMMANDS = (
    _add_dir,
    _add_info,
    _add_list,
    _add_du,
    _add_show,
    _add_remove,
    _add_purge,
    _add_migrate,
    _add_prune,
    _add_export,
    _add_verify,
    _add_check,
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (scripts read stderr), still exit 2;
    a missing or unknown COMMAND exits 1, as pip's 'Need an action' does."""

    def error(self, message: str) -> NoReturn:
        about_command = message.startswith("argument COMMAND:") or message.endswith(
            "required: COMMAND"
        )
        code = EXIT_ERROR if about_command else EXIT_USAGE
        message += _closest_choice(message)
        self.exit(code, f"{self.prog}: error: {message} (see --help)\n")


_INVALID_CHOICE = re.compile(
    r"invalid choice: '?(?P<given>[^' ]*)'? \(choose from (?P<choices>.*)\)"
)


def _closest_choice(message: str) -> str:
    """``; did you mean 'list'?`` for argparse's invalid choice (a command, a --format),
    or nothing."""
    found = _INVALID_CHOICE.search(message)
    if found is None:
        return ""
    # Quoted with repr() up to Python 3.11, bare since: take either.
    choices = [c.strip().strip("'") for c in found["choices"].split(",")]
    close = difflib.get_close_matches(found["given"].lower(), choices, n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog=prog,
        description="Inspect and clean pip's cache, including the HTTP cache 'pip cache' "
        "cannot list.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_general_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        handler = add(sub)
        command = handler.__name__.removeprefix("_cmd_")
        add_general_options(sub.choices[command], top=False)
        take_extra(sub.choices[command], command)
        if command in INDEX_OPTION_COMMANDS:
            add_index_options(sub.choices[command])
        sub.choices[command].set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    given = sys.argv[1:] if argv is None else list(argv)
    if not given:  # the bare command: what it can do, as pip and git answer
        parser.print_help()
        return EXIT_OK
    args = parser.parse_args(given)
    with _no_cycle_collection(), printable_paths(), contextlib.ExitStack() as stack:
        try:
            apply_configuration(args)
        except UsageError as exc:
            parser.error(str(exc))
        try:
            stack.enter_context(quiet_streams(args))
        except PipCachePlusError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        stack.enter_context(safe_streams(escape_stdout=_escapes(args)))
        return _run(parser, args)


def _escapes(args: argparse.Namespace) -> bool:
    """Whether stdout shows cache content escaped: human text always; paths (``dir``,
    ``--format abspath``) only on a terminal, since scripts need the real names; JSON never."""
    fmt = getattr(args, "format", "human")
    if fmt == "json":
        return False
    if fmt == "abspath" or args.command == "dir":
        return sys.stdout.isatty()
    return True


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Turn Python's cycle collector off for the command (and back on after: tests and
    callers run ``main`` in their own process). A command holds an object or four per
    entry, and the collector walks every one again each time their number grows by a
    quarter, ~10% of a 20k-entry listing's CPU, to free nothing: the entries form no
    cycles, and reference counting frees what they drop."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _note_missing(path: Path, args: argparse.Namespace) -> None:
    """A cache dir that is not there is an empty cache, said on stderr: a mistyped
    ``--cache-dir`` must not pass for an empty cache."""
    # purge of nothing warns as pip, alone (pip's own test reads all of stderr).
    if check_cache_dir(path) or verbosity(args) < (1 if args.command == "purge" else 0):
        return
    print(f"Note: the cache dir {path} does not exist; treated as empty.", file=sys.stderr)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        cache = _locate(args)
        refused = refusal(args) if args.command in PIP_COMMANDS else None
        if refused is not None:  # pip checks the words after the cache, as here
            return refused
        if args.command != "dir":  # which only says where it is, as pip's does
            _note_missing(cache.path, args)
        return _handle(args, cache)
    except UsageError as exc:
        parser.error(str(exc))
    except CacheDisabledError as exc:
        return pip_error(DISABLED) if args.command in PIP_COMMANDS else _error(exc)
    except PipCachePlusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        silence_stdout()
        return EXIT_ERROR


def _handle(args: argparse.Namespace, cache: Cache) -> int:
    """The command's handler, with the progress display where it is wanted."""
    handler: Handler = args.handler
    line = _progress_line(args)
    if line is None:
        return handler(args, cache)
    cache.progress = line
    with clearing_streams(line.clear):
        return handler(args, cache)


def _progress_line(args: argparse.Namespace) -> ProgressLine | None:
    """The progress display, for human output on a terminal's stderr without ``-q``:
    never with JSON or paths, which scripts read. It writes to the terminal itself, below
    ``--log`` and ``-q``'s filters (the log gets no progress lines)."""
    if getattr(args, "format", "human") != "human" or args.command == "dir":
        return None
    terminal = terminal_of(sys.stderr)
    if verbosity(args) < 0 or not terminal.isatty():
        return None
    return ProgressLine(terminal, delay=delay_from(os.environ))


def _locate(args: argparse.Namespace) -> Cache:
    given = args.cache_dir  # None, a DIR, or False: --no-cache-dir came last
    return Cache.locate(
        given if isinstance(given, str) else None,
        no_cache_dir=given is False,
        isolated=args.isolated,
        memo=True,
        index_options=index_options_of(args),
    )


def _error(exc: PipCachePlusError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_ERROR
