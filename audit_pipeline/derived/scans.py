"""`scan_activity` (one row per scan id) and `scan_activity_daily` (per org and UTC day).

A scan is identified by `additional_info.scan_id` (the platform API's `scanId`). It starts with `Scan Now`
(triggered by hand) or `Scan Scheduled`, and ends with `Scan Completed` or `Scan Failed` (any failed Scan
event counts as a failure). A scan with a start and no end is `running`; one whose start was never received
has no `started_at` or duration. Scan events without a scan id are counted in the daily table only.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, UTC_DAY_SQL, info_text, sql_list
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

SCAN_ACTIVITY = "scan_activity"
SCAN_ACTIVITY_DAILY = "scan_activity_daily"
SCAN_LOG_TYPE = "Scan"
START_ACTIONS = ("Scan Now", "Scan Scheduled")
COMPLETED_ACTION = "Scan Completed"
FAILED_ACTION = "Scan Failed"

_IS_START = f"action IN {sql_list(START_ACTIONS)}"
_IS_COMPLETED = f"action = '{COMPLETED_ACTION}'"
_IS_FAILED = f"(action = '{FAILED_ACTION}' OR outcome = 'failure')"

SCAN_ACTIVITY_SQL = f"""
CREATE OR REPLACE TABLE {SCAN_ACTIVITY} AS
WITH scan_events AS (
    SELECT org_id, {info_text('scan_id')} AS scan_id, action, outcome, occurred_at, ingest_seq, event_id,
           {USER_DISPLAY_SQL} AS user_display
    FROM events WHERE log_type = '{SCAN_LOG_TYPE}'
),
per_scan AS (
    SELECT org_id, scan_id,
           min(occurred_at) FILTER (WHERE {_IS_START}) AS started_at,
           arg_min(action, (occurred_at, ingest_seq)) FILTER (WHERE {_IS_START}) AS trigger,
           arg_min(user_display, (occurred_at, ingest_seq)) FILTER (WHERE {_IS_START}) AS triggered_by,
           max(occurred_at) FILTER (WHERE {_IS_COMPLETED} AND NOT {_IS_FAILED}) AS completed_at,
           max(occurred_at) FILTER (WHERE {_IS_FAILED}) AS failed_at,
           count(*) AS events,
           list(event_id ORDER BY occurred_at, ingest_seq) AS event_ids
    FROM scan_events WHERE scan_id IS NOT NULL
    GROUP BY org_id, scan_id
)
SELECT org_id, scan_id, trigger, triggered_by, started_at,
       coalesce(failed_at, completed_at) AS finished_at,
       CASE WHEN failed_at IS NOT NULL THEN 'failed'
            WHEN completed_at IS NOT NULL THEN 'completed'
            ELSE 'running' END AS status,
       round(epoch(coalesce(failed_at, completed_at) - started_at), 3) AS duration_seconds,
       events, event_ids
FROM per_scan
ORDER BY org_id, coalesce(started_at, finished_at), scan_id
"""

SCAN_ACTIVITY_DAILY_SQL = f"""
CREATE OR REPLACE TABLE {SCAN_ACTIVITY_DAILY} AS
WITH daily AS (
    SELECT org_id, {UTC_DAY_SQL} AS day,
           count(*) FILTER (WHERE {_IS_START}) AS scans_started,
           count(*) FILTER (WHERE {_IS_COMPLETED} AND NOT {_IS_FAILED}) AS scans_completed,
           count(*) FILTER (WHERE {_IS_FAILED}) AS scans_failed,
           count(*) FILTER (WHERE {info_text('scan_id')} IS NULL) AS events_without_scan_id,
           count(*) AS scan_events
    FROM events WHERE log_type = '{SCAN_LOG_TYPE}'
    GROUP BY ALL
),
durations AS (
    SELECT org_id, CAST(timezone('UTC', started_at) AS DATE) AS day,
           median(duration_seconds) AS median_duration_seconds,
           max(duration_seconds) AS max_duration_seconds
    FROM {SCAN_ACTIVITY} WHERE duration_seconds IS NOT NULL
    GROUP BY ALL
)
SELECT d.*, t.median_duration_seconds, t.max_duration_seconds
FROM daily d LEFT JOIN durations t USING (org_id, day)
ORDER BY org_id, day
"""

PREVIEW_SQL = f"""
SELECT org_id, scan_id, trigger, triggered_by, started_at, status, duration_seconds
FROM {SCAN_ACTIVITY} ORDER BY started_at DESC NULLS LAST, org_id, scan_id LIMIT {PREVIEW_ROWS}
"""

DAILY_PREVIEW_SQL = f"""
SELECT org_id, day, scans_started, scans_completed, scans_failed, median_duration_seconds
FROM {SCAN_ACTIVITY_DAILY} ORDER BY day DESC, org_id LIMIT {PREVIEW_ROWS}
"""


def build_scan_activity(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    connection.execute(SCAN_ACTIVITY_SQL)
    connection.execute(SCAN_ACTIVITY_DAILY_SQL)
    return report(connection, SCAN_ACTIVITY, PREVIEW_SQL, {"scans_by_day": DAILY_PREVIEW_SQL})
