"""Updating `suspicious_activity` from a batch of new events, rule by rule, to what a rebuild would give.

- `role_raised_to_admin` and `audit_export_changed` make one finding per event: the batch's are added.
- `off_hours_admin_action` groups a user's actions by working day (06:00 to 06:00 UTC): the groups the batch
  touched are recomputed from the two UTC days each one spans.
- `failed_login_burst` and `mass_user_removal` (windows of `w`): a new match can change which matches within
  `w` of it belong to a burst, and so join or split findings within `2w`. Per user, the stretch from `2w`
  before the batch's first match to `2w` after its last, widened to the stored findings overlapping it, is
  recomputed from the matches up to `w` beyond it; findings overlapping that stretch are replaced.
- `login_from_new_ip`: the users with new logins are recomputed from their earliest new login onward, with
  the counts of earlier logins taken from `suspicious_login_ips` (`audit_pipeline.derived.new_ip_history`).
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived import new_ip_history, rules
from audit_pipeline.derived.expressions import USER_KEY_SQL
from audit_pipeline.derived.finding_rules import (
    FAILED_LOGIN,
    FINDING_COLUMNS_SQL,
    OFF_HOURS_ADMIN,
    OFF_HOURS_SHIFT_DAY_SQL,
    SUSPICIOUS_ACTIVITY,
    USER_REMOVAL,
    audit_export_changed_sql,
    execute,
    failed_login_burst_sql,
    login_from_new_ip_sql,
    mass_user_removal_sql,
    off_hours_admin_action_sql,
    role_raised_to_admin_sql,
)
from audit_pipeline.derived.incremental import BATCH, SCOPE, days_between_sql, stage_scope

REGIONS = "suspicious_burst_regions"
OFF_HOURS_GROUPS = "suspicious_off_hours_groups"
_STAGED = (REGIONS, OFF_HOURS_GROUPS, new_ip_history.USERS)

# (rule, what a match is, the parameter holding its window in minutes, the rule's query over staged rows)
_BURSTS = (
    (rules.FAILED_LOGIN_BURST, FAILED_LOGIN, "failed_login_window_minutes", failed_login_burst_sql),
    (rules.MASS_USER_REMOVAL, USER_REMOVAL, "mass_removal_window_minutes", mass_user_removal_sql),
)


def _insert(source_sql: str) -> str:
    return f"INSERT INTO {SUSPICIOUS_ACTIVITY} SELECT {FINDING_COLUMNS_SQL} FROM ({source_sql})"


def _delete(rule: str, condition: str) -> str:
    return f"DELETE FROM {SUSPICIOUS_ACTIVITY} f WHERE f.rule = '{rule}' AND {condition}"


def _stage_regions(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(f"""
        CREATE OR REPLACE TEMP TABLE {REGIONS} (rule VARCHAR, org_id VARCHAR, user_key VARCHAR, lo TIMESTAMPTZ,
                                                 hi TIMESTAMPTZ, read_lo TIMESTAMPTZ, read_hi TIMESTAMPTZ)
    """)
    for rule, matches, window_parameter, _ in _BURSTS:
        window = f"to_minutes(${window_parameter}::BIGINT)"
        execute(connection, f"""
            INSERT INTO {REGIONS}
            SELECT rule, org_id, user_key, lo, hi, lo - {window}, hi + {window} FROM (
                SELECT '{rule}' AS rule, b.org_id, b.user_key,
                       least(b.lo, coalesce(min(f.first_at), b.lo)) AS lo,
                       greatest(b.hi, coalesce(max(f.last_at), b.hi)) AS hi
                FROM (SELECT org_id, {USER_KEY_SQL} AS user_key, min(occurred_at) - 2 * {window} AS lo,
                             max(occurred_at) + 2 * {window} AS hi
                      FROM {BATCH} WHERE {matches} AND {USER_KEY_SQL} IS NOT NULL GROUP BY ALL) b
                LEFT JOIN {SUSPICIOUS_ACTIVITY} f
                       ON f.rule = '{rule}' AND f.org_id = b.org_id AND f."user" = b.user_key
                          AND f.first_at <= b.hi AND f.last_at >= b.lo
                GROUP BY b.org_id, b.user_key, b.lo, b.hi)
        """)


def _burst_statements() -> list[str]:
    statements = []
    for rule, _, _, query in _BURSTS:
        region = f"SELECT 1 FROM {REGIONS} r WHERE r.rule = '{rule}'"
        hits = f"EXISTS ({region} AND r.org_id = e.org_id AND r.user_key = {USER_KEY_SQL} " \
               "AND e.occurred_at BETWEEN r.read_lo AND r.read_hi)"
        involved = f"EXISTS ({region} AND r.org_id = anchored.org_id AND r.user_key = anchored.user_key " \
                   "AND anchored.occurred_at BETWEEN r.lo AND r.hi)"
        statements.append(_delete(rule, f'EXISTS ({region} AND r.org_id = f.org_id AND r.user_key = f."user" '
                                        "AND f.first_at <= r.hi AND f.last_at >= r.lo)"))
        statements.append(_insert(query(SCOPE, hits, involved)))
    return statements


def _stage_off_hours(connection: duckdb.DuckDBPyConnection) -> None:
    execute(connection, f"""
        CREATE OR REPLACE TEMP TABLE {OFF_HOURS_GROUPS} AS
        SELECT DISTINCT org_id, {USER_KEY_SQL} AS user_key,
               {OFF_HOURS_SHIFT_DAY_SQL.format(at='occurred_at')} AS shift_day
        FROM {BATCH} WHERE {OFF_HOURS_ADMIN}
    """)


def _off_hours_statements() -> list[str]:
    groups = f"SELECT (org_id, user_key, shift_day) FROM {OFF_HOURS_GROUPS}"
    first_shift_day = OFF_HOURS_SHIFT_DAY_SQL.format(at="f.first_at")
    return [
        _delete(rules.OFF_HOURS_ADMIN_ACTION, f'(f.org_id, f."user", {first_shift_day}) IN ({groups})'),
        _insert(off_hours_admin_action_sql(SCOPE, f"(org_id, user_key, shift_day) IN ({groups})")),
    ]


SCOPE_DAYS_SQL = f"""
SELECT org_id, shift_day AS day FROM {OFF_HOURS_GROUPS}
UNION SELECT org_id, shift_day + 1 AS day FROM {OFF_HOURS_GROUPS}
UNION {days_between_sql(REGIONS, 'read_lo', 'read_hi')}
UNION {days_between_sql(f"({new_ip_history.SCOPE_DAYS_SQL})", 'first_at', 'last_at')}
"""


def apply_batch(connection: duckdb.DuckDBPyConnection) -> int:
    """Update the findings (and the login history) from the staged batch; returns the partitions read."""
    _stage_regions(connection)
    _stage_off_hours(connection)
    connection.execute(new_ip_history.stage_users_sql(BATCH))
    partitions = stage_scope(connection, SCOPE_DAYS_SQL)
    for statement in new_ip_history.merge_statements(BATCH):
        connection.execute(statement)
    statements = [
        _insert(role_raised_to_admin_sql(BATCH)),
        _insert(audit_export_changed_sql(BATCH)),
        *_off_hours_statements(),
        *_burst_statements(),
        _delete(rules.LOGIN_FROM_NEW_IP, new_ip_history.DELETE_FINDINGS_CONDITION),
        _insert(login_from_new_ip_sql(new_ip_history.recent_logins_sql(SCOPE))),
    ]
    for statement in statements:
        execute(connection, statement)
    for table in _STAGED:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    return partitions
