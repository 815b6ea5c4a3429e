"""One schedule per export configuration, built from the config store when Dagster loads the code.

Each schedule ticks every full UTC hour and asks for a run only on the config's run times (first at
`first_export_at`, then every `frequency_hours`). It re-reads its config at every tick, so `export disable`,
`enable` and frequency edits apply even before a reload; `export configure` and `remove` ask a running
webserver to reload the code location (audit_pipeline.dagster_reload), which builds the schedules afresh.
Reading the store can never fail the code location: it then loads without export schedules.
"""

import dagster as dg

from audit_pipeline.assets.export import (
    EXPORT_CONFIG_TAG,
    EXPORT_CONFIGS_PARTITIONS,
    TRIGGER_TAG,
    audit_log_export_job,
)
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.config_store import find_config
from audit_pipeline.export.timing import is_export_due, next_export_at
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.configs_at_load import configs_at_load
from audit_pipeline.settings import Paths, paths_from_env

HOURLY = "0 * * * *"


def schedule_name(export_name: str) -> str:
    """Export names are slugs of letters, digits and hyphens, so this is unique per export."""
    return "export_" + export_name.replace("-", "_")


def export_schedule(config: ExportConfig) -> dg.ScheduleDefinition:
    name = config.name

    @dg.schedule(
        name=schedule_name(name),
        cron_schedule=HOURLY,
        execution_timezone="UTC",
        job=audit_log_export_job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Export org {config.org_id} to s3://{config.bucket} every {config.frequency_hours} h "
                    f"(export {name}).",
    )
    def _export_tick(
        context: dg.ScheduleEvaluationContext, store: AuditStore
    ) -> dg.RunRequest | dg.SkipReason:
        tick = context.scheduled_execution_time
        current = find_config(store.paths(), name)
        if current is None:
            return dg.SkipReason(f"export {name} was removed")
        if not current.enabled:
            return dg.SkipReason(f"export {name} is disabled (`audit-pipeline export enable {name}`)")
        if not is_export_due(current.first_export_at, current.frequency_hours, tick):
            upcoming = next_export_at(current.first_export_at, current.frequency_hours, tick)
            return dg.SkipReason(f"not a run time of export {name}; next at {upcoming.isoformat()}")
        if not context.instance.has_dynamic_partition(EXPORT_CONFIGS_PARTITIONS, name):
            # A schedule's result cannot carry partition requests (export_partitions_sensor adds them the
            # Dagster way); adding it here keeps a run time from being lost before the sensor's next tick.
            context.instance.add_dynamic_partitions(EXPORT_CONFIGS_PARTITIONS, [name])
        return dg.RunRequest(
            partition_key=name,
            run_key=f"{name}@{tick.isoformat()}",
            tags={EXPORT_CONFIG_TAG: name, TRIGGER_TAG: "schedule"},
        )

    return _export_tick


def build_export_schedules(paths: Paths) -> list[dg.ScheduleDefinition]:
    """One schedule per stored config; none (and a logged error) when the store cannot be read."""
    return [export_schedule(config) for config in configs_at_load(paths)]


defs = dg.Definitions(schedules=build_export_schedules(paths_from_env()))
