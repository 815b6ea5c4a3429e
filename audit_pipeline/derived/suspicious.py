"""`suspicious_activity`: one row per finding of the rules in `audit_pipeline.derived.rules`.

Columns: `(org_id, rule, severity, user, first_at, last_at, event_count, event_ids, reason)`; `user` is the
person who acted (email when known, else user id or name), `event_ids` lists the events behind the finding in
time order, and `reason` says in one sentence why the rule fired. The rules' SQL is in
`audit_pipeline.derived.finding_rules`; an update from new events is `audit_pipeline.derived.suspicious_update`.
"""

from __future__ import annotations

import duckdb

from audit_pipeline.derived import new_ip_history, rules
from audit_pipeline.derived.finding_rules import SUSPICIOUS_ACTIVITY, SUSPICIOUS_ACTIVITY_SQL, execute
from audit_pipeline.derived.incremental import ViewUpdate, rebuild_view, update_view
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, report, scalar
from audit_pipeline.derived.suspicious_update import apply_batch

SUSPICIOUS_TABLES = (SUSPICIOUS_ACTIVITY, new_ip_history.LOGIN_IPS)

PREVIEW_SQL = f"""
SELECT org_id, rule, severity, "user", last_at, event_count, reason
FROM {SUSPICIOUS_ACTIVITY}
ORDER BY list_position({list(rules.SEVERITIES)}, severity), last_at DESC, org_id, rule, "user" LIMIT {PREVIEW_ROWS}
"""

BY_RULE_SQL = f"""
SELECT rule, severity, count(*) AS findings, sum(event_count) AS events
FROM {SUSPICIOUS_ACTIVITY} GROUP BY rule, severity
ORDER BY list_position({list(rules.SEVERITIES)}, severity), rule
"""


def _rebuild(connection: duckdb.DuckDBPyConnection) -> None:
    execute(connection, SUSPICIOUS_ACTIVITY_SQL)
    connection.execute(new_ip_history.rebuild_sql())


def _report(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    return report(connection, SUSPICIOUS_ACTIVITY, PREVIEW_SQL, {"findings_by_rule": BY_RULE_SQL})


def build_suspicious_activity(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """Rebuild the findings (and the login history behind `login_from_new_ip`) from every event."""
    rebuild_view(connection, SUSPICIOUS_ACTIVITY, lambda: _rebuild(connection))
    return _report(connection)


def update_suspicious_activity(connection: duckdb.DuckDBPyConnection) -> ViewUpdate:
    """Update the findings from the new events (see `suspicious_update`); build in full when never built."""
    return update_view(connection, SUSPICIOUS_ACTIVITY, SUSPICIOUS_TABLES, rebuild=lambda: _rebuild(connection),
                       apply=lambda batch: apply_batch(connection), finish=lambda: _report(connection))


def serious_findings(connection: duckdb.DuckDBPyConnection) -> int:
    """How many findings are critical or high: the ones someone should look at today."""
    return scalar(connection, f"SELECT count(*) FROM {SUSPICIOUS_ACTIVITY} WHERE severity IN (?, ?)",
                  [rules.CRITICAL, rules.HIGH])
