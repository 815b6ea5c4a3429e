"""`login_activity`: Authentication events per org, user and UTC day.

A login is an Authentication event whose action is `Login`; a failed login is a failed `Login` or a
`Login Failed`. MFA challenges and failures are counted beside them. `ips` lists the distinct source IPs
of all the day's Authentication events of that user.

Rows depend on one (org, day) partition each: an update deletes the rows of the partitions the new events
touched and recomputes them from those partitions' events.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, USER_KEY_SQL, UTC_DAY_SQL, sql_list
from audit_pipeline.derived.incremental import (
    SCOPE,
    SCOPE_DAYS,
    Batch,
    ViewUpdate,
    batch_days_sql,
    rebuild_view,
    stage_scope,
    update_view,
)
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

LOGIN_ACTIVITY = "login_activity"
AUTHENTICATION = "Authentication"
LOGIN_ACTIONS = ("Login", "Login Failed")
MFA_ACTIONS = ("MFA Challenge", "MFA Failed")
_IS_AUTHENTICATION = f"log_type = '{AUTHENTICATION}'"


def _select(source: str) -> str:
    return f"""
SELECT org_id,
       {USER_KEY_SQL} AS user_key,
       arg_max({USER_DISPLAY_SQL}, occurred_at) AS user_display,
       {UTC_DAY_SQL} AS day,
       count(*) FILTER (WHERE action IN {sql_list(LOGIN_ACTIONS)} AND outcome = 'success') AS logins,
       count(*) FILTER (WHERE action IN {sql_list(LOGIN_ACTIONS)} AND outcome = 'failure') AS failed_logins,
       count(*) FILTER (WHERE action IN {sql_list(MFA_ACTIONS)}) AS mfa_challenges,
       count(*) FILTER (WHERE action IN {sql_list(MFA_ACTIONS)} AND outcome = 'failure') AS mfa_failures,
       count(DISTINCT source_ip) AS distinct_ips,
       list_sort(list(DISTINCT source_ip) FILTER (WHERE source_ip IS NOT NULL)) AS ips,
       min(occurred_at) AS first_seen,
       max(occurred_at) AS last_seen,
       count(*) AS authentication_events
FROM {source}
WHERE {_IS_AUTHENTICATION}
GROUP BY ALL
"""


LOGIN_ACTIVITY_SQL = f"CREATE OR REPLACE TABLE {LOGIN_ACTIVITY} AS {_select('events')} ORDER BY org_id, day, user_key"
DELETE_TOUCHED_SQL = f"""
DELETE FROM {LOGIN_ACTIVITY} t WHERE EXISTS (SELECT 1 FROM {SCOPE_DAYS} d WHERE d.org_id = t.org_id AND d.day = t.day)
"""
INSERT_TOUCHED_SQL = f"INSERT INTO {LOGIN_ACTIVITY} {_select(SCOPE)}"

PREVIEW_SQL = f"""
SELECT org_id, day, user_display, logins, failed_logins, mfa_failures, distinct_ips
FROM {LOGIN_ACTIVITY} ORDER BY failed_logins DESC, day DESC, org_id, user_key LIMIT {PREVIEW_ROWS}
"""


def _rebuild(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(LOGIN_ACTIVITY_SQL)


def _apply(connection: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    partitions = stage_scope(connection, batch_days_sql(_IS_AUTHENTICATION))
    connection.execute(DELETE_TOUCHED_SQL)
    connection.execute(INSERT_TOUCHED_SQL)
    return partitions


def _report(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    return report(connection, LOGIN_ACTIVITY, PREVIEW_SQL)


def build_login_activity(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """Rebuild the table from every event."""
    rebuild_view(connection, LOGIN_ACTIVITY, lambda: _rebuild(connection))
    return _report(connection)


def update_login_activity(connection: duckdb.DuckDBPyConnection) -> ViewUpdate:
    """Recompute the (org, day) partitions the new events touched; build in full when never built."""
    return update_view(connection, LOGIN_ACTIVITY, [LOGIN_ACTIVITY], rebuild=lambda: _rebuild(connection),
                       apply=lambda batch: _apply(connection, batch), finish=lambda: _report(connection))
