"""Asset checks of the export: what each run delivered, and each config's health.

After every export run: the objects are in the bucket as planned (HEAD through the role), the window
continues the previous one, the files hold exactly the window's events. Per config, `export_health_<name>`
WARNs once an export is missed (lag > frequency + 15 min, or a failed run) and is an ERROR after two; it
runs with every export run and every 15 minutes (export_health_checks_sensor).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export
from audit_pipeline.export.aws import AwsOptions
from audit_pipeline.export.bucket_objects import BucketReader
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.config_store import find_config
from audit_pipeline.export.delivery_checks import (
    CheckOutcome,
    events_match_window,
    objects_as_planned,
    window_continues,
)
from audit_pipeline.export.delivery_status import DeliveredExport, delivered_exports
from audit_pipeline.export.health import health_of, health_verdict
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.configs_at_load import configs_at_load
from audit_pipeline.settings import paths_from_env

HEALTH_JOB = "export_health_checks_job"
HEALTH_INTERVAL_SECONDS = 15 * 60
PARTITION_TAG = "dagster/partition"


def _result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed, description=outcome.description,
        metadata={key: dg.MetadataValue.json(value) if isinstance(value, list) else value  # type: ignore[misc]
                  for key, value in outcome.metadata.items()},
        severity=dg.AssetCheckSeverity.ERROR if outcome.severe else dg.AssetCheckSeverity.WARN,
    )


def _delivered(
    context: dg.AssetCheckExecutionContext, store: AuditStore
) -> tuple[ExportConfig, DeliveredExport, DeliveredExport | None] | dg.AssetCheckResult:
    # A check run on its own (no partition) names the export with the config tag.
    name = context.run.tags.get(PARTITION_TAG) or context.run.tags.get(EXPORT_CONFIG_TAG)
    config = find_config(store.paths(), name) if name else None
    if config is None:
        return dg.AssetCheckResult(passed=True, description="no configured export in this run: nothing to check")
    export, previous = delivered_exports(store.paths(), config.config_id, config.org_id,
                                         run_id=context.run.run_id)
    if export is None:
        return dg.AssetCheckResult(passed=True, description=f"export {name} delivered nothing yet")
    return config, export, previous


@dg.asset_check(asset=audit_log_export, name="objects_as_planned",
                description="Every object of the delivered plan is in the bucket with its size and SHA-256.")
def objects_as_planned_check(
    context: dg.AssetCheckExecutionContext, store: AuditStore, s3_export: S3ExportResource
) -> dg.AssetCheckResult:
    found = _delivered(context, store)
    if isinstance(found, dg.AssetCheckResult):
        return found
    config, export, _ = found
    reader = BucketReader(config, AwsOptions(session_seconds=s3_export.session_seconds,
                                             endpoint_url=s3_export.endpoint_url or None))
    return _result(objects_as_planned(export, reader.stored))


@dg.asset_check(asset=audit_log_export, name="window_continues",
                description="The export's window starts where the previous export's ended.")
def window_continues_check(context: dg.AssetCheckExecutionContext, store: AuditStore) -> dg.AssetCheckResult:
    found = _delivered(context, store)
    if isinstance(found, dg.AssetCheckResult):
        return found
    return _result(window_continues(found[1], found[2]))


@dg.asset_check(asset=audit_log_export, name="events_match_window",
                description="The files hold exactly the store's events of the window.")
def events_match_window_check(context: dg.AssetCheckExecutionContext, store: AuditStore) -> dg.AssetCheckResult:
    found = _delivered(context, store)
    if isinstance(found, dg.AssetCheckResult):
        return found
    return _result(events_match_window(found[1]))


def health_check_name(export_name: str) -> str:
    return "export_health_" + export_name.replace("-", "_")


def export_health_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=audit_log_export, name=health_check_name(name),
                    description=f"Export {name}: WARN when an export was missed, ERROR after two.")
    def _health(context: dg.AssetCheckExecutionContext, store: AuditStore) -> dg.AssetCheckResult:
        config = find_config(store.paths(), name)
        if config is None:
            return dg.AssetCheckResult(passed=True, description=f"export {name} was removed")
        now = datetime.now(UTC)
        health = health_of(store.paths(), [config], now=now, instance=context.instance)[name]
        verdict = health_verdict(config, health, now)
        return dg.AssetCheckResult(
            passed=verdict.severity is None, description=verdict.description,
            severity=dg.AssetCheckSeverity.ERROR if verdict.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
            metadata={key: value for key, value in health.as_dict().items()  # type: ignore[misc]
                      if value is not None},
        )

    return _health


def health_definitions(configs: Sequence[ExportConfig]) -> dg.Definitions:
    checks = [export_health_check(config.name) for config in configs]
    if not checks:
        return dg.Definitions()
    job = dg.define_asset_job(HEALTH_JOB, selection=dg.AssetSelection.checks(*checks),
                              description="Evaluate every export's health check.")

    @dg.sensor(name="export_health_checks_sensor", job=job, minimum_interval_seconds=HEALTH_INTERVAL_SECONDS,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Evaluates every export's health check every 15 minutes.")
    def export_health_checks_sensor() -> dg.RunRequest:
        return dg.RunRequest()

    return dg.Definitions(asset_checks=checks, jobs=[job], sensors=[export_health_checks_sensor])


defs = dg.Definitions.merge(
    dg.Definitions(asset_checks=[objects_as_planned_check, window_continues_check, events_match_window_check]),
    health_definitions(configs_at_load(paths_from_env())),
)
