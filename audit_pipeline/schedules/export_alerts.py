"""Alerts on export runs: one message per failure streak of a config, one when it recovers.

Both sensors watch the export job; the streak's announced state lives in the store so a restart of the
daemon, or a failed send, neither repeats nor loses a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export_job
from audit_pipeline.export import alert_state
from audit_pipeline.export.alerts import Alert, channels_from_env, on_failure, on_success
from audit_pipeline.export.notify import send
from audit_pipeline.export.run_history import failure_streak, run_error
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths

INTERVAL_SECONDS = 15
PARTITION_TAG = "dagster/partition"


def _announce(
    context: dg.RunStatusSensorContext,
    store: AuditStore,
    alert_for: Callable[[str, bool], Alert | None],
    after_sending: Callable[[Paths, str], None],
) -> dg.SkipReason | None:
    """Send the alert the run calls for (if any) on every configured channel, then record the streak."""
    run = context.dagster_run
    name = run.tags.get(EXPORT_CONFIG_TAG) or run.tags.get(PARTITION_TAG)
    channels = channels_from_env()
    if name is None or not channels.any:
        return dg.SkipReason("no export name on the run" if name is None else "no alert channel configured")
    paths = store.paths()
    alert = alert_for(name, alert_state.is_announced(paths, name))
    if alert is None:
        return dg.SkipReason(f"export {name}: nothing new to announce")
    used = send(channels, alert)
    after_sending(paths, name)
    context.log.info(f"export {name}: {alert.kind} announced on {', '.join(used)}")
    return None


@dg.run_failure_sensor(
    name="export_failure_alert_sensor",
    monitored_jobs=[audit_log_export_job],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Announces the first failed export run of a streak on the configured webhook / Slack.",
)
def export_failure_alert_sensor(context: dg.RunFailureSensorContext, store: AuditStore) -> dg.SkipReason | None:
    run_id = context.dagster_run.run_id
    return _announce(
        context, store,
        lambda name, announced: on_failure(
            announced=announced, export_name=name, run_id=run_id, error=run_error(context.instance, run_id),
            consecutive_failures=failure_streak(context.instance, name).consecutive, at=datetime.now(UTC)),
        lambda paths, name: alert_state.mark_announced(paths, name, run_id),
    )


@dg.run_status_sensor(
    name="export_recovery_alert_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[audit_log_export_job],
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Announces that an export whose failures were announced delivers again.",
)
def export_recovery_alert_sensor(context: dg.RunStatusSensorContext, store: AuditStore) -> dg.SkipReason | None:
    run_id = context.dagster_run.run_id
    return _announce(
        context, store,
        lambda name, announced: on_success(announced=announced, export_name=name, run_id=run_id,
                                           at=datetime.now(UTC)),
        alert_state.clear,
    )


defs = dg.Definitions(sensors=[export_failure_alert_sensor, export_recovery_alert_sensor])
