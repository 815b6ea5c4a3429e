"""Investigation views derived from the events table: thin assets around `audit_pipeline.derived`."""

from typing import Any

import dagster as dg

from audit_pipeline.assets.groups import DUCKDB_POOL, INVESTIGATION
from audit_pipeline.derived.audit_log import build_audit_log
from audit_pipeline.derived.logins import build_login_activity
from audit_pipeline.derived.report import DerivedReport, Preview
from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.derived.scans import build_scan_activity
from audit_pipeline.derived.search_index import search_index_rows
from audit_pipeline.derived.summary import build_audit_summary
from audit_pipeline.derived.suspicious import build_suspicious_activity, serious_findings
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.reports import markdown_table

NO_SERIOUS_FINDINGS = "no_critical_or_high_findings"


def _markdown(preview: Preview) -> dg.MetadataValue[Any]:
    return dg.MetadataValue.md(markdown_table(preview.headers, preview.rows))


def _metadata(report: DerivedReport) -> dict[str, dg.MetadataValue[Any]]:
    return {
        "dagster/table_name": dg.MetadataValue.text(report.name),
        "dagster/row_count": dg.MetadataValue.int(report.rows),
        "total_events": dg.MetadataValue.int(report.total_events),
        "preview": _markdown(report.preview),
        **{title: _markdown(extra) for title, extra in report.extra_previews.items()},
    }


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_log(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The audit log as an investigator reads it: user, action, additional info, log type, date (a view)."""
    report = store.write(build_audit_log)
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_summary(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Per org: the total and the counts by action, user, log type, outcome and day."""
    report = store.write(build_audit_summary)
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_daily_rollup(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Events per org, UTC day, action, log type and user: the totals and filter counts of the audit-log list.

    Also keeps the free-text index beside it (distinct details and infos per org, and their daily counts).
    """
    update, index_rows = store.write(lambda connection: (update_daily_rollup(connection),
                                                          search_index_rows(connection)))
    return dg.MaterializeResult(metadata={
        **{f"{table}_rows": dg.MetadataValue.int(rows) for table, rows in index_rows.items()},
        **_metadata(update.report),
        "update": dg.MetadataValue.text(update.mode),
        "new_events": dg.MetadataValue.int(update.new_events),
        "last_ingest_seq": dg.MetadataValue.int(update.coverage.last_ingest_seq),
        "compression_ratio": dg.MetadataValue.float(round(update.events_per_row, 2)),
    })


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def login_activity(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Logins, failed logins, MFA and source IPs per org, user and day."""
    report = store.write(build_login_activity)
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def scan_activity(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Each scan from trigger to completion or failure, with its duration; plus scans per org and day."""
    report = store.write(build_scan_activity)
    return dg.MaterializeResult(metadata=_metadata(report))


@dg.asset(
    group_name=INVESTIGATION,
    kinds={"duckdb"},
    pool=DUCKDB_POOL,
    deps=["audit_events"],
    check_specs=[dg.AssetCheckSpec(
        NO_SERIOUS_FINDINGS, asset="suspicious_activity",
        description="No critical or high finding (WARN: read the suspicious_activity table).",
    )],
)
def suspicious_activity(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Findings of the suspicious-activity rules (failed-login bursts, new IPs, admin grants...)."""
    report, serious = store.write(lambda connection: (build_suspicious_activity(connection),
                                                       serious_findings(connection)))
    return dg.MaterializeResult(
        metadata=_metadata(report),
        check_results=[dg.AssetCheckResult(
            check_name=NO_SERIOUS_FINDINGS, passed=serious == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"critical_or_high_findings": dg.MetadataValue.int(serious)},
        )],
    )


defs = dg.Definitions(
    assets=[audit_log, audit_summary, audit_daily_rollup, login_activity, scan_activity, suspicious_activity]
)
