"""The SQL of the suspicious-activity rules: one query per rule, over `events` or over staged rows.

Columns: `(org_id, rule, severity, user, first_at, last_at, event_count, event_ids, reason)`; `user` is the
person who acted (email when known, else user id or name), `event_ids` lists the events behind the finding in
time order, and `reason` says in one sentence why the rule fired. Thresholds reach DuckDB as parameters.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived import rules
from audit_pipeline.derived.expressions import (
    USER_KEY_SQL,
    UTC_HOUR_SQL,
    UTC_ISO_WEEKDAY_SQL,
    info_text,
    new_role_sql,
    sql_list,
)

SUSPICIOUS_ACTIVITY = "suspicious_activity"


def _span(first: str, last: str) -> str:
    """How long a finding lasted, in words."""
    seconds = f"epoch({last} - {first})"
    return (f"CASE WHEN {seconds} < 1 THEN 'the same second' "
            f"WHEN {seconds} < 120 THEN round({seconds})::BIGINT || ' seconds' "
            f"ELSE round({seconds} / 60)::BIGINT || ' minutes' END")


def _listed(values: str, limit: int = 10) -> str:
    """Distinct non-null values as a sorted, comma-separated text of at most `limit` items."""
    distinct = f"list_sort(list(DISTINCT {values}) FILTER (WHERE {values} IS NOT NULL))"
    return (f"array_to_string(list_slice({distinct}, 1, {limit}), ', ') || "
            f"CASE WHEN len({distinct}) > {limit} THEN ', …' ELSE '' END")


def _burst(events_filter: str, threshold: str, window_minutes: str, source: str = "events",
           hits_region: str = "true", involved_region: str = "true") -> str:
    """Groups of matching events of one user where at least `$threshold` fall within `$window_minutes`.

    Each event counts the matches in the window that ends at it; an event whose count reaches the threshold
    is an anchor, and every match within the window before an anchor is part of the burst. Matches closer
    than the window to each other then form one finding, so a long attack is one row, not one per minute.

    `hits_region` (over `source` as `e`) limits the matches read, `involved_region` (over the `anchored` rows)
    the ones grouped into findings; an update uses them to recompute a stretch of time of a few users.
    """
    window = f"to_minutes(${window_minutes}::BIGINT)"
    return f"""
        WITH hits AS (
            SELECT org_id, {USER_KEY_SQL} AS user_key, occurred_at, ingest_seq, event_id, source_ip,
                   additional_info
            FROM {source} e WHERE {events_filter} AND {USER_KEY_SQL} IS NOT NULL AND {hits_region}
        ),
        counted AS (
            SELECT *, count(*) OVER (PARTITION BY org_id, user_key ORDER BY occurred_at
                                     RANGE BETWEEN {window} PRECEDING AND CURRENT ROW) AS in_window
            FROM hits
        ),
        anchored AS (
            SELECT *, min(CASE WHEN in_window >= ${threshold} THEN occurred_at END) OVER (
                          PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq
                          ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS next_anchor_at
            FROM counted
        ),
        involved AS (
            SELECT *, lag(occurred_at) OVER (PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq)
                          AS previous_at
            FROM anchored WHERE occurred_at >= next_anchor_at - {window} AND {involved_region}
        )
        SELECT *, sum(CASE WHEN previous_at IS NULL OR occurred_at - previous_at > {window} THEN 1 ELSE 0 END)
                      OVER (PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq) AS burst_no
        FROM involved
    """


def _finding(rule: str, severity: str, reason: str, source: str, group_by: str) -> str:
    """The common output columns over `source`; `severity` and `reason` are SQL over its rows."""
    return f"""
        SELECT org_id, '{rule}' AS rule, {severity} AS severity, user_key AS "user",
               min(occurred_at) AS first_at, max(occurred_at) AS last_at, count(*) AS event_count,
               list(event_id ORDER BY occurred_at, ingest_seq) AS event_ids,
               {reason} AS reason
        FROM ({source}) GROUP BY {group_by}
    """


FAILED_LOGIN = (
    "log_type = 'Authentication' AND action IN ('Login', 'Login Failed') AND outcome = 'failure'"
)


def failed_login_burst_sql(source: str = "events", hits_region: str = "true", involved_region: str = "true") -> str:
    return _finding(
        rules.FAILED_LOGIN_BURST, f"'{rules.HIGH}'",
        "printf('%d failed logins for %s within %s from %s; the rule fires at %d or more within %d minutes', "
        f"count(*), user_key, {_span('min(occurred_at)', 'max(occurred_at)')}, "
        f"coalesce(nullif({_listed('source_ip')}, ''), 'an unknown address'), "
        "$failed_login_threshold, $failed_login_window_minutes)",
        _burst(FAILED_LOGIN, "failed_login_threshold", "failed_login_window_minutes", source, hits_region,
               involved_region),
        "org_id, user_key, burst_no",
    )


SUCCESSFUL_LOGIN = (
    f"log_type = 'Authentication' AND action = 'Login' AND outcome = 'success' AND source_ip IS NOT NULL "
    f"AND {USER_KEY_SQL} IS NOT NULL"
)


def login_from_new_ip_sql(source: str) -> str:
    """Findings over `source`: rows of one login each with `prior_logins` and `known_ips` (both counted
    before it), `nth_from_ip`, and the usual columns."""
    return _finding(
        rules.LOGIN_FROM_NEW_IP, f"'{rules.MEDIUM}'",
        "printf('%s logged in from %s for the first time, after %d successful logins from %d other "
        "address(es)', any_value(user_key), any_value(source_ip), any_value(prior_logins), any_value(known_ips))",
        source, "org_id, user_key, event_id",
    )


LOGIN_FROM_NEW_IP_SQL = login_from_new_ip_sql(f"""
        WITH logins AS (
            SELECT org_id, {USER_KEY_SQL} AS user_key, occurred_at, ingest_seq, event_id, source_ip
            FROM events WHERE {SUCCESSFUL_LOGIN}
        ),
        numbered AS (
            SELECT *,
                   row_number() OVER (PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq) - 1
                       AS prior_logins,
                   row_number() OVER (PARTITION BY org_id, user_key, source_ip
                                      ORDER BY occurred_at, ingest_seq) AS nth_from_ip
            FROM logins
        ),
        known AS (
            SELECT *, coalesce(sum(CASE WHEN nth_from_ip = 1 THEN 1 ELSE 0 END) OVER (
                          PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS known_ips
            FROM numbered
        )
        SELECT * FROM known WHERE nth_from_ip = 1 AND prior_logins >= $new_ip_min_prior_logins
""")

_OLD_ROLE = info_text("old_role")
_TARGET = info_text("target_user")
def role_raised_to_admin_sql(source: str = "events") -> str:
    return _finding(
        rules.ROLE_RAISED_TO_ADMIN,
        f"CASE WHEN any_value(self_raise) THEN '{rules.CRITICAL}' ELSE '{rules.HIGH}' END",
        "CASE WHEN any_value(self_raise) "
        "THEN printf('%s raised their own role from %s to %s', any_value(user_key), any_value(old_role), "
        "any_value(new_role)) "
        "ELSE printf('%s changed the role of %s from %s to %s', any_value(user_key), any_value(target), "
        "any_value(old_role), any_value(new_role)) END",
        f"""
        SELECT org_id, {USER_KEY_SQL} AS user_key, occurred_at, ingest_seq, event_id,
               {new_role_sql()} AS new_role, coalesce({_OLD_ROLE}, 'an unknown role') AS old_role,
               coalesce({_TARGET}, 'a user') AS target,
               lower(coalesce({_TARGET}, '')) = coalesce({USER_KEY_SQL}, '') AS self_raise
        FROM {source}
        WHERE action = 'Role Changed' AND outcome = 'success'
          AND {new_role_sql()} ILIKE $admin_role_pattern
          AND coalesce({_OLD_ROLE}, '') NOT ILIKE $admin_role_pattern
        """,
        "org_id, user_key, event_id",
    )


OFF_HOURS_SHIFT_DAY_SQL = "CAST(timezone('UTC', {at}) - to_hours($workday_start_hour::BIGINT) AS DATE)"
"""The working day (06:00 to 06:00 UTC) a time belongs to: off-hours actions are grouped by it."""
OFF_HOURS_ADMIN = (
    f"log_type IN {sql_list(rules.ADMIN_LOG_TYPES)} AND {USER_KEY_SQL} IS NOT NULL "
    f"AND ({UTC_HOUR_SQL} < $workday_start_hour OR {UTC_HOUR_SQL} >= $workday_end_hour "
    f"OR {UTC_ISO_WEEKDAY_SQL} IN {tuple(rules.WEEKEND_ISO_DAYS)})"
)


def off_hours_admin_action_sql(source: str = "events", group_filter: str = "true") -> str:
    """Findings over `source`; `group_filter` (over org_id, user_key, shift_day) limits the groups."""
    return _finding(
        rules.OFF_HOURS_ADMIN_ACTION, f"'{rules.MEDIUM}'",
        "printf('%d administrative action(s) (%s) by %s between %s and %s UTC on %s, "
        "outside working hours (Monday to Friday, %02d:00 to %02d:00 UTC)', count(*), "
        f"{_listed('action', 5)}, user_key, strftime(timezone('UTC', min(occurred_at)), '%H:%M'), "
        "strftime(timezone('UTC', max(occurred_at)), '%H:%M'), "
        "strftime(timezone('UTC', min(occurred_at)), '%A %Y-%m-%d'), $workday_start_hour, $workday_end_hour)",
        f"""
        SELECT * FROM (
            SELECT org_id, {USER_KEY_SQL} AS user_key, occurred_at, ingest_seq, event_id, action,
                   {OFF_HOURS_SHIFT_DAY_SQL.format(at="occurred_at")} AS shift_day
            FROM {source} WHERE {OFF_HOURS_ADMIN}
        ) WHERE {group_filter}
        """,
        "org_id, user_key, shift_day",
    )


_EXPORT_DISABLED = (
    "lower(coalesce(json_extract_string(additional_info, '$.enabled'), '')) IN ('false', '0', 'no')"
)


def audit_export_changed_sql(source: str = "events") -> str:
    return _finding(
        rules.AUDIT_EXPORT_CHANGED,
        f"CASE WHEN any_value(disabled) THEN '{rules.HIGH}' ELSE '{rules.LOW}' END",
        "CASE WHEN any_value(disabled) THEN printf('%s switched the audit log export off', any_value(user_key)) "
        "ELSE printf('%s changed the audit log export configuration (%s)', any_value(user_key), "
        "coalesce(nullif(any_value(details), ''), 'no details given')) END",
        f"""
        SELECT org_id, coalesce({USER_KEY_SQL}, 'System') AS user_key, occurred_at, ingest_seq, event_id,
               {_EXPORT_DISABLED} AS disabled,
               concat_ws(', ', 'bucket ' || {info_text('s3_bucket')}, 'region ' || {info_text('s3_region')},
                         'every ' || {info_text('frequency_hours')} || ' h') AS details
        FROM {source} WHERE action = '{rules.AUDIT_EXPORT_CONFIGURED_ACTION}'
        """,
        "org_id, user_key, event_id",
    )


USER_REMOVAL = f"action = '{rules.USER_REMOVED_ACTION}' AND outcome = 'success'"


def mass_user_removal_sql(source: str = "events", hits_region: str = "true", involved_region: str = "true") -> str:
    return _finding(
        rules.MASS_USER_REMOVAL, f"'{rules.HIGH}'",
        "printf('%s removed %d users within %s (%s); the rule fires at %d or more within %d minutes', "
        f"user_key, count(*), {_span('min(occurred_at)', 'max(occurred_at)')}, "
        f"coalesce(nullif({_listed(info_text('target_user'))}, ''), 'targets not recorded'), "
        "$mass_removal_threshold, $mass_removal_window_minutes)",
        _burst(USER_REMOVAL, "mass_removal_threshold", "mass_removal_window_minutes", source, hits_region,
               involved_region),
        "org_id, user_key, burst_no",
    )


RULE_QUERIES = {
    rules.FAILED_LOGIN_BURST: failed_login_burst_sql(),
    rules.LOGIN_FROM_NEW_IP: LOGIN_FROM_NEW_IP_SQL,
    rules.ROLE_RAISED_TO_ADMIN: role_raised_to_admin_sql(),
    rules.OFF_HOURS_ADMIN_ACTION: off_hours_admin_action_sql(),
    rules.AUDIT_EXPORT_CHANGED: audit_export_changed_sql(),
    rules.MASS_USER_REMOVAL: mass_user_removal_sql(),
}
FINDING_COLUMNS_SQL = (
    'org_id, rule, severity, "user", first_at, last_at, event_count, event_ids::VARCHAR[] AS event_ids, reason'
)


SUSPICIOUS_ACTIVITY_SQL = f"""
CREATE OR REPLACE TABLE {SUSPICIOUS_ACTIVITY} AS
SELECT {FINDING_COLUMNS_SQL}
FROM ({" UNION ALL ".join(f"({sql})" for sql in RULE_QUERIES.values())})
ORDER BY list_position({list(rules.SEVERITIES)}, severity), last_at DESC, org_id, rule
"""


def execute(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run `sql` with the thresholds it names as parameters."""
    connection.execute(sql, {name: value for name, value in rule_parameters().items() if f"${name}" in sql})


def rule_parameters() -> dict[str, object]:
    """The thresholds, by the parameter names the rule queries use."""
    return {
        "failed_login_threshold": rules.FAILED_LOGIN_BURST_THRESHOLD,
        "failed_login_window_minutes": int(rules.FAILED_LOGIN_BURST_WINDOW.total_seconds() // 60),
        "new_ip_min_prior_logins": rules.NEW_IP_MIN_PRIOR_LOGINS,
        "admin_role_pattern": rules.ADMIN_ROLE_PATTERN,
        "workday_start_hour": rules.WORKDAY_START_HOUR,
        "workday_end_hour": rules.WORKDAY_END_HOUR,
        "mass_removal_threshold": rules.MASS_USER_REMOVAL_THRESHOLD,
        "mass_removal_window_minutes": int(rules.MASS_USER_REMOVAL_WINDOW.total_seconds() // 60),
    }


