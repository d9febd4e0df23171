"""pip's general options (its ``general_group``, pip 26.3), before or after any command.

A command line written for ``pip cache`` runs unchanged: every general option pip accepts
is accepted here, with pip's names, values and checks. What has a meaning for a cache tool
is honoured as pip honours it:

- ``-v``/``--verbose`` (repeatable): ``remove`` and ``purge`` print ``Removed <path>`` for
  each file and directory they remove;
- ``-q``/``--quiet`` (repeatable, each cancels a ``-v``): ``-q`` drops the normal output
  (JSON, which was asked for, stays), ``-qq`` warnings too, ``-qqq`` errors too;
- ``--log PATH`` (``--log-file``, ``--local-log``): every line either stream gets, even one
  ``-q`` drops, is appended to PATH with pip's timestamp;
- ``--isolated``: ``PIP_*`` variables and the user's configuration file are ignored;
- ``--cache-dir``/``--no-cache-dir``: one destination, so the last one given wins.

As in pip, ``PIP_VERBOSE``, ``PIP_QUIET``, ``PIP_LOG`` (``PIP_LOG_FILE``,
``PIP_LOCAL_LOG``) and the same keys in ``[global]``/``[cache]`` of pip's configuration
files are the defaults: a count (a non-negative integer or a boolean) that each ``-v``/``-q``
adds to, a log file that ``--log`` replaces (:func:`apply_configuration`).

``--require-virtualenv`` is accepted and ignored, as ``pip cache`` ignores it. ``--no-color``
and ``NO_COLOR`` change nothing: we print no colour. The network, resolver and interpreter
options (``--proxy``, ``--timeout``, ``--python``...) are accepted and change nothing here.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TextIO

from ..errors import PipCachePlusError, UsageError
from ..locate import pipconfig
from .console import StreamProxy

__all__ = [
    "add_general_options",
    "apply_configuration",
    "log_only",
    "logging",
    "quiet_streams",
    "verbosity",
]

# Switches that mean nothing to a cache tool, accepted so that pip's command lines run.
_SWITCHES: tuple[tuple[str, ...], ...] = (
    ("--debug",),
    ("--require-virtualenv", "--require-venv"),
    ("--no-input",),
    ("--no-proxy-env",),
    ("--disable-pip-version-check",),
    ("--no-color",),
    ("--no-python-version-warning",),
)
# Options with a value, checked as pip checks it (an int, a float, a choice), then unused.
_VALUES: tuple[tuple[tuple[str, ...], type, tuple[str, ...] | None, str], ...] = (
    (("--python",), str, None, "PYTHON"),
    (("--keyring-provider",), str, ("auto", "disabled", "import", "subprocess"), "PROVIDER"),
    (("--proxy",), str, None, "PROXY"),
    (("--retries",), int, None, "RETRIES"),
    (("--resume-retries",), int, None, "RESUME_RETRIES"),
    (("--timeout", "--default-timeout"), float, None, "SEC"),
    (("--cert",), str, None, "PATH"),
    (("--client-cert",), str, None, "PATH"),
)
_FEATURES = (
    "fast-deps",
    "inprocess-build-deps",
    "venv-isolation",
    "truststore",
    "no-binary-enable-wheel-cache",
    "build-constraint",
)
_APPENDS: tuple[tuple[str, tuple[str, ...] | None, str], ...] = (
    ("--exists-action", ("s", "i", "w", "b", "a"), "ACTION"),
    ("--trusted-host", None, "HOSTNAME"),
    ("--use-feature", _FEATURES, "FEATURE"),
    ("--use-deprecated", ("legacy-resolver", "legacy-certs"), "FEATURE"),
)
_ERROR_PREFIXES = ("ERROR:", "error:")
_COUNTS = ("verbose", "quiet")
_LOG_KEYS = ("log", "log-file", "local-log")  # pip's config keys are its long names
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})  # pip's strtobool
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})
_LOGS: list[TextIO] = []  # the --log file of the command running (main() nests none)


def add_general_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """pip's general options on ``parser``: the top parser (``top``) or a command's.

    Given before the command they land on the top parser, after it on the command's,
    whose values argparse copies over the top's: so the command's copies default to
    SUPPRESS (they must not reset a value given before), and the counts have their own
    destinations, added up by :func:`verbosity`.
    """
    group = parser.add_argument_group("pip's general options (accepted as pip accepts them)")
    suffix = "" if top else "_after"
    for short, dest, text in (
        ("-v", "verbose", "more output: each file and directory removed"),
        ("-q", "quiet", "less output: -q warnings and errors, -qq errors only"),
    ):
        group.add_argument(
            short,
            "--" + dest,
            action="count",
            dest=dest + suffix,
            default=0 if top else argparse.SUPPRESS,
            help=text + " (repeatable)",
        )
    _add(group, ("--isolated",), top, action="store_true", help="ignore PIP_* and the user's file")
    _add(
        group,
        ("--log", "--log-file", "--local-log"),
        top,
        metavar="PATH",
        dest="log",
        help="append every line printed (with a timestamp) to PATH",
    )
    # One destination: pip's --no-cache-dir sets cache_dir to False, so the last one wins.
    _add(
        group,
        ("--cache-dir",),
        top,
        metavar="DIR",
        dest="cache_dir",
        help="the cache directory (default: where pip would look)",
    )
    _add(
        group,
        ("--no-cache-dir",),
        top,
        action="store_const",
        const=False,
        dest="cache_dir",
        help="behave like pip with the cache disabled",
    )
    for switch in _SWITCHES:
        _add(group, switch, top, action="store_true", help=argparse.SUPPRESS)
    for flags, kind, choices, metavar in _VALUES:
        _add(group, flags, top, type=kind, choices=choices, metavar=metavar, help=argparse.SUPPRESS)
    for flag, choices, metavar in _APPENDS:
        _add(
            group,
            (flag,),
            top,
            action="append",
            choices=choices,
            metavar=metavar,
            help=argparse.SUPPRESS,
        )


def _add(group: argparse._ArgumentGroup, flags: Sequence[str], top: bool, **kwargs: object) -> None:
    if not top:
        kwargs["default"] = argparse.SUPPRESS
    elif kwargs.get("action") == "store_true":
        kwargs["default"] = False
    group.add_argument(*flags, **kwargs)  # type: ignore[arg-type]


def apply_configuration(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> None:
    """pip's configured defaults for ``-v``, ``-q`` and ``--log`` onto ``args`` (not under
    ``--isolated``). Our copy of pip's reader: pip's own import costs ~0.2 s per command.

    Raises UsageError for a count pip refuses (``PIP_VERBOSE=lots``), as pip exits 2.
    """
    env = os.environ if environ is None else environ
    config = pipconfig.fallback_configuration(env, isolated=bool(getattr(args, "isolated", False)))
    log = None
    for item in config.for_command("cache", {*_COUNTS, *_LOG_KEYS}):
        if item.name in _COUNTS:
            setattr(args, item.name + "_configured", _count(item.name, item.value))
        else:
            log = item.value  # the last one read wins, as pip's defaults dict
    if getattr(args, "log", None) is None and log is not None:
        args.log = log


def _count(key: str, value: str) -> int:
    """pip's reading of a configured count: a boolean (yes: 1) or a non-negative integer."""
    lowered = value.lower()
    if lowered in _TRUE | _FALSE:
        return int(lowered in _TRUE)
    if value.isascii() and value.strip().isdigit():
        return int(value)
    raise UsageError(
        f"{value} is not a valid value for {key} option, please instead specify either a "
        "non-negative integer or a boolean value like yes/no or false/true which is "
        "equivalent to 1/0."
    )


def verbosity(args: argparse.Namespace) -> int:
    """pip's verbosity: +1 per ``-v``, -1 per ``-q``, before or after the command, on top
    of the configured counts."""
    verbose = sum(getattr(args, "verbose" + at, 0) for at in ("", "_after", "_configured"))
    quiet = sum(getattr(args, "quiet" + at, 0) for at in ("", "_after", "_configured"))
    return int(verbose) - int(quiet)


@contextlib.contextmanager
def quiet_streams(args: argparse.Namespace) -> Iterator[None]:
    """``sys.stdout`` and ``sys.stderr`` as ``-q`` and ``--log`` ask (see the module).

    Raises PipCachePlusError when the log file cannot be opened (pip fails then too).
    """
    level = verbosity(args)
    log = _open_log(getattr(args, "log", None))
    drop_out = level <= -1 and getattr(args, "format", "human") != "json"
    if log is None and not drop_out and level > -2:
        yield  # nothing to change: the streams stay as they are, at full speed
        return
    out, err = sys.stdout, sys.stderr
    sys.stdout = _Filtered(out, log, keep=lambda line: not drop_out)
    sys.stderr = _Filtered(err, log, keep=lambda line: _stderr_kept(line, level))
    if log is not None:
        _LOGS.append(log)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = out, err
        if log is not None:
            _LOGS.remove(log)
            log.close()


def logging() -> bool:
    """Whether ``--log`` is on (for this command)."""
    return bool(_LOGS)


def log_only(text: str) -> None:
    """A line for the ``--log`` file only: what pip logs below the level shown."""
    if _LOGS:
        _LOGS[-1].write(f"{_timestamp()} {text}\n")


def _stderr_kept(line: str, level: int) -> bool:
    """pip's levels for what goes to stderr: warnings until ``-qq``, errors until ``-qqq``."""
    if level <= -3:
        return False
    return level > -2 or line.startswith(_ERROR_PREFIXES)


def _open_log(path: str | None) -> TextIO | None:
    if path is None:
        return None
    try:
        return open(path, "a", encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise PipCachePlusError(f"the log file {path} cannot be opened: {exc.strerror}") from None


class _Filtered(StreamProxy):
    """A stream that passes on the lines ``keep`` wants (judged by how each line starts)
    and copies every line to a log, with pip's timestamp."""

    def __init__(self, stream: TextIO, log: TextIO | None, keep: Callable[[str], bool]) -> None:
        super().__init__(stream)
        self.log = log
        self._keep = keep
        self._keeping = True
        self._line_start = True
        self._partial = ""

    def write(self, text: str) -> int:
        for piece in text.splitlines(keepends=True):
            if self._line_start:
                self._keeping = self._keep(piece)
            if self._keeping:
                self.raw.write(piece)
            self._line_start = piece.endswith("\n")
        if self.log is not None:
            self._partial += text
            *lines, self._partial = self._partial.split("\n")
            for line in lines:
                self.log.write(f"{_timestamp()} {line}\n")
        return len(text)

    def flush(self) -> None:
        super().flush()
        if self.log is not None:
            self.log.flush()


def _timestamp() -> str:
    """pip's log timestamp, local time: ``2026-01-31T12:00:00,123``."""
    now = datetime.datetime.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S") + f",{now.microsecond // 1000:03d}"
