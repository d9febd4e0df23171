"""Removing whole entries (``remove``) and whole directories (``purge``).

Plan first (which entries), then apply; the apply step deletes each entry's files in the
order pip can survive being interrupted in: http-v2 metadata before its body (pip treats an
entry without metadata as absent), a built wheel before its ``origin.json``.

Symbolic links are never removed, even by ``remove '*'`` or ``purge``: pip makes none, so
someone put each one there on purpose (a shared ``wheels/``, a body kept elsewhere). They are
reported as ``kept`` instead, like ``prune`` does.

A pip may write an entry again while we remove it (it missed the metadata we just deleted,
and downloaded the file anew). Each file is checked unchanged since the walk right before it
goes (through the directory descriptor it is deleted through: ``CacheRoot.unlink``); a
rewritten one stays, with the rest of its entry (``changed``): deleting pip's new body
would leave its new metadata without one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UnsafePathError
from ..fs.root import CacheRoot, Rewritten
from ..inventory.entries import ORIGIN_JSON, PROBLEM_LINK, PROBLEM_UNREADABLE_DIR
from ..model import SOURCE_DIRS, CacheEntry, Source

OnRemoved = Callable[[str], None] | None
SELFCHECK_JSON = "selfcheck.json"


@dataclass(slots=True)
class Removal:
    """What a remove/purge did (or, with ``dry_run``, would do)."""

    dry_run: bool
    entries: list[CacheEntry] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    directories: int = 0
    errors: list[str] = field(default_factory=list)
    kept: list[CacheEntry] = field(default_factory=list)  # symbolic links: left alone
    changed: list[CacheEntry] = field(default_factory=list)  # rewritten by a pip meanwhile
    selfcheck_removed: bool = False  # the legacy selfcheck.json went, as pip's does
    # The files pip counts (and names with -v): all in http/ and http-v2/, only the
    # .whl files in wheels/ (it removes the others with their directory, uncounted).
    pip_files: int = 0
    pip_bytes: int = 0


def remove_entries(
    cache_dir: Path,
    entries: Sequence[CacheEntry],
    *,
    dry_run: bool,
    root: CacheRoot | None = None,
    on_removed: OnRemoved = None,
) -> Removal:
    """Delete every file of each entry, then the directories left empty; entries that
    are (or hold) symbolic links are left alone and listed in ``kept``. A caller that
    removes entries one call at a time passes its ``root``, which remembers the
    directories already checked. ``on_removed`` is told of each file and directory
    removed (pip's ``-v`` prints them), as it goes."""
    result = Removal(dry_run=dry_run)
    for entry in entries:
        if entry.raw.problem == PROBLEM_LINK:
            result.kept.append(entry)
        elif (entry.raw.problem or "").startswith(PROBLEM_UNREADABLE_DIR):
            # A directory the walk could not read (or a file in a directory's place),
            # reported as an entry: what it holds is unknown, so nothing of it can be
            # removed (a dry run says so too).
            result.errors.append(f"{entry.raw.where}: {entry.problem}; nothing in it was removed")
        else:
            result.entries.append(entry)
    entries = result.entries
    raws = [e.raw for e in entries]
    if dry_run:
        result.files = sum(len(r.files) for r in raws)
        result.bytes = sum(r.size for r in raws)
        pips = [f for r in raws for f in r.files if pip_counts(cache_dir, f.where)]
        result.pip_files, result.pip_bytes = len(pips), sum(f.size for f in pips)
        return result
    root = CacheRoot(cache_dir) if root is None else root
    failed: list[CacheEntry] = []
    touched = _delete_files(root, entries, result, failed, on_removed)
    if result.changed or failed:
        left = {id(e) for e in (*result.changed, *failed)}
        result.entries = [e for e in result.entries if id(e) not in left]
    result.directories = _cleanup(root, cache_dir, touched, result.errors, on_removed)
    return result


def _delete_files(
    root: CacheRoot,
    entries: Iterable[CacheEntry],
    result: Removal,
    failed: list[CacheEntry],
    on_removed: OnRemoved,
) -> set[str]:
    """Directories (as strings, like every path here: see ``CacheRoot``) files left;
    entries not (wholly) removed go to ``failed``, with why in ``result.errors``."""
    touched: set[str] = set()
    for entry in entries:
        for stat in entry.raw.files:
            try:
                freed = root.unlink(stat.where, expect=(stat.size, stat.mtime))
            except Rewritten:
                result.changed.append(entry)
                break  # a pip wrote it again: the rest of the entry is its new one
            except (UnsafePathError, OSError) as exc:
                result.errors.append(f"{stat.where}: {_why(exc)}")
                failed.append(entry)
                break  # keep the rest of this entry: a body without metadata is harmless
            if freed is None:
                continue  # someone else removed it first: not ours to count
            result.bytes += freed
            result.files += 1
            if pip_counts(root.path, stat.where):
                result.pip_files += 1
                result.pip_bytes += freed
                if on_removed is not None:
                    on_removed(stat.where)
            touched.add(os.path.dirname(stat.where))
    return touched


def pip_counts(cache_dir: Path | str, where: str) -> bool:
    """Whether pip 26.3 counts (and with -v names) this file when it removes it."""
    wheels = os.path.join(cache_dir, SOURCE_DIRS["wheels"], "")
    return not where.startswith(wheels) or where.endswith(".whl")


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _cleanup(
    root: CacheRoot, cache_dir: Path, touched: set[str], errors: list[str], on_removed: OnRemoved
) -> int:
    """Drop lone ``origin.json`` files whose wheels are gone, then empty directories."""
    wheels = os.path.join(cache_dir, SOURCE_DIRS["wheels"], "")
    for directory in touched:
        if directory.startswith(wheels) and _only_origin_left(directory):
            origin = os.path.join(directory, ORIGIN_JSON)
            try:
                root.unlink(origin)  # not told: pip's -v names only its directory
            except (UnsafePathError, OSError) as exc:
                errors.append(f"{origin}: {_why(exc)}")
    removed = 0
    for source in SOURCE_DIRS.values():
        # Those below it.
        removed += root.prune_empty_dirs(touched, cache_dir / source, on_removed)
    return removed


def _only_origin_left(directory: str) -> bool:
    try:
        names = os.listdir(directory)
        # A link named origin.json is someone's, not a leftover of pip's.
        origin = os.path.join(directory, ORIGIN_JSON)
        return names == [ORIGIN_JSON] and not os.path.islink(origin)
    except OSError:
        return False


def remove_as_pip(
    cache_dir: Path,
    entries: Sequence[CacheEntry],
    sources: Iterable[Source] = tuple(SOURCE_DIRS),
    *,
    on_removed: OnRemoved = None,
) -> Removal:
    """``remove`` as pip 26.3's: the entries, then every empty directory of ``sources``
    (theirs or not, the source dir itself too) and the legacy ``selfcheck.json``."""
    result = remove_entries(cache_dir, entries, dry_run=False, on_removed=on_removed)
    root = CacheRoot(cache_dir)
    for source in sources:
        top = cache_dir / SOURCE_DIRS[source]
        if top.is_dir() and not top.is_symlink():
            result.directories += root.prune_empty_dirs(_all_dirs(top), cache_dir, on_removed)
    result.selfcheck_removed = _remove_selfcheck(root, cache_dir, result.errors)
    return result


def _remove_selfcheck(root: CacheRoot, cache_dir: Path, errors: list[str]) -> bool:
    """pip < 20.1's version check state, which pip 26.3's remove and purge delete (a
    link in its place stays: links are never removed)."""
    where = os.path.join(cache_dir, SELFCHECK_JSON)
    if not os.path.isfile(where) or os.path.islink(where):
        return False
    try:
        return root.unlink(where) is not None
    except (UnsafePathError, OSError) as exc:
        errors.append(f"{where}: {_why(exc)}")
        return False


def purge_sources(
    cache_dir: Path,
    entries: Sequence[CacheEntry],
    sources: Iterable[Source],
    *,
    dry_run: bool,
    on_removed: OnRemoved = None,
) -> Removal:
    """Remove every entry of ``sources`` and every directory left under them."""
    if dry_run:
        return remove_entries(cache_dir, entries, dry_run=True)
    return remove_as_pip(cache_dir, entries, sources, on_removed=on_removed)


def _all_dirs(top: Path) -> list[Path]:
    # os.walk does not descend into links to directories.
    return [Path(dirpath) for dirpath, _dirs, _files in os.walk(top)]


def dirs_left_empty(
    files: Iterable[str],
    gone: Collection[str],
    old_empty: Iterable[str],
    young_empty: Iterable[str],
    tops: Iterable[str | Path],
) -> int:
    """How many directories below the ``tops`` would be left empty, and so removed, once
    the files in ``gone`` and the ``old_empty`` directories are: ``files`` is every file
    the walk saw, ``young_empty`` the empty directories that stay (too recent). Pure."""
    below = tuple(os.path.join(os.fspath(t), "") for t in tops)
    staying: set[str] = set()
    for where in files:
        if where not in gone:
            _add_dirs_above(where, below, staying)
    for directory in young_empty:
        _add_dirs_above(os.path.join(directory, ""), below, staying)
    emptied: set[str] = set()
    for where in (*gone, *(os.path.join(d, "") for d in old_empty)):
        _add_dirs_above(where, below, emptied)
    return len(emptied - staying)


def listable_dir(path: Path) -> bool:
    """A real directory we can list: one a real run's ``os.walk`` yields (and removes when
    empty), so one a dry run counts."""
    return path.is_dir() and not path.is_symlink() and os.access(path, os.R_OK | os.X_OK)


def _add_dirs_above(where: str, below: tuple[str, ...], into: set[str]) -> None:
    """Add the directories holding ``where`` (a file, or ``dir/``: the directory itself)
    that are strictly below one of ``below``; stops at the first one already there."""
    directory = os.path.dirname(where)
    while directory.startswith(below) and directory not in into:
        into.add(directory)
        directory = os.path.dirname(directory)
