"""Keeping a derived table up to date from the events an ingestion added, instead of rebuilding it.

Events are append-only and every commit gives its events ingest_seqs above every committed one, so the events
a derived table has not seen yet are exactly `events WHERE ingest_seq > covered`, where `covered` is recorded
per table in `derived_coverage`. An update:

- stages those events (the *batch*) in a TEMP table, read from the newest Parquet files only;
- works out which (org, UTC day) partitions its table must recompute (the batch's days, widened as the table
  needs), and stages the stored events of exactly those partitions (the *scope*) with one
  `org_id = ? AND occurred_at >= ? AND occurred_at < ?` branch per run of consecutive days, a predicate
  DuckLake prunes files and partitions on;
- replaces the derived rows of those partitions (or merges into them) and records the new coverage, in one
  transaction.

A table without coverage (first run, or dropped) is built in full once. The updaters compute their rows with
the same SQL as the full build, over the staged rows instead of `events`, so the result is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, TypeVar

import duckdb

from audit_pipeline.derived.expressions import UTC_DAY_SQL
from audit_pipeline.derived.report import DerivedReport, scalar, tables_exist
from audit_pipeline.storage.database import begin_guarded, rollback
from audit_pipeline.storage.high_water import newest_ingest_seq

COVERAGE_TABLE = "derived_coverage"
BATCH = "derived_batch_events"
SCOPE = "derived_scope_events"
SCOPE_DAYS = "derived_scope_days"

UpdateMode = Literal["incremental", "rebuilt"]
T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """The events a table has not seen: ingest_seq in (`after`, `through`], `events` of them, in `BATCH`."""

    after: int
    through: int
    events: int


@dataclass(frozen=True)
class ViewUpdate:
    """One update of a derived table: how it was done, from how many new events, over how many partitions."""

    report: DerivedReport
    mode: UpdateMode
    new_events: int
    partitions_recomputed: int


def in_transaction(connection: duckdb.DuckDBPyConnection, body: Callable[[], T]) -> T:
    """Run `body` in one transaction, guarded against lake maintenance: all of it is committed, or none of it."""
    begin_guarded(connection)
    try:
        result = body()
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise
    return result


def covered_seq(connection: duckdb.DuckDBPyConnection, view: str) -> int | None:
    """The last ingest_seq `view` has counted; None when it was never recorded."""
    row = connection.execute(f"SELECT max(last_ingest_seq) FROM {COVERAGE_TABLE} WHERE view = ?", [view]).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def record_coverage(connection: duckdb.DuckDBPyConnection, view: str, last_ingest_seq: int) -> None:
    connection.execute(f"DELETE FROM {COVERAGE_TABLE} WHERE view = ?", [view])
    connection.execute(f"INSERT INTO {COVERAGE_TABLE} VALUES (?, ?)", [view, last_ingest_seq])


def pending_batch(connection: duckdb.DuckDBPyConnection, view: str, tables: Sequence[str]) -> Batch | None:
    """Stage the events `view` has not counted in `BATCH`; None when it must be built in full instead."""
    through = newest_ingest_seq(connection)
    after = covered_seq(connection, view)
    if after is None or after > through or not tables_exist(connection, tables):
        return None
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {BATCH} AS SELECT * FROM events WHERE ingest_seq > ? AND ingest_seq <= ?",
        [after, through],
    )
    return Batch(after, through, scalar(connection, f"SELECT count(*) FROM {BATCH}"))


def update_view(
    connection: duckdb.DuckDBPyConnection,
    view: str,
    tables: Sequence[str],
    *,
    rebuild: Callable[[], None],
    apply: Callable[[Batch], int],
    finish: Callable[[], DerivedReport],
) -> ViewUpdate:
    """Bring `view` (kept in `tables`) up to the events, in one transaction.

    `apply` updates the tables from the staged batch and returns how many (org, day) partitions it recomputed;
    `rebuild` builds them from every event; `finish` reports on the result.
    """

    def body() -> ViewUpdate:
        through = newest_ingest_seq(connection)
        batch = pending_batch(connection, view, tables)
        if batch is None:
            rebuild()
            record_coverage(connection, view, through)
            return ViewUpdate(finish(), "rebuilt", scalar(connection, "SELECT count(*) FROM events"),
                              _partitions(connection))
        partitions = apply(batch) if batch.events else 0
        record_coverage(connection, view, batch.through)
        drop_staged(connection)
        return ViewUpdate(finish(), "incremental", batch.events, partitions)

    return in_transaction(connection, body)


def rebuild_view(connection: duckdb.DuckDBPyConnection, view: str, rebuild: Callable[[], None]) -> None:
    """Build `view` from every event and record it as covering them, in one transaction."""

    def body() -> None:
        through = newest_ingest_seq(connection)
        rebuild()
        record_coverage(connection, view, through)

    in_transaction(connection, body)


def drop_staged(connection: duckdb.DuckDBPyConnection) -> None:
    for table in (BATCH, SCOPE, SCOPE_DAYS):
        connection.execute(f"DROP TABLE IF EXISTS {table}")


def _partitions(connection: duckdb.DuckDBPyConnection) -> int:
    return scalar(connection, f"SELECT count(*) FROM (SELECT DISTINCT org_id, {UTC_DAY_SQL} FROM events)")


DAY_RANGES_SQL = f"""
SELECT org_id, min(day) AS first_day, max(day) AS last_day
FROM (SELECT org_id, day, day - CAST(row_number() OVER (PARTITION BY org_id ORDER BY day) AS INTEGER) AS run
      FROM (SELECT DISTINCT org_id, day FROM {SCOPE_DAYS}))
GROUP BY org_id, run ORDER BY org_id, first_day
"""


def stage_scope(connection: duckdb.DuckDBPyConnection, days_sql: str, parameters: Sequence[object] = ()) -> int:
    """Stage in `SCOPE` every stored event of the (org_id, day) partitions `days_sql` selects.

    `days_sql` is a query (over code constants and the staged tables) giving `org_id` and `day` (a UTC DATE).
    Returns how many partitions were staged. Each run of consecutive days of an org is read with one
    conjunctive, parameterized range predicate, so DuckLake reads those partitions' files only.
    """
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE_DAYS} AS SELECT DISTINCT org_id, day FROM ({days_sql})",
                       list(parameters))
    ranges = connection.execute(DAY_RANGES_SQL).fetchall()
    branches: list[str] = []
    values: list[object] = []
    for org_id, first_day, last_day in ranges:
        branches.append("SELECT * FROM events WHERE org_id = ? AND occurred_at >= ? AND occurred_at < ?")
        values.extend([org_id, _midnight(first_day), _midnight(last_day + timedelta(days=1))])
    source = " UNION ALL ".join(branches) if branches else "SELECT * FROM events WHERE false"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE} AS {source}", values)
    return scalar(connection, f"SELECT count(*) FROM {SCOPE_DAYS}")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def batch_days_sql(where: str = "true") -> str:
    """The (org_id, UTC day) pairs of the staged batch's events that match `where` (SQL over code constants)."""
    return f"SELECT DISTINCT org_id, {UTC_DAY_SQL} AS day FROM {BATCH} WHERE {where}"


def days_between_sql(source: str, first: str, last: str) -> str:
    """Every UTC day from `first` to `last` (timestamps of `source`'s rows), per org, as (org_id, day)."""
    return f"""
        SELECT org_id, CAST(unnest(range(CAST(CAST(timezone('UTC', {first}) AS DATE) AS TIMESTAMP),
                                         CAST(CAST(timezone('UTC', {last}) AS DATE) AS TIMESTAMP) + INTERVAL 1 DAY,
                                         INTERVAL 1 DAY)) AS DATE) AS day
        FROM {source}
    """
