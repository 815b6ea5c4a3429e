"""The export runs of each config in Dagster's run history: how many failed in a row, and why."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.settings import Paths

# Enough runs to see a streak that has gone on for days; a longer one is reported as this many.
HISTORY_LIMIT = 100
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class FailureStreak:
    """The failed (or canceled) export runs since the newest successful one, newest first."""

    consecutive: int = 0
    last_error: str | None = None
    failed_run_ids: tuple[str, ...] = ()
    last_success_run_id: str | None = None


@contextmanager
def _instance(paths: Paths, instance: Any | None) -> Iterator[dg.DagsterInstance]:
    if instance is not None:
        yield instance
        return
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as own:
        yield own


def run_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The failing step and its error, or the run's own failure message when no step failed."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event and event.step_failure_data and event.step_failure_data.error:
            return f"step {event.step_key} failed: {event.step_failure_data.error.message.strip()}"
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
        if record.dagster_event and record.dagster_event.message:
            return f"run failed: {record.dagster_event.message.strip()}"
    return None


def failure_streak(instance: dg.DagsterInstance, name: str) -> FailureStreak:
    records = instance.get_run_records(
        dg.RunsFilter(tags={EXPORT_CONFIG_TAG: name}, statuses=FINISHED),
        limit=HISTORY_LIMIT,
    )
    failed: list[str] = []
    last_success = None
    for record in records:  # newest first
        if record.dagster_run.status == dg.DagsterRunStatus.SUCCESS:
            last_success = record.dagster_run.run_id
            break
        failed.append(record.dagster_run.run_id)
    return FailureStreak(
        consecutive=len(failed),
        last_error=run_error(instance, failed[0]) if failed else None,
        failed_run_ids=tuple(failed),
        last_success_run_id=last_success,
    )


def failure_streaks(
    paths: Paths, names: Sequence[str], *, instance: Any | None = None
) -> dict[str, FailureStreak]:
    """By export name; `instance` defaults to the Dagster instance in DAGSTER_HOME."""
    if not names:
        return {}
    with _instance(paths, instance) as dagster_instance:
        return {name: failure_streak(dagster_instance, name) for name in names}
