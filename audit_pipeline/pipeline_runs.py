"""Running the pipeline's Dagster jobs from the command line, so every run lands in Dagster's run history."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.dagster_pools import prepare_pools
from audit_pipeline.progress import PROGRESS_LOGGER
from audit_pipeline.run_errors import PipelineRunError
from audit_pipeline.settings import HOME_ENV, Paths

__all__ = ["PipelineRunError", "RunOutcome", "execute_job", "materialization_metadata", "run_ingest_job"]

# The CLI reports a failed run in one line of its own; Dagster's tracebacks stay in the run's logs.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    counts: dict[str, Any]


@contextmanager
def _progress_to(callback: Callable[[str], None] | None) -> Iterator[None]:
    if callback is None:
        yield
        return

    forward = callback

    class _Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            forward(record.getMessage())

    logger = logging.getLogger(PROGRESS_LOGGER)
    handler = _Forward()
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _error_text(error: Any) -> str:
    """A Dagster error record (message, and its cause's) in one line."""
    cause = error.cause.message.strip() if error.cause else ""
    return f"{error.message.strip()} {cause}".strip()


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The failing step's error, else the error that failed the run outside its steps."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return f"step {event.step_key} failed: {_error_text(event.step_failure_data.error)}"
    run_level = (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.ENGINE_EVENT)
    for event in result.all_events:
        # Both event types carry the exception that ended a run outside its steps as `error`.
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type in run_level and error is not None:
            return f"Dagster run {result.run_id} failed: {_error_text(error)}"
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE and event.message:
            return f"Dagster run {result.run_id} failed: {event.message.strip()}"
    return f"Dagster run {result.run_id} failed"


def execute_job(
    paths: Paths,
    job_name: str,
    *,
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
    run_config: dict[str, Any] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute one of the pipeline's jobs in this process against the Dagster instance in DAGSTER_HOME."""
    os.environ[HOME_ENV] = str(paths.home)
    ensure_dagster_home(paths)
    from audit_pipeline.definitions import defs

    with dg.DagsterInstance.get() as instance, _progress_to(on_progress):
        prepare_pools(instance)
        # Resolved while this instance is open: resolving loads definitions state through the current instance.
        job = defs.resolve_job_def(job_name)
        result = job.execute_in_process(
            instance=instance, partition_key=partition_key, tags=tags,
            run_config={**QUIET_CONSOLE, **(run_config or {})}, raise_on_error=False,
        )
    if not result.success:
        raise PipelineRunError(failure_message(result))
    return result


def materialization_metadata(result: dg.ExecuteInProcessResult, asset_name: str) -> dict[str, Any]:
    """The plain values of the metadata an asset returned in this run."""
    for materialization in result.get_asset_materialization_events():
        if materialization.asset_key == dg.AssetKey(asset_name):
            metadata = materialization.materialization.metadata
            return {key: value.value for key, value in metadata.items()}
    return {}


def run_ingest_job(paths: Paths, *, on_progress: Callable[[str], None] | None = None) -> RunOutcome:
    from audit_pipeline.jobs import INGEST_JOB

    result = execute_job(paths, INGEST_JOB, tags={"audit_pipeline/trigger": "cli"}, on_progress=on_progress)
    return RunOutcome(result.run_id, materialization_metadata(result, "audit_events"))
