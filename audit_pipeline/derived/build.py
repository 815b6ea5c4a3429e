"""Rebuild every derived table in dependency-free order; used by tests, demos and notebooks' setup."""

from __future__ import annotations

import duckdb

from audit_pipeline.derived.audit_log import build_audit_log
from audit_pipeline.derived.logins import build_login_activity
from audit_pipeline.derived.report import DerivedReport
from audit_pipeline.derived.rollup import build_daily_rollup
from audit_pipeline.derived.scans import build_scan_activity
from audit_pipeline.derived.summary import build_audit_summary
from audit_pipeline.derived.suspicious import build_suspicious_activity

BUILDERS = (build_audit_log, build_audit_summary, build_daily_rollup, build_login_activity, build_scan_activity,
            build_suspicious_activity)


def build_all(connection: duckdb.DuckDBPyConnection) -> list[DerivedReport]:
    """Rebuild all investigation tables and views from `events`."""
    return [build(connection) for build in BUILDERS]
