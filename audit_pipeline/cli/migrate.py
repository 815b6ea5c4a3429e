"""`audit-pipeline migrate`: move a home that kept its tables in DuckDB files into the lake."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json, progress
from audit_pipeline.settings import paths_from_env
from audit_pipeline.storage.lake import LakeConfigError
from audit_pipeline.storage.legacy_import import ImportReport, LegacyImportError, import_home

REBUILD_HINT = "run `audit-pipeline ingest` (or let the landing sensor run) to rebuild them"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "migrate",
        help="copy an older home's audit.duckdb, control.duckdb and access.duckdb into the lake",
        description="Copy events, quarantine, ingestion and export bookkeeping, export configurations and users "
        "from the DuckDB files an older version kept in the home folder into the lake, in one transaction, "
        "checking every table's count. Only an empty lake is filled; a second run reports the first. Derived "
        "tables are rebuilt by the next ingestion run; the old files are left in place.",
    )
    parser.add_argument("--from", dest="source", type=Path, metavar="HOME",
                        help="the old home folder (default: the current home, AUDIT_PIPELINE_HOME)")
    add_format_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    paths = paths_from_env()
    source = args.source if args.source is not None else paths.home
    started = time.monotonic()
    try:
        report = import_home(paths, source, progress)
    except (LegacyImportError, LakeConfigError) as error:
        raise CliError(str(error)) from None
    if not report.already_migrated:
        progress(f"migrated in {time.monotonic() - started:.1f}s")
    if args.format == "json":
        print_json(as_json(report))
    else:
        print_table(report)
    return 0


def as_json(report: ImportReport) -> dict[str, Any]:
    return {
        "already_migrated": report.already_migrated,
        "source_home": str(report.source_home),
        "imported_at": report.imported_at,
        "tables": {copy.name: {"old_count": copy.old_count, "lake_count": copy.lake_count, "ok": copy.ok}
                   for copy in report.tables},
        "derived_rebuilt_on_next_ingest": list(report.derived_skipped),
        "not_copied": list(report.unknown_skipped),
        "old_files_left": [str(path) for path in report.old_files],
    }


def print_table(report: ImportReport) -> None:
    if report.already_migrated:
        print(f"already migrated from {report.source_home} at {report.imported_at:%Y-%m-%d %H:%M:%S %Z}")
    rows = [("TABLE", "OLD", "LAKE", "OK")] + [
        (copy.name, str(copy.old_count), str(copy.lake_count), "ok" if copy.ok else "MISMATCH")
        for copy in report.tables
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if report.derived_skipped:
        print(f"\nnot copied, derived from events: {', '.join(report.derived_skipped)}; {REBUILD_HINT}")
    elif not report.already_migrated:
        print(f"\nderived tables are not copied: {REBUILD_HINT}")
    if report.unknown_skipped:
        print(f"not copied, unknown to this version: {', '.join(report.unknown_skipped)}")
    if report.old_files:
        print("\nthe old files are left in place; once the lake answers as expected, remove them with:")
        print("  rm " + " ".join(shlex.quote(str(path)) for path in report.old_files))
