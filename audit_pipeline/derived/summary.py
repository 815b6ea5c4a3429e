"""`audit_summary`: per org, the total and the counts by action, user, log type, outcome and UTC day.

A long table `(org_id, dimension, value, events, failures, first_at, last_at)`, computed in one scan with
GROUPING SETS. `dimension` is one of `DIMENSIONS`; the `total` row of an org has `value` NULL. A `day`
value is an ISO date (UTC); a `user` value is the name shown in the audit log (name, email, id or System).
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, UTC_DAY_SQL
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

AUDIT_SUMMARY = "audit_summary"
DIMENSIONS = ("total", "action", "user", "log_type", "outcome", "day")

AUDIT_SUMMARY_SQL = f"""
CREATE OR REPLACE TABLE {AUDIT_SUMMARY} AS
WITH facts AS (
    SELECT org_id, action, {USER_DISPLAY_SQL} AS user_display, log_type, outcome,
           strftime({UTC_DAY_SQL}, '%Y-%m-%d') AS day, occurred_at
    FROM events
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
ORDER BY org_id, dimension, events DESC, value
"""

PREVIEW_SQL = f"""
SELECT org_id, dimension, value, events, failures FROM {AUDIT_SUMMARY}
WHERE dimension IN ('total', 'action', 'log_type')
ORDER BY org_id, dimension = 'total' DESC, dimension, events DESC LIMIT {PREVIEW_ROWS}
"""

TOTALS_SQL = f"""
SELECT org_id, events, failures, first_at, last_at FROM {AUDIT_SUMMARY}
WHERE dimension = 'total' ORDER BY events DESC LIMIT {PREVIEW_ROWS}
"""


def build_audit_summary(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    connection.execute(AUDIT_SUMMARY_SQL)
    return report(connection, AUDIT_SUMMARY, PREVIEW_SQL, {"totals_by_org": TOTALS_SQL})
