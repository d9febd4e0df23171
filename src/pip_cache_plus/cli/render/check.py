"""check: one line per needed project, then the export and install lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypedDict

from .common import SCHEMA_VERSION, EntryJSON, Format, dump, entry_json
from .escape import visible

if TYPE_CHECKING:
    from ...actions.check import CheckResult, Need


class InterpreterJSON(TypedDict):
    implementation: str
    python_version: str
    platform: str
    best_tag: str  # the most preferred wheel tag
    tags: int  # how many wheel tags it supports


class NeedJSON(TypedDict):
    project: str
    status: str  # ok, unproven, missing, needs-resolver, skipped, unsupported
    reason: str
    wanted: str  # what its requirers ask together: "tiny-pure[x]>=1"
    requested_by: list[str]  # "command line", "reqs.txt:3", "tiny-pure 1.1"
    version: str | None  # of the file that serves it
    filename: str | None
    requires: list[str]  # its dependencies for this interpreter
    entry: EntryJSON | None  # the cache entry export copies


class CheckJSON(TypedDict):
    version: int
    cache_dir: str
    ok: bool  # every need is ok or skipped
    interpreter: InterpreterJSON
    needs: list[NeedJSON]
    files: list[str]  # what to export
    export_command: str | None  # null when nothing is to be exported
    install_command: str


_MARK = {
    "ok": "ok",
    "unproven": "unproven",
    "missing": "MISSING",
    "needs-resolver": "RESOLVER",
    "skipped": "skipped",
    "unsupported": "UNSUPPORTED",
}


def need_json(need: Need) -> NeedJSON:
    serves = need.serves
    return {
        "project": need.project,
        "status": need.status,
        "reason": need.reason,
        "wanted": need.wanted,
        "requested_by": list(need.requested_by),
        "version": str(serves.version) if serves else None,
        "filename": serves.filename if serves else None,
        "requires": list(need.requires),
        "entry": entry_json(serves.entry) if serves else None,
    }


def check_json(
    result: CheckResult, cache_dir: Path, export_command: str | None, install_command: str
) -> CheckJSON:
    here = result.interpreter
    return {
        "version": SCHEMA_VERSION,
        "cache_dir": str(cache_dir),
        "ok": result.ok,
        "interpreter": {
            "implementation": here.implementation,
            "python_version": here.python_version,
            "platform": here.platform,
            "best_tag": str(here.tags[0]) if here.tags else "",
            "tags": len(here.tags),
        },
        "needs": [need_json(n) for n in result.needs],
        "files": result.files,
        "export_command": export_command,
        "install_command": install_command,
    }


def render_check(
    result: CheckResult,
    cache_dir: Path,
    fmt: Format,
    out: TextIO,
    *,
    export_command: str | None,
    install_command: str,
) -> None:
    if fmt == "json":
        dump(check_json(result, cache_dir, export_command, install_command), out)
        return
    here = result.interpreter
    best = str(here.tags[0]) if here.tags else "no tags"
    lines = [
        f"For {here.implementation} {here.python_version} on {here.platform} "
        f"({best} and {len(here.tags) - 1} more wheel tags):",
        "",
    ]
    width = max((len(_MARK[n.status]) for n in result.needs), default=0)
    lines += [_need_line(n, width) for n in result.needs]
    lines.append("")
    failing = [n for n in result.needs if n.status not in ("ok", "skipped")]
    if not failing:
        lines.append("The cache alone can install them:")
    else:
        counts: dict[str, int] = {}
        for need in failing:
            counts[_MARK[need.status]] = counts.get(_MARK[need.status], 0) + 1
        told = ", ".join(f"{count} {mark}" for mark, count in counts.items())
        lines.append(f"Not proven installable from the cache alone: {told}.")
        if export_command is not None:
            lines.append("What the cache has, for a try:")
    if export_command is not None:
        lines.append(f"  {export_command}")
        lines.append(f"  {install_command}")
    out.write("\n".join(lines) + "\n")


def _need_line(need: Need, width: int) -> str:
    by = ", ".join(need.requested_by)
    head = f" {_MARK[need.status]:<{width}}  {visible(need.wanted)} ({visible(by)})"
    return f"{head}: {visible(need.reason)}"
