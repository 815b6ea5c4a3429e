"""Alerts on export runs: one message per failure streak of a config, one when it recovers.

Both sensors watch the export job; the streak's announced state lives in the store so a restart of the
daemon, or a failed send, neither repeats nor loses a message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export_job
from audit_pipeline.export import alert_state
from audit_pipeline.export.alerts import channels_from_env, on_failure, on_success
from audit_pipeline.export.notify import send
from audit_pipeline.export.run_history import failure_streak, run_error
from audit_pipeline.resources.store import AuditStore

INTERVAL_SECONDS = 15
PARTITION_TAG = "dagster/partition"


def _export_name(run: dg.DagsterRun) -> str | None:
    return run.tags.get(EXPORT_CONFIG_TAG) or run.tags.get(PARTITION_TAG)


@dg.run_failure_sensor(
    name="export_failure_alert_sensor",
    monitored_jobs=[audit_log_export_job],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Announces the first failed export run of a streak on the configured webhook / Slack.",
)
def export_failure_alert_sensor(context: dg.RunFailureSensorContext, store: AuditStore) -> dg.SkipReason | None:
    run = context.dagster_run
    name = _export_name(run)
    channels = channels_from_env()
    if name is None or not channels.any:
        return dg.SkipReason("no export name on the run" if name is None else "no alert channel configured")
    paths = store.paths()
    alert = on_failure(
        announced=alert_state.is_announced(paths, name), export_name=name, run_id=run.run_id,
        error=run_error(context.instance, run.run_id),
        consecutive_failures=failure_streak(context.instance, name).consecutive, at=datetime.now(UTC),
    )
    if alert is None:
        return dg.SkipReason(f"export {name}: failure streak already announced")
    used = send(channels, alert)
    alert_state.mark_announced(paths, name, run.run_id)
    context.log.info(f"export {name} failing: announced on {', '.join(used)}")
    return None


@dg.run_status_sensor(
    name="export_recovery_alert_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[audit_log_export_job],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Announces that an export whose failures were announced delivers again.",
)
def export_recovery_alert_sensor(context: dg.RunStatusSensorContext, store: AuditStore) -> dg.SkipReason | None:
    run = context.dagster_run
    name = _export_name(run)
    channels = channels_from_env()
    if name is None or not channels.any:
        return dg.SkipReason("no export name on the run" if name is None else "no alert channel configured")
    paths = store.paths()
    alert = on_success(announced=alert_state.is_announced(paths, name), export_name=name, run_id=run.run_id,
                       at=datetime.now(UTC))
    if alert is None:
        return dg.SkipReason(f"export {name} was not failing")
    used = send(channels, alert)
    alert_state.clear(paths, name)
    context.log.info(f"export {name} recovered: announced on {', '.join(used)}")
    return None


defs = dg.Definitions(sensors=[export_failure_alert_sensor, export_recovery_alert_sensor])
