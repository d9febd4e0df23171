"""Walk ``http-v2/``, ``http/`` and ``wheels/`` and yield entries from stat data alone.

One ``os.scandir`` pass; nothing is opened. Links are never followed: a symlink inside the
cache is reported as an invalid entry, so no later step can reach out of the cache through
it. Anything that is not a complete pip entry (leftovers, foreign files, half entries) comes
out as a ``RawEntry`` with a ``problem``.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISLNK

from ..errors import UNREADABLE, unreadable
from ..format.records import KEY_RE
from ..model import SOURCE_DIRS, SOURCES, FileStat, RawEntry, Source

BODY_SUFFIX = ".body"
TMP_SUFFIX = ".tmp"
ORIGIN_JSON = "origin.json"
WHEEL_SUFFIX = ".whl"
_BY_NAME = operator.attrgetter("name")
_KEY_DEPTH = 5  # http entries live at h[0]/h[1]/h[2]/h[3]/h[4]/h

PROBLEM_NO_BODY = "metadata without its .body file (pip ignores it)"
PROBLEM_NO_META = "body without its metadata file (pip ignores it)"
PROBLEM_TMP = "leftover temporary file from an interrupted write"
PROBLEM_FOREIGN = "not a file pip writes here"
PROBLEM_LINK = "symbolic link (not followed)"
PROBLEM_MISPLACED = "entry file in the wrong directory for its name (pip never finds it)"
PROBLEM_LONE_ORIGIN = "origin.json without a wheel beside it"
#: How a directory the walk could not read (or a file where one should be) starts its
#: problem: its entries are unknown.
PROBLEM_UNREADABLE_DIR = f"directory {UNREADABLE}"
PROBLEM_SPECIAL = "not a regular file (a FIFO, socket or device: pip never makes one)"
_DirHandler = Callable[[dict[str, FileStat], tuple[str, ...], Source], Iterator[RawEntry]]

PROBLEM_BODY_IN_LEGACY = "a .body file in the legacy http/ cache (pip < 23.3 never wrote one)"


def walk(
    cache_dir: Path,
    sources: Iterable[Source] = SOURCES,
    *,
    on_empty_dir: Callable[[str], None] | None = None,
) -> Iterator[RawEntry]:
    """Yield every entry of the chosen sources, in a stable (sorted) order.

    ``on_empty_dir`` is called with each directory below a source dir that holds nothing
    at all (``prune`` removes those: seeing them here saves it a second walk).
    """
    for source in sources:
        root = cache_dir / SOURCE_DIRS[source]
        try:
            is_link = S_ISLNK(os.lstat(root).st_mode)
        except FileNotFoundError:
            continue
        except OSError as exc:  # the cache dir cannot be searched
            yield _unreadable(str(root), source, exc)
            continue
        if is_link:
            # pip never makes these links; whoever did may point them anywhere.
            yield RawEntry(source, (_lstat(root),), problem=PROBLEM_LINK)
            continue
        if source == "wheels":
            yield from _walk_tree(str(root), source, _wheel_dir_entries, on_empty_dir)
        else:
            yield from _walk_tree(str(root), source, _http_dir_entries, on_empty_dir)


def walk_part(
    cache_dir: Path, source: Source, subdirs: Callable[[str], bool], *, own_files: bool
) -> Iterator[RawEntry]:
    """Part of :func:`walk` for one source: only the top-level subdirectories whose names
    ``subdirs`` accepts, and the source dir's own files if ``own_files``. The parts of a
    partition of the names, walked in name order (each after those before it) and then
    the own files, give what :func:`walk` gives for that source when its dir is a real
    directory: :mod:`.shards` splits the walk over two processes so. Only the part with
    ``own_files`` reports a source dir that cannot be read."""
    root = str(cache_dir / SOURCE_DIRS[source])
    handler = _wheel_dir_entries if source == "wheels" else _http_dir_entries
    yield from _walk_tree(root, source, handler, None, top_subdirs=subdirs, top_files=own_files)


def _lstat(path: Path) -> FileStat:
    st = path.lstat()
    return FileStat(str(path), st.st_size, st.st_mtime, st.st_atime)


def _stat(entry: os.DirEntry[str]) -> FileStat:
    st = entry.stat(follow_symlinks=False)
    return FileStat(entry.path, st.st_size, st.st_mtime, st.st_atime)


def _walk_tree(
    top: str,
    source: Source,
    files_to_entries: _DirHandler,
    on_empty_dir: Callable[[str], None] | None,
    *,
    top_subdirs: Callable[[str], bool] | None = None,
    top_files: bool = True,
) -> Iterator[RawEntry]:
    """Depth first, children by name, a directory's own files after its subdirectories;
    at the top, only the subdirectories ``top_subdirs`` accepts (all if None), and the
    top's own files only if ``top_files`` (see :func:`walk_part`).

    A loop over an explicit stack, not recursion: each entry would otherwise be passed up
    through one generator per level (six for http entries), on every one of them.
    """
    stack: list[tuple[str, tuple[str, ...]] | _Files] = [(top, ())]
    while stack:
        item = stack.pop()
        if isinstance(item, _Files):
            yield from _link_entries(item.links, item.files, source)
            yield from files_to_entries(item.files, item.rel, source)
            yield from (RawEntry(source, (st,), problem=PROBLEM_SPECIAL) for st in item.special)
            continue
        directory, where = item
        try:
            with os.scandir(directory) as it:
                children = sorted(it, key=_BY_NAME)
        except FileNotFoundError:
            continue
        except (PermissionError, NotADirectoryError) as exc:
            if where or top_files:  # the top's own problem, told by one part only
                yield _unreadable(directory, source, exc)
            continue
        if not children and where and on_empty_dir is not None:
            on_empty_dir(directory)  # not the source dir itself: pip expects it there
        found, subdirs = _sort_out(children, where)
        if not where:
            found, subdirs = _top_part(found, subdirs, top_subdirs, top_files=top_files)
        if found.files or found.links or found.special:
            stack.append(found)
        stack.extend(reversed(subdirs))


def _sort_out(
    children: list[os.DirEntry[str]], where: tuple[str, ...]
) -> tuple[_Files, list[tuple[str, tuple[str, ...]]]]:
    """A directory's files by type, and its subdirectories (path, relative parts)."""
    found = _Files(where, {}, {}, [])
    subdirs: list[tuple[str, tuple[str, ...]]] = []
    for child in children:
        try:
            # Directories first: the five levels of hex directories above each
            # http entry hold little else (a link to a directory is no directory).
            if child.is_dir(follow_symlinks=False):
                subdirs.append((child.path, (*where, child.name)))
            elif child.is_file(follow_symlinks=False):
                found.files[child.name] = _stat(child)
            elif child.is_symlink():
                found.links[child.name] = _stat(child)
            else:  # a FIFO, socket or device: reading one could block forever
                found.special.append(_stat(child))
        except FileNotFoundError:
            continue  # removed while we looked (a running pip): not an entry any more
    return found, subdirs


def _top_part(
    found: _Files,
    subdirs: list[tuple[str, tuple[str, ...]]],
    top_subdirs: Callable[[str], bool] | None,
    *,
    top_files: bool,
) -> tuple[_Files, list[tuple[str, tuple[str, ...]]]]:
    if top_subdirs is not None:
        subdirs = [item for item in subdirs if top_subdirs(item[1][0])]
    return (found if top_files else _Files(found.rel, {}, {}, [])), subdirs


@dataclass(slots=True)
class _Files:
    """A directory's files, waiting on the stack for its subdirectories to be walked."""

    rel: tuple[str, ...]
    files: dict[str, FileStat]  # regular files
    links: dict[str, FileStat]
    special: list[FileStat]  # FIFOs, sockets, devices


def _link_entries(
    links: dict[str, FileStat], files: dict[str, FileStat], source: Source
) -> Iterator[RawEntry]:
    """One entry per link (its main file), with the regular file it pairs with.

    pip follows links: metadata beside a linked ``.body`` (or the reverse) is an entry pip
    serves, and so is a linked wheel with its ``origin.json``. Kept in the link's entry,
    the regular half is never mistaken for a half entry and removed as debris.
    """
    for name, link in links.items():
        key = name.removesuffix(BODY_SUFFIX)
        partner: FileStat | None = None
        if source == "http-v2" and KEY_RE.fullmatch(key):
            partner = files.pop(key + BODY_SUFFIX if name == key else key, None)
        elif source == "wheels" and name.endswith(WHEEL_SUFFIX) and not _has_wheel(files):
            partner = files.pop(ORIGIN_JSON, None)
        group = (link,) if partner is None else (link, partner)
        yield RawEntry(
            source, group, key=key if KEY_RE.fullmatch(key) else None, problem=PROBLEM_LINK
        )


def _has_wheel(files: dict[str, FileStat]) -> bool:
    return any(name.endswith(WHEEL_SUFFIX) for name in files)


def _unreadable(directory: str, source: Source, exc: OSError) -> RawEntry:
    try:
        st = os.lstat(directory)
        stat = FileStat(directory, 0, st.st_mtime, st.st_atime)
    except OSError:
        stat = FileStat(directory, 0, 0.0, 0.0)
    return RawEntry(source, (stat,), problem=f"directory {unreadable(exc)}")


def _http_dir_entries(
    files: dict[str, FileStat], rel: tuple[str, ...], source: Source
) -> Iterator[RawEntry]:
    for name, stat in files.items():
        if KEY_RE.fullmatch(name):
            yield _http_entry(files, name, rel, source)
        elif name.endswith(BODY_SUFFIX) and KEY_RE.fullmatch(name[: -len(BODY_SUFFIX)]):
            if source == "http-v2" and name[: -len(BODY_SUFFIX)] in files:
                continue  # reported with its metadata
            problem = PROBLEM_NO_META if source == "http-v2" else PROBLEM_BODY_IN_LEGACY
            yield RawEntry(source, (stat,), key=name[: -len(BODY_SUFFIX)], problem=problem)
        elif name.endswith(TMP_SUFFIX):
            yield RawEntry(source, (stat,), problem=PROBLEM_TMP)
        else:
            yield RawEntry(source, (stat,), problem=PROBLEM_FOREIGN)


def _http_entry(
    files: dict[str, FileStat], key: str, rel: tuple[str, ...], source: Source
) -> RawEntry:
    meta = files[key]
    body = files.get(key + BODY_SUFFIX)
    if rel != tuple(key[:_KEY_DEPTH]):
        extra = (body,) if body is not None else ()
        return RawEntry(source, (meta, *extra), key=key, problem=PROBLEM_MISPLACED)
    if source == "http":
        return RawEntry(source, (meta,), key=key)
    if body is None:
        return RawEntry(source, (meta,), key=key, problem=PROBLEM_NO_BODY)
    return RawEntry(source, (meta, body), key=key, has_body_file=True)


def _wheel_dir_entries(
    files: dict[str, FileStat], rel: tuple[str, ...], source: Source
) -> Iterator[RawEntry]:
    del rel  # wheel directories are named by a hash we cannot check without the link
    wheels = [name for name in files if name.endswith(WHEEL_SUFFIX)]
    origin = files.get(ORIGIN_JSON)
    # origin.json belongs to the directory's wheel; with several wheels (several tags of
    # one link) it stays unattached and is cleaned up after the last wheel goes.
    attach = (origin,) if origin is not None and len(wheels) == 1 else ()
    for name, stat in files.items():
        if name in wheels:
            yield RawEntry(source, (stat, *attach))
        elif name == ORIGIN_JSON:
            if not wheels:
                yield RawEntry(source, (stat,), problem=PROBLEM_LONE_ORIGIN)
        elif name.endswith(TMP_SUFFIX):
            yield RawEntry(source, (stat,), problem=PROBLEM_TMP)
        else:
            yield RawEntry(source, (stat,), problem=PROBLEM_FOREIGN)
