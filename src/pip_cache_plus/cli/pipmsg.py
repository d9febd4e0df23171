"""pip's own answers for the five commands ``pip cache`` has, word for word (pip 26.3).

A script that reads ``pip cache``'s output or exit code reads ours the same: pip's
``ERROR: ...`` and ``WARNING: ...`` lines, on stderr, and pip's exit 1 where argparse
would have said something else with exit 2.
"""

from __future__ import annotations

import argparse
import sys

__all__ = [
    "DISABLED",
    "PIP_COMMANDS",
    "no_match",
    "pip_error",
    "pip_warning",
    "refusal",
    "take_extra",
]

PIP_COMMANDS = frozenset({"dir", "info", "list", "remove", "purge"})
DISABLED = "pip cache commands can not function since cache is disabled."
_EXIT_ERROR = 1
# How many words pip takes after the command's name: (fewest, most).
_WORDS = {"dir": (0, 0), "info": (0, 0), "purge": (0, 0), "list": (0, 1), "remove": (1, 1)}


def take_extra(parser: argparse.ArgumentParser, command: str) -> None:
    """Give a pip command that takes no word a place for them, so that ``dir aaa`` gets
    pip's answer (:func:`refusal`) rather than argparse's."""
    if _WORDS.get(command, (0, 1))[1] == 0:
        parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)


def pip_error(text: str) -> int:
    """pip's ``ERROR: text`` on stderr; returns pip's exit code for it."""
    print(f"ERROR: {text}", file=sys.stderr)
    return _EXIT_ERROR


def pip_warning(text: str) -> None:
    print(f"WARNING: {text}", file=sys.stderr)


def no_match(pattern: str) -> str:
    """pip's warning when ``remove`` (``purge``: ``*``) finds nothing to remove."""
    return "No matching packages" + ("" if pattern == "*" else f' for pattern "{pattern}"')


def refusal(args: argparse.Namespace) -> int | None:
    """pip's answer to too many or too few words after a pip command (printed; its exit
    code returned), or None if they fit."""
    fewest, most = _WORDS[args.command]
    words = len(getattr(args, "extra", None) or ()) + len(getattr(args, "pattern", None) or ())
    if words > most:
        return pip_error("Too many arguments")
    if words < fewest:
        return pip_error("Please provide a pattern")
    return None
