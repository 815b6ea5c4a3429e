"""`login_activity`: Authentication events per org, user and UTC day.

A login is an Authentication event whose action is `Login`; a failed login is a failed `Login` or a
`Login Failed`. MFA challenges and failures are counted beside them. `ips` lists the distinct source IPs
of all the day's Authentication events of that user.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, USER_KEY_SQL, UTC_DAY_SQL, sql_list
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report

LOGIN_ACTIVITY = "login_activity"
AUTHENTICATION = "Authentication"
LOGIN_ACTIONS = ("Login", "Login Failed")
MFA_ACTIONS = ("MFA Challenge", "MFA Failed")


LOGIN_ACTIVITY_SQL = f"""
CREATE OR REPLACE TABLE {LOGIN_ACTIVITY} AS
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
FROM events
WHERE log_type = '{AUTHENTICATION}'
GROUP BY ALL
ORDER BY org_id, day, user_key
"""

PREVIEW_SQL = f"""
SELECT org_id, day, user_display, logins, failed_logins, mfa_failures, distinct_ips
FROM {LOGIN_ACTIVITY} ORDER BY failed_logins DESC, day DESC, org_id, user_key LIMIT {PREVIEW_ROWS}
"""


def build_login_activity(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    connection.execute(LOGIN_ACTIVITY_SQL)
    return report(connection, LOGIN_ACTIVITY, PREVIEW_SQL)
