"""Fault matrix, Dagster side: the export job re-executed through Dagster's API, as the UI's "Re-execute" does.

What to expect, and what docs/guarantees.md promises:
- re-executing a run that succeeded starts a NEW export holding only what arrived since (or, when nothing
  did, the one System event of an empty window): the first run's events are never delivered again;
- re-executing a failed run (all steps or from failure) delivers the export that run planned, unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, EXPORT_CONFIGS_PARTITIONS, EXPORT_JOB
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.export.policies import trust_policy
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export, read_lines  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import assert_bucket_holds_exactly, exported_ids, is_export_event

BUCKET = "acme-audit"
NAME = "acme-prod"
IN_PROCESS = {"execution": {"config": {"in_process": {}}},
              "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def export_job() -> dg.JobDefinition:
    """The job as Dagster loads it from the code location (module-level, so it can be reconstructed)."""
    from audit_pipeline.definitions import defs

    return defs.resolve_job_def(EXPORT_JOB)


@pytest.fixture
def instance(paths: Paths) -> Iterator[dg.DagsterInstance]:
    """The persistent Dagster instance in this test's DAGSTER_HOME, as the UI and the CLI use it."""
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as dagster_instance:
        dagster_instance.add_dynamic_partitions(EXPORT_CONFIGS_PARTITIONS, [NAME])
        yield dagster_instance


def launch(instance: dg.DagsterInstance, parent: str | None = None,
           from_failure: bool = False) -> dg.JobExecutionResult:
    job = dg.reconstructable(export_job)
    if parent is None:
        options = None
    elif from_failure:
        options = dg.ReexecutionOptions.from_failure(parent, instance)
    else:
        options = dg.ReexecutionOptions(parent_run_id=parent)
    # The UI's re-execution carries the parent's tags (the partition among them) over; this API takes them.
    tags = {"dagster/partition": NAME, EXPORT_CONFIG_TAG: NAME}
    with dg.execute_job(job, instance, run_config=IN_PROCESS, tags=tags, reexecution_options=options) as result:
        return result


def materializations(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("audit_log_export"), asset_partitions=[NAME]), limit=100
    ).records
    return [{key: value.value for key, value in r.asset_materialization.metadata.items()} | {"run_id": r.run_id}
            for r in reversed(records) if r.asset_materialization is not None]


def ingest(paths: Paths, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    land_records(paths, [event(i) for i in ids], name=f"{prefix}.jsonl")
    ingest_now(paths)
    return ids


def test_reexecuting_a_finished_export_starts_a_new_one_and_a_failed_one_resumes(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox, name=NAME)
    first = ingest(paths, "first", 8)
    original = launch(instance)
    assert original.success

    second = ingest(paths, "second", 3)
    again = launch(instance, parent=original.run_id)
    assert again.success
    assert instance.get_run_by_id(again.run_id).parent_run_id == original.run_id  # type: ignore[union-attr]
    assert sorted(exported_ids(aws_sandbox, BUCKET)) == sorted(first + second)

    empty = launch(instance, parent=original.run_id)
    assert empty.success

    iam = aws_sandbox.admin_client("iam")
    iam.update_assume_role_policy(RoleName=f"{NAME}-role",
                                  PolicyDocument=json.dumps(trust_policy("not-the-configured-external-id")))
    third = ingest(paths, "third", 4)
    failed = launch(instance)
    assert not failed.success
    iam.update_assume_role_policy(RoleName=f"{NAME}-role", PolicyDocument=json.dumps(trust_policy(config.external_id)))
    fourth = ingest(paths, "fourth", 2)
    resumed = launch(instance, parent=failed.run_id, from_failure=True)
    assert resumed.success

    latest = launch(instance)
    assert latest.success

    history = materializations(instance)
    assert [m["run_id"] for m in history] == [original.run_id, again.run_id, empty.run_id, resumed.run_id,
                                              latest.run_id]
    assert [m["export_number"] for m in history] == [1, 2, 3, 4, 5]
    assert [m["events_exported"] for m in history] == [8, 3, 0, 4, 2], "the failed run's plan, then the rest"
    assert [m["retry_of_planned_export"] for m in history] == [False, False, False, True, False]
    windows = [(m["window_from_seq"], m["window_to_seq"]) for m in history]
    assert all(a[1] == b[0] for a, b in pairwise(windows)), "windows are contiguous"
    [empty_object] = history[2]["object_keys"]
    [marker] = read_lines(aws_sandbox, BUCKET, empty_object)
    assert is_export_event(marker) and marker["additional_info"]["events_exported"] == 0

    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", first + second + third + fourth)
