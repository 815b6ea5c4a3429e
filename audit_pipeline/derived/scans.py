"""`scan_activity` (one row per scan id) and `scan_activity_daily` (per org and UTC day).

A scan is identified by `additional_info.scan_id` (the platform API's `scanId`). It starts with `Scan Now`
(triggered by hand) or `Scan Scheduled`, and ends with `Scan Completed` or `Scan Failed` (any failed Scan
event counts as a failure). A scan with a start and no end is `running`; one whose start was never received
has no `started_at` or duration. Scan events without a scan id are counted in the daily table only.
`first_event_at` and `last_event_at` are the times of the scan's first and last event of any kind.

An update recomputes only the scans the new events belong to, from the days between each one's stored first
and last event and the new events' days, then the daily rows of the days those scans started on (before and
after) and of the new events' days.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, UTC_DAY_SQL, info_text, sql_list
from audit_pipeline.derived.incremental import (
    BATCH,
    SCOPE,
    Batch,
    ViewUpdate,
    batch_days_sql,
    days_between_sql,
    rebuild_view,
    stage_scope,
    update_view,
)
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

SCAN_ACTIVITY = "scan_activity"
SCAN_ACTIVITY_DAILY = "scan_activity_daily"
SCAN_LOG_TYPE = "Scan"
START_ACTIONS = ("Scan Now", "Scan Scheduled")
COMPLETED_ACTION = "Scan Completed"
FAILED_ACTION = "Scan Failed"

_IS_SCAN = f"log_type = '{SCAN_LOG_TYPE}'"
_IS_START = f"action IN {sql_list(START_ACTIONS)}"
_IS_COMPLETED = f"action = '{COMPLETED_ACTION}'"
_IS_FAILED = f"(action = '{FAILED_ACTION}' OR outcome = 'failure')"
_SCAN_ID = info_text("scan_id")
_STARTED_DAY = "CAST(timezone('UTC', started_at) AS DATE)"
_TOUCHED_SCANS = "scan_activity_touched"
_TOUCHED_DAYS = "scan_activity_touched_days"


def _scans(source: str, scan_filter: str = "true") -> str:
    """One row per scan id of `source`'s Scan events whose (org_id, scan_id) satisfies `scan_filter`."""
    return f"""
WITH scan_events AS (
    SELECT org_id, {_SCAN_ID} AS scan_id, action, outcome, occurred_at, ingest_seq, event_id,
           {USER_DISPLAY_SQL} AS user_display
    FROM {source} WHERE {_IS_SCAN}
),
per_scan AS (
    SELECT org_id, scan_id,
           min(occurred_at) FILTER (WHERE {_IS_START}) AS started_at,
           arg_min(action, (occurred_at, ingest_seq)) FILTER (WHERE {_IS_START}) AS trigger,
           arg_min(user_display, (occurred_at, ingest_seq)) FILTER (WHERE {_IS_START}) AS triggered_by,
           max(occurred_at) FILTER (WHERE {_IS_COMPLETED} AND NOT {_IS_FAILED}) AS completed_at,
           max(occurred_at) FILTER (WHERE {_IS_FAILED}) AS failed_at,
           count(*) AS events,
           list(event_id ORDER BY occurred_at, ingest_seq) AS event_ids,
           min(occurred_at) AS first_event_at,
           max(occurred_at) AS last_event_at
    FROM scan_events WHERE scan_id IS NOT NULL AND {scan_filter}
    GROUP BY org_id, scan_id
)
SELECT org_id, scan_id, trigger, triggered_by, started_at,
       coalesce(failed_at, completed_at) AS finished_at,
       CASE WHEN failed_at IS NOT NULL THEN 'failed'
            WHEN completed_at IS NOT NULL THEN 'completed'
            ELSE 'running' END AS status,
       round(epoch(coalesce(failed_at, completed_at) - started_at), 3) AS duration_seconds,
       events, event_ids, first_event_at, last_event_at
FROM per_scan
"""


def _daily(source: str, day_filter: str = "true", started_filter: str = "true") -> str:
    """Per org and UTC day of `source`'s Scan events whose (org_id, day) satisfies `day_filter`, with the
    durations of the scans that satisfy `started_filter` (the same days, over `SCAN_ACTIVITY`'s columns)."""
    return f"""
WITH daily AS (
    SELECT org_id, {UTC_DAY_SQL} AS day,
           count(*) FILTER (WHERE {_IS_START}) AS scans_started,
           count(*) FILTER (WHERE {_IS_COMPLETED} AND NOT {_IS_FAILED}) AS scans_completed,
           count(*) FILTER (WHERE {_IS_FAILED}) AS scans_failed,
           count(*) FILTER (WHERE {_SCAN_ID} IS NULL) AS events_without_scan_id,
           count(*) AS scan_events
    FROM {source} WHERE {_IS_SCAN}
    GROUP BY ALL
),
durations AS (
    SELECT org_id, {_STARTED_DAY} AS day,
           median(duration_seconds) AS median_duration_seconds,
           max(duration_seconds) AS max_duration_seconds
    FROM {SCAN_ACTIVITY} WHERE duration_seconds IS NOT NULL AND {started_filter}
    GROUP BY ALL
)
SELECT d.*, t.median_duration_seconds, t.max_duration_seconds
FROM daily d LEFT JOIN durations t USING (org_id, day)
WHERE {day_filter}
"""


SCAN_ACTIVITY_SQL = f"""
CREATE OR REPLACE TABLE {SCAN_ACTIVITY} AS {_scans('events')}
ORDER BY org_id, coalesce(started_at, finished_at), scan_id
"""
SCAN_ACTIVITY_DAILY_SQL = f"CREATE OR REPLACE TABLE {SCAN_ACTIVITY_DAILY} AS {_daily('events')} ORDER BY org_id, day"

_IS_TOUCHED_SCAN = f"(org_id, scan_id) IN (SELECT (org_id, scan_id) FROM {_TOUCHED_SCANS})"
_BATCH_SCANS = f"SELECT org_id, {_SCAN_ID} AS scan_id, occurred_at FROM {BATCH} WHERE {_IS_SCAN}"
TOUCHED_SCANS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_TOUCHED_SCANS} AS
SELECT org_id, scan_id, min(first_at) AS first_at, max(last_at) AS last_at
FROM (SELECT org_id, scan_id, occurred_at AS first_at, occurred_at AS last_at FROM ({_BATCH_SCANS})
      UNION ALL
      SELECT org_id, scan_id, first_event_at, last_event_at FROM {SCAN_ACTIVITY}
      WHERE (org_id, scan_id) IN (SELECT (org_id, scan_id) FROM ({_BATCH_SCANS})))
WHERE scan_id IS NOT NULL
GROUP BY org_id, scan_id
"""
SCOPE_DAYS_SQL = f"""
{batch_days_sql(_IS_SCAN)}
UNION
{days_between_sql(_TOUCHED_SCANS, 'first_at', 'last_at')}
"""
TOUCHED_DAYS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_TOUCHED_DAYS} AS
{batch_days_sql(_IS_SCAN)}
UNION
SELECT org_id, {_STARTED_DAY} AS day FROM {SCAN_ACTIVITY} WHERE started_at IS NOT NULL AND {_IS_TOUCHED_SCAN}
"""
DELETE_SCANS_SQL = f"DELETE FROM {SCAN_ACTIVITY} WHERE {_IS_TOUCHED_SCAN}"
INSERT_SCANS_SQL = f"INSERT INTO {SCAN_ACTIVITY} {_scans(SCOPE, _IS_TOUCHED_SCAN)}"
_IS_TOUCHED_DAY = f"(org_id, day) IN (SELECT (org_id, day) FROM {_TOUCHED_DAYS})"
DELETE_DAYS_SQL = f"DELETE FROM {SCAN_ACTIVITY_DAILY} WHERE {_IS_TOUCHED_DAY}"
_STARTED_ON_TOUCHED_DAY = f"(org_id, {_STARTED_DAY}) IN (SELECT (org_id, day) FROM {_TOUCHED_DAYS})"
INSERT_DAYS_SQL = f"INSERT INTO {SCAN_ACTIVITY_DAILY} {_daily(SCOPE, _IS_TOUCHED_DAY, _STARTED_ON_TOUCHED_DAY)}"

PREVIEW_SQL = f"""
SELECT org_id, scan_id, trigger, triggered_by, started_at, status, duration_seconds
FROM {SCAN_ACTIVITY} ORDER BY started_at DESC NULLS LAST, org_id, scan_id LIMIT {PREVIEW_ROWS}
"""

DAILY_PREVIEW_SQL = f"""
SELECT org_id, day, scans_started, scans_completed, scans_failed, median_duration_seconds
FROM {SCAN_ACTIVITY_DAILY} ORDER BY day DESC, org_id LIMIT {PREVIEW_ROWS}
"""


def _rebuild(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(SCAN_ACTIVITY_SQL)
    connection.execute(SCAN_ACTIVITY_DAILY_SQL)


def _apply(connection: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    connection.execute(TOUCHED_SCANS_SQL)
    partitions = stage_scope(connection, SCOPE_DAYS_SQL)
    connection.execute(TOUCHED_DAYS_SQL)  # with the days the touched scans started on before the update
    connection.execute(DELETE_SCANS_SQL)
    connection.execute(INSERT_SCANS_SQL)
    connection.execute(f"""
        INSERT INTO {_TOUCHED_DAYS}
        SELECT org_id, {_STARTED_DAY} FROM {SCAN_ACTIVITY} WHERE started_at IS NOT NULL AND {_IS_TOUCHED_SCAN}
    """)
    connection.execute(DELETE_DAYS_SQL)
    connection.execute(INSERT_DAYS_SQL)
    for table in (_TOUCHED_SCANS, _TOUCHED_DAYS):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    return partitions


def _report(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    return report(connection, SCAN_ACTIVITY, PREVIEW_SQL, {"scans_by_day": DAILY_PREVIEW_SQL})


def build_scan_activity(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """Rebuild both tables from every event."""
    rebuild_view(connection, SCAN_ACTIVITY, lambda: _rebuild(connection))
    return _report(connection)


def update_scan_activity(connection: duckdb.DuckDBPyConnection) -> ViewUpdate:
    """Recompute the scans and days the new events touched; build in full when never built."""
    return update_view(connection, SCAN_ACTIVITY, [SCAN_ACTIVITY, SCAN_ACTIVITY_DAILY],
                       rebuild=lambda: _rebuild(connection), apply=lambda batch: _apply(connection, batch),
                       finish=lambda: _report(connection))
