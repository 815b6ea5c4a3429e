"""The export asset in Dagster: metadata of a materialization, failed runs, credential refresh, and reading
the exported files back with DuckDB straight from S3 as the docs show."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export, export_configs_partitions
from audit_pipeline.export.aws import AwsOptions, S3Destination
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export, stored_events  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(export_configs_partitions.name or "", ["acme-prod"])
        yield test_instance


def materialize(instance: dg.DagsterInstance, part_bytes: int = 0) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [audit_log_export], partition_key="acme-prod", instance=instance, raise_on_error=False,
        resources={"store": AuditStore(), "s3_export": S3ExportResource(part_bytes=part_bytes)},
        tags={EXPORT_CONFIG_TAG: "acme-prod"},
    )


def test_materialization_metadata_describes_every_object(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event(f"a{i}") for i in range(30)])
    ingest_now(paths)
    configure_export(paths, aws_sandbox)
    result = materialize(instance, part_bytes=3_000)
    assert result.success
    [materialization] = result.asset_materializations_for_node("audit_log_export")
    assert materialization.partition == "acme-prod"
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    assert metadata["config"]["bucket"] == "acme-audit" and metadata["config"]["org_id"] == "acme"
    assert (metadata["window_from_seq"], metadata["window_to_seq"]) == (0, 30)
    assert metadata["previous_cutoff"] == "" and metadata["cutoff"].endswith("Z")
    assert metadata["events_exported"] == 30
    objects = metadata["objects"]
    assert len(objects) > 1 and [o["key"] for o in objects] == metadata["object_keys"]
    for item in objects:
        body = aws_sandbox.read_object("acme-audit", item["key"])
        assert item["bytes"] == len(body)
        assert item["sha256"] == hashlib.sha256(body).hexdigest()
    assert sum(o["events"] for o in objects) == 30


def test_failed_export_is_a_failed_run_with_a_readable_error(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)
    configure_export(paths, aws_sandbox, create_bucket=False)
    result = materialize(instance)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert "failed at step upload" in message and "bucket acme-audit does not exist" in message
    assert "Nothing was marked delivered" in message
    assert result.asset_materializations_for_node("audit_log_export") == []


def test_credentials_are_refreshed_before_they_expire(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    land_records(paths, [event(f"a{i}") for i in range(20)])
    ingest_now(paths)
    config = configure_export(paths, aws_sandbox)
    hour_long = run_export(paths, config, S3Destination(config), run_id="r1", part_bytes=2_000)
    assert len(hour_long.objects) >= 3
    assert len(aws_sandbox.assume_role_requests) == 1, "fresh credentials are reused, not re-fetched"

    land_records(paths, [event(f"b{i}") for i in range(20)], name="more.jsonl")
    ingest_now(paths)
    # 15-minute credentials are inside botocore's refresh window from the start: each use renews them.
    short = S3Destination(config, AwsOptions(session_seconds=900))
    near_expiry = run_export(paths, config, short, run_id="r2", part_bytes=2_000)
    assert len(near_expiry.objects) >= 3
    assert len(aws_sandbox.assume_role_requests) > 2
    assert all(r["ExternalId"] == config.external_id for r in aws_sandbox.assume_role_requests)


def _httpfs_folder() -> str | None:
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    return str(folder) if folder.exists() else None


def test_duckdb_reads_the_export_from_s3_as_documented(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    extensions = _httpfs_folder()
    if extensions is None:
        pytest.skip("duckdb-ext-httpfs is not installed")
    land_records(paths, [event(f"a{i}") for i in range(12)] + [event("g1", org_id="globex")])
    ingest_now(paths)
    config = configure_export(paths, aws_sandbox, prefix="exports")
    run_export(paths, config, S3Destination(config), run_id="r1", part_bytes=1_500)
    assert aws_sandbox.admin is not None
    connection = duckdb.connect(config={"extension_directory": extensions})
    try:
        connection.execute("LOAD httpfs")
        connection.execute(
            "CREATE SECRET customer (TYPE s3, KEY_ID ?, SECRET ?, REGION 'us-east-1', ENDPOINT ?, "
            "URL_STYLE 'path', USE_SSL false)",
            [aws_sandbox.admin.access_key_id, aws_sandbox.admin.secret_access_key,
             aws_sandbox.endpoint_url.removeprefix("http://")],
        )
        rows = connection.execute(
            "SELECT org_id, event_id, occurred_at, additional_info FROM read_json("
            "'s3://acme-audit/exports/audit-logs/*/*/*/*.json', hive_partitioning = true) ORDER BY event_id"
        ).fetchall()
    finally:
        connection.close()
    expected = sorted(stored_events(paths, "acme"), key=lambda r: r["event_id"])
    assert [(r[0], r[1]) for r in rows] == [("acme", e["event_id"]) for e in expected]
