"""`audit_summary`: per org, the total and the counts by action, user, log type, outcome and UTC day.

A long table `(org_id, dimension, value, events, failures, first_at, last_at)`, computed in one scan with
GROUPING SETS. `dimension` is one of `DIMENSIONS`; the `total` row of an org has `value` NULL. A `day`
value is an ISO date (UTC); a `user` value is the name shown in the audit log (name, email, id or System).

Every column adds up: an update aggregates the new events alone and merges that into the stored rows of the
same keys (events and failures summed, the earliest first_at, the latest last_at), reading no stored event.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, UTC_DAY_SQL
from audit_pipeline.derived.incremental import BATCH, Batch, ViewUpdate, rebuild_view, update_view
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

AUDIT_SUMMARY = "audit_summary"
DIMENSIONS = ("total", "action", "user", "log_type", "outcome", "day")
_ADDED = "audit_summary_added"
_MERGED = "audit_summary_merged"


def _aggregate(source: str) -> str:
    return f"""
WITH facts AS (
    SELECT org_id, action, {USER_DISPLAY_SQL} AS user_display, log_type, outcome,
           strftime({UTC_DAY_SQL}, '%Y-%m-%d') AS day, occurred_at
    FROM {source}
)
SELECT org_id,
       CASE WHEN grouping(action) = 0 THEN 'action'
            WHEN grouping(user_display) = 0 THEN 'user'
            WHEN grouping(log_type) = 0 THEN 'log_type'
            WHEN grouping(outcome) = 0 THEN 'outcome'
            WHEN grouping(day) = 0 THEN 'day'
            ELSE 'total' END AS dimension,
       coalesce(action, user_display, log_type, outcome, day) AS value,
       count(*) AS events,
       count(*) FILTER (WHERE outcome = 'failure') AS failures,
       min(occurred_at) AS first_at,
       max(occurred_at) AS last_at
FROM facts
GROUP BY GROUPING SETS ((org_id), (org_id, action), (org_id, user_display), (org_id, log_type),
                        (org_id, outcome), (org_id, day))
"""


AUDIT_SUMMARY_SQL = f"""
CREATE OR REPLACE TABLE {AUDIT_SUMMARY} AS {_aggregate('events')}
ORDER BY org_id, dimension, events DESC, value
"""

_SAME_KEY = "s.org_id = a.org_id AND s.dimension = a.dimension AND s.value IS NOT DISTINCT FROM a.value"
AGGREGATE_BATCH_SQL = f"CREATE OR REPLACE TEMP TABLE {_ADDED} AS {_aggregate(BATCH)}"
MERGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_MERGED} AS
SELECT org_id, dimension, value, CAST(sum(events) AS BIGINT) AS events, CAST(sum(failures) AS BIGINT) AS failures,
       min(first_at) AS first_at, max(last_at) AS last_at
FROM (SELECT * FROM {_ADDED}
      UNION ALL
      SELECT s.* FROM {AUDIT_SUMMARY} s WHERE EXISTS (SELECT 1 FROM {_ADDED} a WHERE {_SAME_KEY}))
GROUP BY org_id, dimension, value
"""
DELETE_MERGED_SQL = f"DELETE FROM {AUDIT_SUMMARY} s WHERE EXISTS (SELECT 1 FROM {_MERGED} a WHERE {_SAME_KEY})"
INSERT_MERGED_SQL = f"INSERT INTO {AUDIT_SUMMARY} SELECT * FROM {_MERGED}"

PREVIEW_SQL = f"""
SELECT org_id, dimension, value, events, failures FROM {AUDIT_SUMMARY}
WHERE dimension IN ('total', 'action', 'log_type')
ORDER BY org_id, dimension = 'total' DESC, dimension, events DESC, value LIMIT {PREVIEW_ROWS}
"""

TOTALS_SQL = f"""
SELECT org_id, events, failures, first_at, last_at FROM {AUDIT_SUMMARY}
WHERE dimension = 'total' ORDER BY events DESC, org_id LIMIT {PREVIEW_ROWS}
"""


def _rebuild(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(AUDIT_SUMMARY_SQL)


def _apply(connection: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    connection.execute(AGGREGATE_BATCH_SQL)
    connection.execute(MERGE_SQL)
    connection.execute(DELETE_MERGED_SQL)
    connection.execute(INSERT_MERGED_SQL)
    for table in (_ADDED, _MERGED):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    return 0  # merged from the batch alone: no stored partition is read


def _report(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    return report(connection, AUDIT_SUMMARY, PREVIEW_SQL, {"totals_by_org": TOTALS_SQL})


def build_audit_summary(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """Rebuild the table from every event."""
    rebuild_view(connection, AUDIT_SUMMARY, lambda: _rebuild(connection))
    return _report(connection)


def update_audit_summary(connection: duckdb.DuckDBPyConnection) -> ViewUpdate:
    """Merge the new events' counts into the stored rows; build in full when never built."""
    return update_view(connection, AUDIT_SUMMARY, [AUDIT_SUMMARY], rebuild=lambda: _rebuild(connection),
                       apply=lambda batch: _apply(connection, batch), finish=lambda: _report(connection))
