"""Moving a home that kept its tables in DuckDB files into the lake.

Before the lake, a home folder held `audit.duckdb` (events, quarantine, ingestion and export bookkeeping, and
the derived tables), `control.duckdb` (export configurations, connectors, alert streaks) and `access.duckdb`
(page users), plus the readers' copy `snapshot/audit.duckdb`. An import attaches each file read-only and
copies every kept table into the lake in one transaction: either everything arrives, with every count
checked against its source and the import recorded in `legacy_imports`, or the lake stays as it was. The
derived tables are left behind (the next ingestion run rebuilds them), and so is the snapshot copy. The old
files are never changed or removed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, lake
from audit_pipeline.storage.lake import sql_literal
from audit_pipeline.storage.schema import EVENT_COLUMNS, QUARANTINE_COLUMNS

AUDIT_FILE = "audit.duckdb"
CONTROL_FILE = "control.duckdb"
ACCESS_FILE = "access.duckdb"
SNAPSHOT_FILE = Path("snapshot") / AUDIT_FILE
# The alias each old file is attached under, in the order they are read.
FILE_ALIASES = {AUDIT_FILE: "legacy_audit", CONTROL_FILE: "legacy_control", ACCESS_FILE: "legacy_access"}
# Tables the ingestion run derives from `events`; they are rebuilt, never copied.
DERIVED_NAMES = ("audit_log", "audit_summary", "derived_coverage", "login_activity", "suspicious_activity")
DERIVED_PREFIXES = ("audit_daily_rollup", "audit_search_", "scan_activity")
# The old files' own bookkeeping, which the lake keeps in its own way.
NOT_REPORTED = ("schema_migrations", "quarantine_readable")


@dataclass(frozen=True)
class KeptTable:
    """A table the old files persisted, copied as is: its file, its columns, and its copy order."""

    name: str
    file_name: str
    columns: tuple[str, ...]
    order_by: str | None = None


KEPT_TABLES = (
    KeptTable("events", AUDIT_FILE, EVENT_COLUMNS, order_by="ingest_seq"),
    KeptTable("quarantine", AUDIT_FILE, QUARANTINE_COLUMNS),
    KeptTable("ingested_files", AUDIT_FILE, (
        "file_sha256", "file_name", "file_bytes", "records", "ingested", "duplicates", "quarantined", "batch_id",
        "ingested_at")),
    KeptTable("ingest_batches", AUDIT_FILE, (
        "batch_id", "started_at", "finished_at", "files", "files_skipped", "ingested", "duplicates", "quarantined",
        "first_seq", "last_seq")),
    KeptTable("export_deliveries", AUDIT_FILE, (
        "config_id", "config_name", "export_number", "org_id", "from_seq", "to_seq", "previous_cutoff_at",
        "cutoff_at", "events", "gzip", "status", "planned_run_id", "delivered_run_id", "delivered_at")),
    KeptTable("export_parts", AUDIT_FILE, (
        "config_id", "export_number", "part_number", "from_seq", "to_seq", "events", "object_key", "bytes",
        "sha256")),
    KeptTable("export_digests", AUDIT_FILE, (
        "config_id", "export_number", "digest_key", "bytes", "sha256", "signing_key_id", "document")),
    KeptTable("export_configs", CONTROL_FILE, (
        "config_id", "name", "org_id", "bucket", "region", "prefix", "frequency_hours", "role_arn", "external_id",
        "gzip", "enabled", "created_at", "first_export_at", "updated_at")),
    KeptTable("export_connectors", CONTROL_FILE, ("external_id", "org_id", "enabled_by", "enabled_at")),
    KeptTable("export_alert_streaks", CONTROL_FILE, ("config_name", "first_run_id", "announced_at")),
    KeptTable("users", ACCESS_FILE, ("email", "org_id", "role", "name", "token_sha256", "created_at", "revoked_at")),
)

Progress = Callable[[str], None]


class LegacyImportError(RuntimeError):
    """The import cannot be done as asked; the message says what to fix. The lake is unchanged."""


@dataclass(frozen=True)
class TableCopy:
    name: str
    file_name: str
    old_count: int
    lake_count: int

    @property
    def ok(self) -> bool:
        return self.old_count == self.lake_count


@dataclass(frozen=True)
class ImportReport:
    """What an import copied (or, when `already_migrated`, what the recorded import copied)."""

    source_home: Path
    imported_at: datetime
    already_migrated: bool
    tables: tuple[TableCopy, ...]
    derived_skipped: tuple[str, ...]
    unknown_skipped: tuple[str, ...]
    old_files: tuple[Path, ...]


@dataclass(frozen=True)
class _Recorded:
    imported_at: datetime
    source_home: str
    counts: dict[str, int]
    complete: bool


@dataclass(frozen=True)
class _Found:
    """A kept table present in an attached old file."""

    table: KeptTable
    alias: str

    @property
    def source(self) -> str:
        return f"{self.alias}.main.{self.table.name}"


def is_derived(name: str) -> bool:
    return name in DERIVED_NAMES or name.startswith(DERIVED_PREFIXES)


def legacy_files(source_home: Path) -> dict[str, Path]:
    """The old database files in a home folder, by file name (the snapshot copy is not one of them)."""
    return {name: source_home / name for name in FILE_ALIASES if (source_home / name).is_file()}


def leftover_files(source_home: Path) -> tuple[Path, ...]:
    """Every old file still in the home, the snapshot copy and write-ahead logs included."""
    names = [*FILE_ALIASES, str(SNAPSHOT_FILE)]
    candidates = [source_home / name for name in names] + [source_home / f"{name}.wal" for name in names]
    return tuple(sorted(path for path in candidates if path.is_file()))


def import_home(paths: Paths, source_home: Path, progress: Progress = lambda _: None) -> ImportReport:
    """Copy the old files of `source_home` into the lake of `paths`, or report the import already done.

    The old files are read (and refused when unusable) before the lake is created or changed.
    """
    source_home = source_home.resolve()
    recorded = _recorded_import_if_any(paths)
    if recorded is not None:
        return _already_migrated(recorded)
    if not source_home.is_dir():
        raise LegacyImportError(f"no such folder: {source_home} (pass --from the old home folder)")
    files = legacy_files(source_home)
    if not files:
        raise LegacyImportError(f"{source_home} holds none of {', '.join(FILE_ALIASES)}: "
                                "pass --from the old home folder")
    inspection = _inspect(files)
    with database.writer(paths) as connection:
        recorded = _recorded_import(connection)
        if recorded is not None:
            return _already_migrated(recorded)
        try:
            _attach_all(connection, files)
            copies = database.retrying(lambda: _copy_all(connection, source_home, inspection.found, progress),
                                       what="legacy import")
        except (duckdb.Error, database.DatabaseBusyError) as error:
            raise LegacyImportError(f"the import failed, the lake is unchanged: {_first_line(error)}") from error
        finally:
            _detach_all(connection)
        recorded = _recorded_import(connection)
    assert recorded is not None
    return ImportReport(source_home, recorded.imported_at, False, copies, inspection.derived, inspection.unknown,
                        leftover_files(source_home))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _recorded_import_if_any(paths: Paths) -> _Recorded | None:
    """The recorded import, read without creating the lake; None while the lake lacks the table."""
    try:
        with database.reader(paths) as connection:
            return _recorded_import(connection)
    except database.DatabaseMissingError:
        return None


def _recorded_import(connection: duckdb.DuckDBPyConnection) -> _Recorded | None:
    row = connection.execute(
        "SELECT imported_at, source_home, table_counts, complete FROM legacy_imports "
        "ORDER BY imported_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    counts = {str(name): int(count) for name, count in json.loads(row[2]).items()}
    return _Recorded(row[0], str(row[1]), counts, bool(row[3]))


def _already_migrated(recorded: _Recorded) -> ImportReport:
    if not recorded.complete:
        raise LegacyImportError(
            f"an import from {recorded.source_home} at {recorded.imported_at:%Y-%m-%d %H:%M:%S %Z} is recorded "
            "but not complete: start again from an empty lake (move its catalog and data folder aside)"
        )
    files = {table.name: table.file_name for table in KEPT_TABLES}
    tables = tuple(TableCopy(name, files.get(name, "?"), count, count) for name, count in recorded.counts.items())
    source = Path(recorded.source_home)
    return ImportReport(source, recorded.imported_at, True, tables, (), (), leftover_files(source))


@dataclass(frozen=True)
class _Inspection:
    found: tuple[_Found, ...]
    derived: tuple[str, ...]
    unknown: tuple[str, ...]


def _attach_all(connection: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> None:
    """Attach each old file read-only under its alias; an unusable file is a LegacyImportError."""
    for file_name, path in files.items():
        alias = FILE_ALIASES[file_name]
        connection.execute(f"DETACH DATABASE IF EXISTS {alias}")
        try:
            # ATTACH takes no parameters: the path is quoted as a literal.
            connection.execute(f"ATTACH {sql_literal(str(path))} AS {alias} (TYPE duckdb, READ_ONLY)")
        except duckdb.Error as error:
            raise LegacyImportError(_unreadable(path, error)) from None


def _detach_all(connection: duckdb.DuckDBPyConnection) -> None:
    for alias in FILE_ALIASES.values():
        with contextlib.suppress(duckdb.Error):
            connection.execute(f"DETACH DATABASE IF EXISTS {alias}")


def _inspect(files: dict[str, Path]) -> _Inspection:
    """In a DuckDB of its own: each old file's kept tables (columns checked), derived and unknown tables."""
    found: list[_Found] = []
    derived: list[str] = []
    unknown: list[str] = []
    kept = {table.name for table in KEPT_TABLES}
    with lake.new_instance() as connection:
        _attach_all(connection, files)
        for file_name, path in files.items():
            alias = FILE_ALIASES[file_name]
            try:
                tables = _names(connection, "SELECT table_name FROM duckdb_tables() "
                                "WHERE database_name = ? AND schema_name = 'main'", alias)
                views = _names(connection, "SELECT view_name FROM duckdb_views() "
                               "WHERE database_name = ? AND schema_name = 'main' AND NOT internal", alias)
                for table in KEPT_TABLES:
                    if table.file_name == file_name and table.name in tables:
                        _check_columns(connection, alias, path, table)
                        found.append(_Found(table, alias))
                        _count(connection, f"{alias}.main.{table.name}")
            except duckdb.Error as error:
                raise LegacyImportError(_unreadable(path, error)) from None
            for name in sorted((tables | views) - kept - set(NOT_REPORTED)):
                (derived if is_derived(name) else unknown).append(name)
    return _Inspection(tuple(found), tuple(derived), tuple(unknown))


def _names(connection: duckdb.DuckDBPyConnection, query: str, alias: str) -> set[str]:
    return {str(row[0]) for row in connection.execute(query, [alias]).fetchall()}


def _unreadable(path: Path, error: duckdb.Error) -> str:
    detail = _first_line(error)
    if "lock" in detail.lower():
        return f"{path} is open in another process: stop the old pipeline (Dagster, the page), then run again"
    return f"{path} cannot be read as a DuckDB database ({detail}): restore it from a backup or move it aside"


def _check_columns(connection: duckdb.DuckDBPyConnection, alias: str, path: Path, table: KeptTable) -> None:
    present = {str(row[0]) for row in connection.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' "
        "AND table_name = ?", [alias, table.name]
    ).fetchall()}
    missing = [column for column in table.columns if column not in present]
    if missing:
        raise LegacyImportError(f"{path}: table {table.name} lacks column(s) {', '.join(missing)}; "
                                "open the old home once with the previous version to upgrade it, then run again")


def _copy_all(
    connection: duckdb.DuckDBPyConnection, source_home: Path, found: tuple[_Found, ...], progress: Progress
) -> tuple[TableCopy, ...]:
    """One transaction: refuse a lake in use, copy each table, check the counts, record the import."""
    connection.execute("BEGIN")
    try:
        _refuse_lake_in_use(connection)
        copies = tuple(_copy(connection, item, progress) for item in found)
        wrong = [f"{c.name} ({c.old_count} old, {c.lake_count} in the lake)" for c in copies if not c.ok]
        if wrong:
            raise LegacyImportError(f"counts differ after copying {', '.join(wrong)}: nothing was imported")
        connection.execute("UPDATE ingest_sequence SET last_seq = (SELECT coalesce(max(ingest_seq), 0) FROM events)")
        connection.execute(
            "INSERT INTO legacy_imports (imported_at, source_home, table_counts, complete) "
            "VALUES (now(), ?, ?, true)",
            [str(source_home), json.dumps({c.name: c.lake_count for c in copies})],
        )
        connection.execute("COMMIT")
    except BaseException:
        database.rollback(connection)
        raise
    return copies


def _refuse_lake_in_use(connection: duckdb.DuckDBPyConnection) -> None:
    recorded = _recorded_import(connection)
    if recorded is not None:
        raise LegacyImportError(f"an import from {recorded.source_home} was recorded meanwhile: run again to see it")
    holding = [f"{table.name} ({count})" for table in KEPT_TABLES if (count := _count(connection, table.name))]
    if holding:
        raise LegacyImportError(
            f"the lake already holds rows in {', '.join(holding)}: migrate only into an empty lake "
            "(point AUDIT_PIPELINE_CATALOG / AUDIT_PIPELINE_DATA at a new one)"
        )


def _count(connection: duckdb.DuckDBPyConnection, source: str) -> int:
    row = connection.execute(f"SELECT count(*) FROM {source}").fetchone()
    return int(row[0]) if row else 0


def _copy(connection: duckdb.DuckDBPyConnection, item: _Found, progress: Progress) -> TableCopy:
    table = item.table
    old_count = _count(connection, item.source)
    progress(f"{table.name}: copying {old_count:,} row(s) from {table.file_name}")
    columns = ", ".join(table.columns)
    order = f" ORDER BY {table.order_by}" if table.order_by else ""
    connection.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {item.source}{order}")
    return TableCopy(table.name, table.file_name, old_count, _count(connection, table.name))
