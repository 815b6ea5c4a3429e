"""`audit_log`: the events as an investigator reads them, with display columns first and raw fields after."""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, USER_KEY_SQL, info_display_sql
from audit_pipeline.derived.report import PREVIEW_ROWS, DerivedReport, preview, report
from audit_pipeline.storage.high_water import newest_ingest_seq

AUDIT_LOG = "audit_log"

AUDIT_LOG_SQL = f"""
CREATE OR REPLACE VIEW {AUDIT_LOG} AS
SELECT org_id, ingest_seq, event_id, occurred_at,
       {USER_DISPLAY_SQL} AS user_display,
       action,
       {info_display_sql()} AS additional_info_display,
       log_type, outcome, source_ip,
       {USER_KEY_SQL} AS user_key,
       user_id, user_email, user_name, user_role, user_agent, additional_info,
       received_at, content_hash, source_file, source_line
FROM events
"""

# The events ingested last: `ingest_seq > ?` reads the newest files only, whatever the history.
PREVIEW_SQL = f"""
SELECT org_id, occurred_at, {USER_DISPLAY_SQL} AS user_display, action,
       {info_display_sql()} AS additional_info_display, log_type, outcome
FROM (SELECT * FROM events WHERE ingest_seq > ? ORDER BY ingest_seq DESC LIMIT {PREVIEW_ROWS})
ORDER BY occurred_at DESC, ingest_seq DESC
"""


def build_audit_log(connection: duckdb.DuckDBPyConnection) -> DerivedReport:
    """(Re)create the `audit_log` view; being a view, it is always as current as `events`."""
    connection.execute(AUDIT_LOG_SQL)
    newest = preview(connection, PREVIEW_SQL, [newest_ingest_seq(connection) - PREVIEW_ROWS])
    return report(connection, AUDIT_LOG, "", preview_rows=newest)
