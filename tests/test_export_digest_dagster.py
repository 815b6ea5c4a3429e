"""The export asset carries its digest key and chain head; the digest check passes after a run, fails on
tampering, and warns when the role may not read the bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, EXPORT_JOB, audit_log_export, export_configs_partitions
from audit_pipeline.assets.export_digest_check import newest_export_digest_check
from audit_pipeline.definitions import defs
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.digest_helpers import BUCKET, DATA, attach_read_policy, flip_a_byte


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(export_configs_partitions.name or "", ["acme-prod"])
        yield test_instance


def run(instance: dg.DagsterInstance, *, only_check: bool = False) -> dg.ExecuteInProcessResult:
    """The export and its check as the export job runs them, or the check alone (as from the UI)."""
    selection = dg.AssetSelection.checks(newest_export_digest_check) if only_check else \
        dg.AssetSelection.assets(audit_log_export)
    job = dg.define_asset_job("export_and_check", selection=selection, partitions_def=export_configs_partitions)
    resolved = dg.Definitions(
        assets=[audit_log_export], asset_checks=[newest_export_digest_check], jobs=[job],
        resources={"store": AuditStore(), "s3_export": S3ExportResource(part_bytes=2_000)},
    ).resolve_job_def("export_and_check")
    # A run of the check alone names its partition by tag: Dagster's partition_key argument wants an asset.
    return resolved.execute_in_process(instance=instance, raise_on_error=False,
                                       tags={EXPORT_CONFIG_TAG: "acme-prod", "dagster/partition": "acme-prod"})


def test_the_export_job_runs_the_digest_check() -> None:
    job = defs.resolve_job_def(EXPORT_JOB)
    assert set(job.graph.node_dict) == {
        "audit_log_export", "audit_log_export_newest_export_digest_verifies",
        "audit_log_export_objects_as_planned", "audit_log_export_window_continues",
        "audit_log_export_events_match_window",
    }


def test_check_passes_after_a_run_and_fails_on_tampering(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    attach_read_policy(aws_sandbox, config)
    land_records(paths, [event(f"a{i}") for i in range(20)])
    ingest_now(paths)
    result = run(instance)
    assert result.success
    [materialization] = result.asset_materializations_for_node("audit_log_export")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert str(metadata["digest_key"]).startswith("exports/audit/audit-logs-digest/org_id=acme/dt=")
    digest_body = aws_sandbox.read_object(BUCKET, str(metadata["digest_key"]))
    assert metadata["chain_head"] == hashlib.sha256(digest_body).hexdigest()
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.description
    assert check.metadata["digest_key"].value == metadata["digest_key"]
    assert check.metadata["files_checked"].value == len(aws_sandbox.list_keys(BUCKET, DATA)) > 1

    _, tampered = flip_a_byte(aws_sandbox)
    [check] = run(instance, only_check=True).get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert f"modified {tampered}" in str(check.description)


def test_check_warns_without_the_read_policy(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    configure_export(paths, aws_sandbox)
    land_records(paths, [event("a1")])
    ingest_now(paths)
    result = run(instance)
    assert result.success, "the write-only policy is enough to export"
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "optional read policy" in str(check.description)
