"""The index options inside pip requirements files, read as pip 26.3 reads them.

pip's ``req_file.py``: lines joined on a trailing backslash, comments and blank lines
dropped, ``${VAR}`` replaced from the environment, then each line that names no
requirement parsed as options; ``-r``/``-c`` lines are followed (relative to the file
that names them), and a file that includes itself is an error. Only the options that
say where pip looked (``-i``, ``--extra-index-url``, ``--no-index``, ``-f``) are kept;
the others pip allows there are accepted and ignored, anything else is an error, as in
pip. Requirements files given as ``http(s)`` URLs are not fetched.
"""

from __future__ import annotations

import codecs
import locale
import optparse
import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pip_cache_plus.errors import UsageError

__all__ = ["OptionLine", "RequirementLine", "read_requirement_lines", "read_requirements"]

_SCHEME = re.compile(r"^(http|https|file):", re.I)
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"(?P<var>\$\{(?P<name>[A-Z0-9_]+)\})")
_PEP263 = re.compile(rb"coding[:=]\s*([-\w.]+)")
# pip's order: UTF-16-LE's BOM is a prefix of UTF-32-LE's.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_MAX_FILE = 16 * 1024 * 1024  # a requirements file this big is a mistake


@dataclass(frozen=True, slots=True)
class OptionLine:
    """The index options of one line that names no requirement, in file order."""

    source: str  # "reqs.txt:3"
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    no_index: bool
    find_links: str | None  # pip takes the first of a line's, relative to the file if it exists


@dataclass(frozen=True, slots=True)
class RequirementLine:
    """A line that names a requirement: its text without the options after it."""

    source: str  # "reqs.txt:3"
    text: str  # "tiny-pure>=1 ; python_version >= '3.8'", or an -e line's target
    constraint: bool  # from a constraints file (-c): narrows, installs nothing
    editable: bool  # -e: pip installs it from its path or URL, not from an index


class _LineError(Exception):
    pass


def _line_parser() -> optparse.OptionParser:
    """The options pip accepts in a requirements file (SUPPORTED_OPTIONS and _REQ)."""
    parser = optparse.OptionParser(add_help_option=False)

    def fail(msg: str) -> NoReturn:
        raise _LineError(msg)

    parser.error = fail  # type: ignore[method-assign]  # optparse exits otherwise
    add = parser.add_option
    add("-i", "--index-url", "--pypi-url", dest="index_url")
    add("--extra-index-url", dest="extra_index_urls", action="append", default=[])
    add("--no-index", dest="no_index", action="store_true", default=False)
    add("-c", "--constraint", dest="constraints", action="append", default=[])
    add("-r", "--requirement", dest="requirements", action="append", default=[])
    add("-e", "--editable", dest="editables", action="append", default=[])
    add("-f", "--find-links", dest="find_links", action="append", default=[])
    for flag in ("--prefer-binary", "--require-hashes", "--no-require-hashes", "--pre"):
        add(flag, action="store_true")
    valued = ("--all-releases", "--only-final", "--no-binary", "--only-binary", "--trusted-host")
    for flag in (*valued, "--use-feature", "--hash", "--config-settings"):
        add(flag, action="append")
    return parser


def read_requirements(paths: Iterable[str], environ: Mapping[str, str]) -> tuple[OptionLine, ...]:
    """The option lines of the requirements (or constraints: the same to pip's finder)
    files ``paths``, nested files followed. Raises :class:`UsageError` with pip's reason
    for a file that cannot be read or a line pip would refuse."""
    lines: list[OptionLine] = []
    for path in paths:
        lines += _read(path, environ, {os.path.abspath(path): None})
    return tuple(lines)


def read_requirement_lines(
    requirements: Iterable[str], constraints: Iterable[str], environ: Mapping[str, str]
) -> tuple[RequirementLine, ...]:
    """The requirement lines of the files, nested ``-r``/``-c`` followed as pip does (a
    ``-c`` inside a requirements file makes a constraints file)."""
    lines: list[RequirementLine] = []
    for paths, constraint in ((requirements, False), (constraints, True)):
        for path in paths:
            lines += _requirements_of(path, environ, {os.path.abspath(path): None}, constraint)
    return tuple(lines)


def _requirements_of(
    filename: str, environ: Mapping[str, str], seen: dict[str, str | None], constraint: bool
) -> list[RequirementLine]:
    found: list[RequirementLine] = []
    for where, args, opts in _parsed(filename, environ):
        if args:
            found.append(RequirementLine(where, args, constraint, editable=False))
        found += [RequirementLine(where, e, constraint, editable=True) for e in opts.editables]
        for nested, is_constraint in ((opts.requirements, constraint), (opts.constraints, True)):
            if nested:
                name = _nested_name(filename, nested[0], seen)
                found += _requirements_of(name, environ, {**seen, name: filename}, is_constraint)
    return found


def _nested_name(filename: str, name: str, seen: dict[str, str | None]) -> str:
    if _SCHEME.search(filename) or not _SCHEME.search(name):
        name = os.path.abspath(os.path.join(os.path.dirname(filename), name))
    if name in seen:
        first = seen[name]
        tail = f" and again in {first}" if first is not None else ""
        raise UsageError(f"{name} recursively references itself in {filename}{tail}")
    return name


def _read(
    filename: str, environ: Mapping[str, str], seen: dict[str, str | None]
) -> list[OptionLine]:
    found: list[OptionLine] = []
    for where, args, opts in _parsed(filename, environ):
        if args or opts.editables:
            continue  # a requirement: its options do not change where pip looks
        nested = opts.requirements or opts.constraints
        if nested:
            found += _nested(filename, nested[0], environ, seen)
            continue
        find_links = opts.find_links[0] if opts.find_links else None
        if find_links is not None:
            relative = os.path.join(os.path.dirname(os.path.abspath(filename)), find_links)
            find_links = relative if os.path.exists(relative) else find_links
        found.append(
            OptionLine(
                where, opts.index_url, tuple(opts.extra_index_urls), opts.no_index, find_links
            )
        )
    return found


def _nested(
    filename: str, name: str, environ: Mapping[str, str], seen: dict[str, str | None]
) -> list[OptionLine]:
    name = _nested_name(filename, name, seen)
    return _read(name, environ, {**seen, name: filename})


def _parsed(
    filename: str, environ: Mapping[str, str]
) -> Iterator[tuple[str, str, optparse.Values]]:
    """Each line of the file as pip's parser splits it: where (``reqs.txt:3``), its
    requirement text and its options; a line pip would refuse is a UsageError."""
    for number, line in _preprocess(_content(filename), environ):
        args, options = _break_args_options(line)
        where = f"{filename}:{number}"
        try:
            opts, _ = _line_parser().parse_args(shlex.split(options))
        except (_LineError, ValueError) as exc:
            raise UsageError(f"invalid line {where}: {line!r}: {exc}") from None
        yield where, args, opts


def _content(filename: str) -> str:
    path = filename
    scheme = urlsplit(filename).scheme.lower() if _SCHEME.search(filename) else ""
    if scheme in ("http", "https"):
        msg = f"requirements file {filename} is a URL, which is not fetched: pass a local copy"
        raise UsageError(msg)
    if scheme == "file":
        path = url2pathname(urlsplit(filename).path)
    try:
        with open(path, "rb") as fp:
            data = fp.read(_MAX_FILE + 1)
    except OSError as exc:
        raise UsageError(f"Could not open requirements file: {exc}") from None
    if len(data) > _MAX_FILE:
        raise UsageError(f"requirements file {filename} is over {_MAX_FILE // 2**20} MiB")
    return _decode(data, filename)


def _decode(data: bytes, filename: str) -> str:
    try:
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                return data[len(bom) :].decode(encoding)
        for line in data.split(b"\n")[:2]:
            if line[:1] == b"#" and (declared := _PEP263.search(line)) is not None:
                return data.decode(declared[1].decode("ascii"))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode(locale.getpreferredencoding(False))
    except (UnicodeDecodeError, LookupError) as exc:
        raise UsageError(f"requirements file {filename} cannot be decoded: {exc}") from None


def _preprocess(content: str, environ: Mapping[str, str]) -> Iterator[tuple[int, str]]:
    for number, joined in _join_lines(enumerate(content.splitlines(), start=1)):
        line = _COMMENT.sub("", joined).strip()
        if not line:
            continue
        for var, name in _ENV_VAR.findall(line):
            value = environ.get(name)
            if value:
                line = line.replace(var, value)
        yield number, line


def _join_lines(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """pip's join_lines: a line ending in a backslash continues on the next (comments end
    a continued line), numbered as its first line."""
    first: int | None = None
    parts: list[str] = []
    for number, text in lines:
        line = text
        if not line.endswith("\\") or _COMMENT.match(line):
            if _COMMENT.match(line):
                line = " " + line  # so that the comment is still matched once joined
            if parts:
                parts.append(line)
                assert first is not None
                yield first, "".join(parts)
                parts = []
            else:
                yield number, line
        else:
            if not parts:
                first = number
            parts.append(line.strip("\\"))
    if parts:
        assert first is not None
        yield first, "".join(parts)


def _break_args_options(line: str) -> tuple[str, str]:
    """pip's split of a line into its requirement and its options (the first token that
    starts with ``-`` and all after it), so markers are never shell-split."""
    tokens = line.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]), " ".join(tokens[i:])
    return line, ""
