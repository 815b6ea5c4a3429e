"""Lake upkeep as an asset, so every maintenance run and its figures are in Dagster's run history."""


from datetime import UTC, datetime
from typing import Any

import dagster as dg

from audit_pipeline.assets.groups import DUCKDB_POOL, MAINTENANCE
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.maintenance import MaintenanceReport, maintain, retention_from_env


def _metadata(report: MaintenanceReport, retention_hours: float) -> dict[str, dg.MetadataValue[Any]]:
    values: dict[str, dg.MetadataValue[Any]] = {
        name: dg.MetadataValue.int(value) for name, value in report.as_dict().items()
        if isinstance(value, int) and name != "oldest_snapshot_kept"
    }
    values["seconds"] = dg.MetadataValue.float(report.seconds)
    values["snapshot_retention_hours"] = dg.MetadataValue.float(retention_hours)
    if report.oldest_snapshot_kept is not None:
        values["oldest_snapshot_kept"] = dg.MetadataValue.int(report.oldest_snapshot_kept)
    return values


# In the duckdb pool: a transaction open across a flush or merge would read too few rows (see storage.maintenance).
@dg.asset(group_name=MAINTENANCE, kinds={"ducklake"}, pool=DUCKDB_POOL)
def lake_maintenance(context: dg.AssetExecutionContext, store: AuditStore) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The lake compacted: inlined rows flushed, small files merged, old snapshots and unused files removed."""
    retention = retention_from_env()
    report = maintain(store.paths(), now=datetime.now(UTC), snapshot_retention=retention)
    context.log.info(
        f"events files {report.events_files_before} -> {report.events_files_after}, "
        f"all files {report.all_files_before} -> {report.all_files_after}, "
        f"{report.snapshots_expired} snapshots expired, {report.files_deleted} files deleted"
    )
    return dg.MaterializeResult(metadata=_metadata(report, retention.total_seconds() / 3600))


defs = dg.Definitions(assets=[lake_maintenance])
