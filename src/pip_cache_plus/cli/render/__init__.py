"""Results -> human text, JSON, or absolute paths. The one place output is shaped.

The JSON shapes are a stable interface (README: "JSON output"); add fields, never rename
or remove them without bumping ``version``. Renderers import the result types they show
only for type checking, so the CLI pays for a command's modules only when it runs it.
"""

from __future__ import annotations

from .changes import (
    ExportJSON,
    MigrationJSON,
    PruneJSON,
    migration_json,
    prune_json,
    render_export,
    render_migration,
    render_prune,
)
from .check import CheckJSON, check_json, render_check
from .common import (
    SCHEMA_VERSION,
    EntryJSON,
    Format,
    describe,
    entry_json,
    format_size,
    iso,
    sort_key,
)
from .core import (
    InfoJSON,
    ListJSON,
    RemovalJSON,
    info_json,
    render_info,
    render_list,
    render_removal,
)
from .inspection import ShowJSON, VerifyJSON, render_show, render_verify, shown_json
from .naming import remembered_note
from .space import SummaryJSON, render_summary, summary_json, total_line

__all__ = [
    "SCHEMA_VERSION",
    "CheckJSON",
    "EntryJSON",
    "ExportJSON",
    "Format",
    "InfoJSON",
    "ListJSON",
    "MigrationJSON",
    "PruneJSON",
    "RemovalJSON",
    "ShowJSON",
    "SummaryJSON",
    "VerifyJSON",
    "check_json",
    "describe",
    "entry_json",
    "format_size",
    "info_json",
    "iso",
    "migration_json",
    "prune_json",
    "remembered_note",
    "render_check",
    "render_export",
    "render_info",
    "render_list",
    "render_migration",
    "render_prune",
    "render_removal",
    "render_show",
    "render_summary",
    "render_verify",
    "shown_json",
    "sort_key",
    "summary_json",
    "total_line",
]
