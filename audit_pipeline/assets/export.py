"""The export of each org's events to the customer's S3 bucket: one partition per export configuration."""

from datetime import datetime, timedelta
from typing import Any

import dagster as dg

from audit_pipeline.assets.groups import EXPORT
from audit_pipeline.export.config import MAX_FREQUENCY_HOURS, ExportConfig
from audit_pipeline.export.config_store import find_config
from audit_pipeline.export.errors import ExportDeliveryError
from audit_pipeline.export.locking import ExportAlreadyRunningError
from audit_pipeline.export.runner import ExportResult, run_export, system_events
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.database import DatabaseBusyError
from audit_pipeline.storage.reports import markdown_table

EXPORT_CONFIGS_PARTITIONS = "export_configs"
EXPORT_JOB = "audit_log_export_job"
EXPORT_CONFIG_TAG = "audit_pipeline/export_config"
TRIGGER_TAG = "audit_pipeline/trigger"

export_configs_partitions = dg.DynamicPartitionsDefinition(name=EXPORT_CONFIGS_PARTITIONS)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def export_metadata_json(config: ExportConfig) -> dg.JsonMetadataValue:
    return dg.MetadataValue.json({
        "name": config.name, "org_id": config.org_id, "bucket": config.bucket, "region": config.region,
        "prefix": config.prefix, "frequency_hours": config.frequency_hours, "role_arn": config.role_arn,
        "gzip": config.gzip,
    })


def export_metadata(result: ExportResult) -> dict[str, Any]:
    config, plan = result.config, result.plan
    return {
        "config": export_metadata_json(config),
        "export_number": plan.export_number,
        "window_from_seq": plan.from_seq,
        "window_to_seq": plan.to_seq,
        "previous_cutoff": _iso(plan.previous_cutoff_at),
        "cutoff": _iso(plan.cutoff_at),
        "events_exported": dg.MetadataValue.int(plan.events),
        "system_events": dg.MetadataValue.int(system_events(plan)),
        "retry_of_planned_export": plan.resumed,
        "object_keys": dg.MetadataValue.json(result.object_keys),
        "objects": dg.MetadataValue.json([
            {"key": o.key, "bytes": o.bytes, "sha256": o.sha256, "events": o.events} for o in result.objects
        ]),
        "objects_table": dg.MetadataValue.md(markdown_table(
            ("key", "bytes", "sha256", "events"),
            [(o.key, o.bytes, o.sha256, o.events) for o in result.objects],
        )),
        "bytes": sum(o.bytes for o in result.objects),
        "digest_key": result.digest.key if result.digest else "",
        "chain_head": result.digest.sha256 if result.digest else "",  # what the next digest chains to
    }


# Dagster evaluates freshness per asset, not per partition: this says some export delivered within the
# longest frequency; each config's own lag is its `export_health_<name>` check.
EXPORT_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=timedelta(hours=MAX_FREQUENCY_HOURS, minutes=15),
    fail_window=timedelta(hours=2 * MAX_FREQUENCY_HOURS, minutes=15),
)


@dg.asset(
    partitions_def=export_configs_partitions,
    group_name=EXPORT,
    kinds={"s3", "duckdb"},
    deps=[dg.AssetKey("audit_events")],
    freshness_policy=EXPORT_FRESHNESS,
)
def audit_log_export(
    context: dg.AssetExecutionContext, store: AuditStore, s3_export: S3ExportResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """The org's events ingested since the previous export, delivered exactly once as JSON to its bucket.

    A failed run marks nothing delivered: the next run writes the same window to the same keys.
    """
    paths = store.paths()
    name = context.partition_key
    config = find_config(paths, name)
    if config is None:
        raise dg.Failure(description=f"export {name!r} is not configured (removed?): nothing was exported")
    try:
        result = run_export(paths, config, s3_export.destination(config), run_id=context.run.run_id,
                            part_bytes=s3_export.resolved_part_bytes())
    except ExportDeliveryError as error:
        raise dg.Failure(
            description=f"export {name!r} failed at step {error.step}: {error}. Nothing was marked "
            "delivered; the next run writes the same window to the same keys.",
            metadata={"step": error.step},
        ) from error
    except (ExportAlreadyRunningError, DatabaseBusyError) as error:
        raise dg.Failure(description=f"export {name!r} did not run: {error}") from error
    context.log.info(
        f"export {name} #{result.plan.export_number}: {result.plan.events} events in "
        f"{len(result.objects)} object(s) to s3://{config.bucket}"
    )
    return dg.MaterializeResult(metadata=export_metadata(result))


audit_log_export_job = dg.define_asset_job(
    EXPORT_JOB,
    selection=[audit_log_export],
    partitions_def=export_configs_partitions,
    description="Export one configuration's pending events to its S3 bucket (partition = export name).",
)

defs = dg.Definitions(
    assets=[audit_log_export],
    jobs=[audit_log_export_job],
)
