"""Keeps the export asset's partitions (one per config name) in step with the config store.

A config saved from the page, or a store edited by hand, gets its partition here the Dagster way (a
sensor result's partition requests); a removed config's partition goes away. The CLI adds the partition
itself too, since `export run` needs it at once.
"""

from __future__ import annotations

import dagster as dg

from audit_pipeline.assets.export import export_configs_partitions
from audit_pipeline.export.config_store import list_configs
from audit_pipeline.resources.store import AuditStore

SYNC_INTERVAL_SECONDS = 60


@dg.sensor(
    name="export_partitions_sensor",
    minimum_interval_seconds=SYNC_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition of audit_log_export for each configured export and drops removed ones.",
)
def export_partitions_sensor(
    context: dg.SensorEvaluationContext, store: AuditStore
) -> dg.SensorResult | dg.SkipReason:
    configured = {config.name for config in list_configs(store.paths())}
    known = set(context.instance.get_dynamic_partitions(export_configs_partitions.name or ""))
    added, removed = sorted(configured - known), sorted(known - configured)
    if not added and not removed:
        return dg.SkipReason(f"{len(known)} export partition(s), all configured")
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if added:
        requests.append(export_configs_partitions.build_add_request(added))
    if removed:
        requests.append(export_configs_partitions.build_delete_request(removed))
    return dg.SensorResult(dynamic_partitions_requests=requests)


defs = dg.Definitions(sensors=[export_partitions_sensor])
