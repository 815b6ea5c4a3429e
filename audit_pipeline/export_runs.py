"""Exporting one configuration now as a Dagster run, so the run lands in Dagster's run history.

The CLI's `export run` and the web page's "Run now" both come here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.settings import Paths

EXPORT_ASSET = "audit_log_export"
REQUESTED_BY_TAG = "audit_pipeline/requested_by"


@dataclass(frozen=True)
class ExportRunOutcome:
    run_id: str
    metadata: dict[str, Any]


def register_export_partition(paths: Paths, name: str) -> None:
    """Make the config a partition of the export asset (a no-op when it already is one)."""
    from audit_pipeline.assets.export import EXPORT_CONFIGS_PARTITIONS

    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition(EXPORT_CONFIGS_PARTITIONS, name):
            instance.add_dynamic_partitions(EXPORT_CONFIGS_PARTITIONS, [name])


def run_export_now(paths: Paths, name: str, *, trigger: str, requested_by: str | None = None) -> ExportRunOutcome:
    """Run the export job for config `name`; raises PipelineRunError with the failing step's error."""
    from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, EXPORT_JOB, TRIGGER_TAG
    from audit_pipeline.pipeline_runs import execute_job, materialization_metadata

    register_export_partition(paths, name)
    tags = {EXPORT_CONFIG_TAG: name, TRIGGER_TAG: trigger}
    if requested_by:
        tags[REQUESTED_BY_TAG] = requested_by
    result = execute_job(paths, EXPORT_JOB, partition_key=name, tags=tags)
    return ExportRunOutcome(result.run_id, materialization_metadata(result, EXPORT_ASSET))


def remove_export_partition(paths: Paths, name: str) -> None:
    from audit_pipeline.assets.export import EXPORT_CONFIGS_PARTITIONS

    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        if instance.has_dynamic_partition(EXPORT_CONFIGS_PARTITIONS, name):
            instance.delete_dynamic_partition(EXPORT_CONFIGS_PARTITIONS, name)
