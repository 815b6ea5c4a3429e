"""Upkeep of the lake: fewer, larger Parquet files, and no snapshot or file kept longer than it is useful.

Every ingestion commit adds a Parquet file per org and day it touched and a snapshot; small writes stay inlined
in the catalog. `maintain` flushes the inlined rows into files, merges adjacent small files of each partition,
expires snapshots older than the retention and deletes the files no snapshot references any more.

What it keeps, and why:
- every snapshot from the one in effect `snapshot_retention` ago, so time travel within the retention works;
- every snapshot from the one in effect `EXPORT_MARGIN` before the cutoff of the oldest export that is planned
  but not delivered. Exports read their window by `ingest_seq` from the live table, so this is a second line:
  the lake as the export was planned can still be read `AT (TIMESTAMP => cutoff_at)`;
- files dropped from the catalog (merged away, or of expired snapshots) stay on storage until a run after the
  next UTC midnight that is at least `FILE_GRACE` later, so a statement that listed them just before keeps
  reading them.

DuckLake 1.4.4 with a SQLite catalog compares `older_than` as text against the stored timestamps
('2026-12-06 07:00:00+00' < '2026-12-06T05:00:00+00' is true), so `older_than` treats the whole UTC day of the
cutoff as older. Snapshots are therefore expired by id (`versions => [...]`), and files are cleaned up with a
cutoff just before a UTC midnight, where text and timestamp comparison agree.

DuckLake 1.4.4 also gives too few rows, without an error, to a transaction that read the lake before a flush
or merge committed and reads it again after. So maintenance holds the lake's lease while it compacts
(`database.begin_guarded`): every write transaction that reads before it writes (ingestion groups, export
plans and deliveries, settings) waits while the lease is held, and one that was already open conflicts at its
commit and runs again after. Within one Dagster instance it also runs in the `duckdb` pool.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import duckdb

from audit_pipeline.export.bookkeeping import PLANNED
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.lake import ALIAS

RETENTION_ENV = "AUDIT_PIPELINE_SNAPSHOT_RETENTION_HOURS"
DEFAULT_RETENTION = timedelta(days=7)
EXPORT_MARGIN = timedelta(hours=1)
FILE_GRACE = timedelta(hours=1)
# Longer than a maintenance run takes; a crashed run's lease lapses after it.
LEASE_TIME = timedelta(hours=1)
LEASE_HOLDER = "maintenance"
METADATA = f"__ducklake_metadata_{ALIAS}"
EVENTS = "events"
_INLINED_TABLE = re.compile(r"ducklake_inlined_data_\d+_\d+")
T = TypeVar("T")


@dataclass(frozen=True)
class LakeFiles:
    """What the catalog lists: current data files (of `events`, of every table) and bytes of every file kept."""

    events_files: int
    all_files: int
    bytes: int
    inlined_rows: int


@dataclass(frozen=True)
class MaintenanceReport:
    """What one `maintain` run did."""

    events_files_before: int
    events_files_after: int
    all_files_before: int
    all_files_after: int
    bytes_before: int
    bytes_after: int
    inlined_rows_flushed: int
    snapshots_expired: int
    oldest_snapshot_kept: int | None
    files_deleted: int
    seconds: float

    def as_dict(self) -> dict[str, int | float | None]:
        return asdict(self)


def retention_from_env() -> timedelta:
    """AUDIT_PIPELINE_SNAPSHOT_RETENTION_HOURS (a positive number of hours), else 7 days."""
    configured = os.environ.get(RETENTION_ENV, "").strip()
    if not configured:
        return DEFAULT_RETENTION
    try:
        hours = float(configured)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} must be a number of hours, got {configured!r}") from None
    if not hours > 0:
        raise ValueError(f"{RETENTION_ENV} must be more than 0 hours, got {configured!r}")
    return timedelta(hours=hours)


def maintain(paths: Paths, *, now: datetime, snapshot_retention: timedelta = DEFAULT_RETENTION) -> MaintenanceReport:
    """Flush inlined rows, merge small files, expire old snapshots, delete unreferenced files; in that order.

    Each step commits on its own (DuckLake refuses a transaction that both compacts and changes data) and is
    re-run from its start when it meets another writer's commit.
    """
    started = time.monotonic()
    with _lease(paths), database.writer(paths) as connection:
        before = lake_files(connection)
        _retry(lambda: _call(connection, f"CALL ducklake_flush_inlined_data('{ALIAS}')"), "inlined-data flush")
        flushed = max(before.inlined_rows - _inlined_rows(connection), 0)
        _retry(lambda: _call(connection, f"CALL ducklake_merge_adjacent_files('{ALIAS}')"), "file merge")
        expired, kept = _retry(lambda: _expire(connection, now, snapshot_retention), "snapshot expiry")
        deleted = _retry(lambda: _cleanup(connection, now), "file cleanup")
        after = lake_files(connection)
    return MaintenanceReport(
        events_files_before=before.events_files, events_files_after=after.events_files,
        all_files_before=before.all_files, all_files_after=after.all_files,
        bytes_before=before.bytes, bytes_after=after.bytes, inlined_rows_flushed=flushed,
        snapshots_expired=expired, oldest_snapshot_kept=kept, files_deleted=deleted,
        seconds=round(time.monotonic() - started, 3),
    )


@contextmanager
def _lease(paths: Paths) -> Iterator[None]:
    """Hold the lake's lease while compacting: guarded writers wait, and one already open runs again after."""
    until = datetime.now(UTC) + LEASE_TIME
    database.write_transaction(paths, lambda connection: connection.execute(
        "UPDATE lake_lease SET holder = ?, held_until = ?, writes = writes + 1", [LEASE_HOLDER, until]
    ), what="lake maintenance lease")
    try:
        yield
    finally:
        def release() -> None:
            with database.writer(paths) as connection:
                connection.execute("UPDATE lake_lease SET holder = NULL, held_until = NULL WHERE holder = ?",
                                   [LEASE_HOLDER])

        _retry(release, "lease release")


def _retry(attempt: Callable[[], T], what: str) -> T:
    return database.retrying(attempt, what=f"lake maintenance ({what})")


def _call(connection: duckdb.DuckDBPyConnection, statement: str) -> int:
    return len(connection.execute(statement).fetchall())


def expiry_horizon(connection: duckdb.DuckDBPyConnection, now: datetime, retention: timedelta) -> datetime:
    """The moment from which the lake must stay readable: `now - retention`, or earlier for an undelivered export."""
    horizon = now.astimezone(UTC) - retention
    row = connection.execute(
        "SELECT min(cutoff_at) FROM export_deliveries WHERE status = ?", [PLANNED]
    ).fetchone()
    if row is not None and row[0] is not None:
        horizon = min(horizon, row[0].astimezone(UTC) - EXPORT_MARGIN)
    return horizon


def _expire(connection: duckdb.DuckDBPyConnection, now: datetime, retention: timedelta) -> tuple[int, int | None]:
    """Expire every snapshot older than the one in effect at the horizon; the number expired, the oldest kept."""
    connection.execute("BEGIN")
    try:
        horizon = expiry_horizon(connection, now, retention)
        row = connection.execute(
            f"SELECT coalesce(max(snapshot_id) FILTER (WHERE snapshot_time <= ?), min(snapshot_id)) "
            f"FROM ducklake_snapshots('{ALIAS}')",
            [horizon],
        ).fetchone()
        kept = None if row is None or row[0] is None else int(row[0])
        expired = 0
        if kept is not None:
            old = [int(r[0]) for r in connection.execute(
                f"SELECT snapshot_id FROM ducklake_snapshots('{ALIAS}') WHERE snapshot_id < ? ORDER BY 1", [kept]
            ).fetchall()]
            if old:  # an empty list is a syntax error in 1.4.4
                expired = len(connection.execute(
                    f"CALL ducklake_expire_snapshots('{ALIAS}', versions => ?)", [old]
                ).fetchall())
        connection.execute("COMMIT")
    except BaseException:
        database.rollback(connection)
        raise
    return expired, kept


def cleanup_cutoff(now: datetime) -> datetime:
    """Files scheduled for deletion before this are deleted: UTC midnight before `now - FILE_GRACE`, less 1 µs.

    Just before midnight, DuckLake's text comparison (see the module) and a timestamp comparison agree.
    """
    moment = now.astimezone(UTC) - FILE_GRACE
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(microseconds=1)


def _cleanup(connection: duckdb.DuckDBPyConnection, now: datetime) -> int:
    return len(connection.execute(
        f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => ?)", [cleanup_cutoff(now)]
    ).fetchall())


def lake_files(connection: duckdb.DuckDBPyConnection) -> LakeFiles:
    """The catalog's count of current data files, bytes of every data and delete file it keeps, inlined rows."""
    row = connection.execute(
        f"""
        SELECT count(*) FILTER (WHERE d.end_snapshot IS NULL AND t.table_name = ?),
               count(*) FILTER (WHERE d.end_snapshot IS NULL),
               coalesce(sum(d.file_size_bytes), 0)
        FROM {METADATA}.ducklake_data_file d
        LEFT JOIN (SELECT table_id, table_name FROM {METADATA}.ducklake_table WHERE end_snapshot IS NULL) t
            USING (table_id)
        """,
        [EVENTS],
    ).fetchone()
    deletes = connection.execute(
        f"SELECT coalesce(sum(file_size_bytes), 0) FROM {METADATA}.ducklake_delete_file"
    ).fetchone()
    events_files, all_files, data_bytes = row if row is not None else (0, 0, 0)
    return LakeFiles(events_files=int(events_files), all_files=int(all_files),
                     bytes=int(data_bytes) + int(deletes[0] if deletes else 0),
                     inlined_rows=_inlined_rows(connection))


def _inlined_rows(connection: duckdb.DuckDBPyConnection) -> int:
    """Rows still inlined in the catalog (live in the newest snapshot)."""
    tables = [name for (name,) in connection.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND table_name LIKE 'ducklake_inlined_data_%'",
        [METADATA],
    ).fetchall() if _INLINED_TABLE.fullmatch(name)]
    if not tables:
        return 0
    counts = " UNION ALL ".join(
        f'SELECT count(*) AS n FROM {METADATA}."{name}" WHERE end_snapshot IS NULL' for name in tables
    )
    row = connection.execute(f"SELECT coalesce(sum(n), 0) FROM ({counts})").fetchone()
    return int(row[0]) if row else 0
