"""Investigation views derived from the events table: thin assets around `audit_pipeline.derived`.

Each table is updated from the events the run's ingestion added (`update: incremental`), or built from every
event when it was never built (`update: rebuilt`); see `audit_pipeline.derived.incremental`.
"""

from typing import Any

import dagster as dg

from audit_pipeline.assets.groups import DUCKDB_POOL, INVESTIGATION
from audit_pipeline.derived.audit_log import build_audit_log
from audit_pipeline.derived.incremental import ViewUpdate
from audit_pipeline.derived.logins import update_login_activity
from audit_pipeline.derived.report import DerivedReport, Preview
from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.derived.scans import update_scan_activity
from audit_pipeline.derived.search_index import search_index_rows
from audit_pipeline.derived.summary import update_audit_summary
from audit_pipeline.derived.suspicious import serious_findings, update_suspicious_activity
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.reports import markdown_table

NO_SERIOUS_FINDINGS = "no_critical_or_high_findings"


class RollupConfig(dg.Config):
    """`compact`: also rebuild the rollup compactly when appended rows have grown (the daily compaction job)."""

    compact: bool = False


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


def _update_metadata(update: ViewUpdate) -> dict[str, dg.MetadataValue[Any]]:
    return {
        **_metadata(update.report),
        "update": dg.MetadataValue.text(update.mode),
        "new_events": dg.MetadataValue.int(update.new_events),
        "partitions_recomputed": dg.MetadataValue.int(update.partitions_recomputed),
    }


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_log(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The audit log as an investigator reads it: user, action, additional info, log type, date (a view)."""
    report = store.write(build_audit_log)
    return dg.MaterializeResult(metadata={
        **_metadata(report),
        "update": dg.MetadataValue.text("incremental"),  # a view over events: nothing to recompute
        "new_events": dg.MetadataValue.int(0),
        "partitions_recomputed": dg.MetadataValue.int(0),
    })


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_summary(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Per org: the total and the counts by action, user, log type, outcome and day."""
    return dg.MaterializeResult(metadata=_update_metadata(store.write(update_audit_summary)))


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def audit_daily_rollup(config: RollupConfig, store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Events per org, UTC day, action, log type and user: the totals and filter counts of the audit-log list.

    Also keeps the free-text index beside it (distinct details and infos per org, and their daily counts).
    The ingest job only appends; the daily compaction job rebuilds it compactly when appends have grown.
    """
    update, index_rows = store.write(lambda connection: (update_daily_rollup(connection, compact=config.compact),
                                                          search_index_rows(connection)))
    return dg.MaterializeResult(metadata={
        **{f"{table}_rows": dg.MetadataValue.int(rows) for table, rows in index_rows.items()},
        **_metadata(update.report),
        "update": dg.MetadataValue.text(update.mode),
        "new_events": dg.MetadataValue.int(update.new_events),
        "partitions_recomputed": dg.MetadataValue.int(0),  # appended from the new events alone
        "last_ingest_seq": dg.MetadataValue.int(update.coverage.last_ingest_seq),
        "compression_ratio": dg.MetadataValue.float(round(update.events_per_row, 2)),
    })


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def login_activity(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Logins, failed logins, MFA and source IPs per org, user and day."""
    return dg.MaterializeResult(metadata=_update_metadata(store.write(update_login_activity)))


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=["audit_events"])
def scan_activity(store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Each scan from trigger to completion or failure, with its duration; plus scans per org and day."""
    return dg.MaterializeResult(metadata=_update_metadata(store.write(update_scan_activity)))


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
    update, serious = store.write(lambda connection: (update_suspicious_activity(connection),
                                                       serious_findings(connection)))
    return dg.MaterializeResult(
        metadata=_update_metadata(update),
        check_results=[dg.AssetCheckResult(
            check_name=NO_SERIOUS_FINDINGS, passed=serious == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"critical_or_high_findings": dg.MetadataValue.int(serious)},
        )],
    )


defs = dg.Definitions(
    assets=[audit_log, audit_summary, audit_daily_rollup, login_activity, scan_activity, suspicious_activity]
)
