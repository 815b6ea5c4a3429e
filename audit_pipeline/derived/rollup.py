"""`audit_daily_rollup`: how many events each org has per UTC day, action, log type and user.

The audit-log list reads its totals, facet counts and day counts from here for the whole days of a period
and counts only the partial days at the period's edges in `events` (see `audit_pipeline.query.sources`), so
its numbers equal a count over `events` while reading a fraction of the rows.

Each distinct (action, log_type, user_id, user_email, user_name) is stored once in
`audit_daily_rollup_keys` under a small integer `key_id`; the rollup holds `(org_id, day, key_id, events)`.
Those five columns are everything the filters, the qualifier searches and the facets look at, and summing by
an integer key is several times cheaper than grouping the five texts.

The same update keeps the free-text index (`audit_pipeline.derived.search_index`) from the same grouped count,
so free-text searches over whole days are answered from it too.

Events are only appended, with rising `ingest_seq`. An update therefore adds the counts of the events past
the last one counted as new rows (a key and day may then appear on several rows: readers sum them); it
rebuilds the tables only when they are missing or the events no longer add up to what was counted. The
compaction (`compact_daily_rollup`, run by the daily `investigation_compaction_job`) rebuilds them compactly
once such added rows exceed a fifth of the rollup. `audit_daily_rollup_coverage` records the last
`ingest_seq` counted; readers use the rollup only while no event lies beyond it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, UTC_DAY_NUMBER_SQL
from audit_pipeline.derived.incremental import in_transaction
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report, scalar, tables_exist
from audit_pipeline.derived.search_index import (
    COUNTED_TEXT_COLUMNS_SQL,
    SEARCH_TABLES,
    append_search_index,
    rebuild_search_index,
)
from audit_pipeline.storage.high_water import newest_ingest_seq

ROLLUP_TABLE = "audit_daily_rollup"
KEYS_TABLE = "audit_daily_rollup_keys"
COVERAGE_TABLE = "audit_daily_rollup_coverage"
KEY_COLUMNS = ("action", "log_type", "user_id", "user_email", "user_name")
DAY_ORIGIN_SQL = "DATE '1970-01-01'"
COMPACT_WHEN_ADDED_SHARE = 0.2
BEFORE_ANY_SEQ = -(2**63)

UpdateMode = Literal["rebuilt", "incremental"]

_COUNTED = "audit_daily_rollup_counted"
_KEYS = ", ".join(KEY_COLUMNS)
_SAME_KEY = " AND ".join(f"c.{column} IS NOT DISTINCT FROM k.{column}" for column in KEY_COLUMNS)

COUNT_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_COUNTED} AS
SELECT org_id, {DAY_ORIGIN_SQL} + CAST({UTC_DAY_NUMBER_SQL} AS INTEGER) AS day, {_KEYS},
       {COUNTED_TEXT_COLUMNS_SQL}, count(*) AS events
FROM events WHERE ingest_seq > ?
GROUP BY ALL
"""
_NUMBERED_KEYS = f"CAST(row_number() OVER (ORDER BY {_KEYS}) AS INTEGER)"
REBUILD_KEYS_SQL = f"""
CREATE OR REPLACE TABLE {KEYS_TABLE} AS
SELECT {_NUMBERED_KEYS} AS key_id, {_KEYS} FROM (SELECT DISTINCT {_KEYS} FROM {_COUNTED})
"""
ADD_KEYS_SQL = f"""
INSERT INTO {KEYS_TABLE}
SELECT (SELECT coalesce(max(key_id), 0) FROM {KEYS_TABLE}) + {_NUMBERED_KEYS}, {_KEYS}
FROM (SELECT DISTINCT {_KEYS} FROM {_COUNTED} c WHERE NOT EXISTS (SELECT 1 FROM {KEYS_TABLE} k WHERE {_SAME_KEY}))
"""
_KEYED_COUNTS = f"""
SELECT c.org_id, c.day, k.key_id, sum(c.events)::BIGINT AS events
FROM {_COUNTED} c JOIN {KEYS_TABLE} k ON {_SAME_KEY}
GROUP BY ALL ORDER BY c.org_id, c.day, k.key_id
"""
REBUILD_ROLLUP_SQL = f"CREATE OR REPLACE TABLE {ROLLUP_TABLE} AS {_KEYED_COUNTS}"
APPEND_ROLLUP_SQL = f"INSERT INTO {ROLLUP_TABLE} {_KEYED_COUNTS}"

COVERAGE_SQL = f"""
CREATE OR REPLACE TABLE {COVERAGE_TABLE} AS
SELECT ?::BIGINT AS last_ingest_seq, ?::BIGINT AS events, ?::BIGINT AS compact_rows, now() AS updated_at
"""

PREVIEW_SQL = f"""
SELECT r.org_id, r.day, k.action, k.log_type, {USER_DISPLAY_SQL} AS "user", sum(r.events) AS events
FROM {ROLLUP_TABLE} r JOIN {KEYS_TABLE} k USING (key_id)
GROUP BY ALL ORDER BY r.day DESC, events DESC, r.org_id, k.action, "user" LIMIT {PREVIEW_ROWS}
"""


@dataclass(frozen=True)
class Coverage:
    """What the rollup has counted: every event up to `last_ingest_seq`, `events` of them."""

    last_ingest_seq: int
    events: int
    compact_rows: int


@dataclass(frozen=True)
class RollupUpdate:
    """One update of the rollup: how it was done, how many events it newly counted, what it covers now."""

    report: DerivedReport
    mode: UpdateMode
    new_events: int
    coverage: Coverage

    @property
    def events_per_row(self) -> float:
        """How many events one rollup row stands for (the compression against `events`)."""
        return self.report.total_events / self.report.rows if self.report.rows else 0.0


def read_coverage(connection: duckdb.DuckDBPyConnection) -> Coverage | None:
    """The coverage recorded by the last update; None when the rollup was never built in this database."""
    try:
        row = connection.execute(f"SELECT last_ingest_seq, events, compact_rows FROM {COVERAGE_TABLE}").fetchone()
    except duckdb.CatalogException:
        return None
    return Coverage(int(row[0]), int(row[1]), int(row[2])) if row else None


def update_daily_rollup(connection: duckdb.DuckDBPyConnection, *, compact: bool = False) -> RollupUpdate:
    """Bring the rollup up to the events table by appending the new events' counts (rebuilding it only when
    missing or drifted); with `compact`, also rebuild it when appended rows exceed `COMPACT_WHEN_ADDED_SHARE`."""
    return in_transaction(connection, lambda: _updated_and_tidied(connection, compact))


def _updated_and_tidied(connection: duckdb.DuckDBPyConnection, compact: bool) -> RollupUpdate:
    update = _update(connection, compact=compact)
    connection.execute(f"DROP TABLE IF EXISTS {_COUNTED}")
    return update


def compact_daily_rollup(connection: duckdb.DuckDBPyConnection) -> RollupUpdate:
    """Append the new events' counts, then rebuild compactly if appended rows have grown past the share."""
    return update_daily_rollup(connection, compact=True)


def build_daily_rollup(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """`update_daily_rollup` in the shape of the other derived tables' builders."""
    return update_daily_rollup(connection).report


def _update(connection: duckdb.DuckDBPyConnection, *, compact: bool) -> RollupUpdate:
    last_seq = newest_ingest_seq(connection)
    total = scalar(connection, "SELECT count(*) FROM events")
    counted = Coverage(last_seq, total, 0)
    previous = read_coverage(connection)
    if previous is None or not _tables_exist(connection) or previous.last_ingest_seq > last_seq:
        return _rebuild(connection, counted, new_events=total)
    added = scalar(connection, "SELECT count(*) FROM events WHERE ingest_seq > ?", [previous.last_ingest_seq])
    if previous.events + added != total:
        # Events were removed or rewritten below the covered ingest_seq: counting only new ones would drift.
        return _rebuild(connection, counted, new_events=added)
    if added:
        connection.execute(COUNT_SQL, [previous.last_ingest_seq])
        connection.execute(ADD_KEYS_SQL)
        connection.execute(APPEND_ROLLUP_SQL)
        append_search_index(connection, _COUNTED, KEYS_TABLE, _SAME_KEY)
    if compact and _rows(connection) > previous.compact_rows * (1 + COMPACT_WHEN_ADDED_SHARE):
        return _rebuild(connection, counted, new_events=added)
    coverage = Coverage(last_seq, total, previous.compact_rows)
    _record(connection, coverage)
    return RollupUpdate(report(connection, ROLLUP_TABLE, PREVIEW_SQL), "incremental", added, coverage)


def _rebuild(connection: duckdb.DuckDBPyConnection, counted: Coverage, *, new_events: int) -> RollupUpdate:
    connection.execute(COUNT_SQL, [BEFORE_ANY_SEQ])
    connection.execute(REBUILD_KEYS_SQL)
    connection.execute(REBUILD_ROLLUP_SQL)
    rebuild_search_index(connection, _COUNTED, KEYS_TABLE, _SAME_KEY)
    coverage = Coverage(counted.last_ingest_seq, counted.events, _rows(connection))
    _record(connection, coverage)
    return RollupUpdate(report(connection, ROLLUP_TABLE, PREVIEW_SQL), "rebuilt", new_events, coverage)


def _rows(connection: duckdb.DuckDBPyConnection) -> int:
    return scalar(connection, f"SELECT count(*) FROM {ROLLUP_TABLE}")


def _record(connection: duckdb.DuckDBPyConnection, coverage: Coverage) -> None:
    connection.execute(COVERAGE_SQL, [coverage.last_ingest_seq, coverage.events, coverage.compact_rows])


def _tables_exist(connection: duckdb.DuckDBPyConnection) -> bool:
    return tables_exist(connection, [ROLLUP_TABLE, KEYS_TABLE, *SEARCH_TABLES])
