"""The lake's data on S3 (AUDIT_PIPELINE_DATA=s3://bucket/prefix) against the local S3 stand-in with IAM checks
on: ingestion writes Parquet objects there through DuckDB with the standard AWS credentials and
AWS_ENDPOINT_URL, the CLI reads them back, and an export reads its window from them."""

from __future__ import annotations

import json

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage.lake import DATA_ENV
from tests.aws_sandbox import (  # noqa: F401 - fixture
    aws_sandbox,
    configure_export,
    give_the_pipeline_buckets,
    read_lines,
)
from tests.conftest import event, ingest_now, land_records

LAKE_BUCKET = "audit-lake"
LAKE_PREFIX = "prod/lake"


def _let_the_pipeline_use_its_lake_bucket(sandbox: LocalAwsSandbox) -> None:
    give_the_pipeline_buckets(sandbox, "audit-lake", {LAKE_BUCKET: f"{LAKE_PREFIX}/"})


def test_the_lake_keeps_its_data_on_s3(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _let_the_pipeline_use_its_lake_bucket(aws_sandbox)
    monkeypatch.setenv(DATA_ENV, f"s3://{LAKE_BUCKET}/{LAKE_PREFIX}")
    config = configure_export(paths, aws_sandbox)
    # More rows than the catalog inlines, so they become Parquet objects.
    land_records(paths, [event(f"e{n}", org_id=("acme", "globex")[n % 2]) for n in range(400)])
    counts = ingest_now(paths)
    assert counts.ingested == 400

    objects = aws_sandbox.list_keys(LAKE_BUCKET, f"{LAKE_PREFIX}/")
    assert any("/events/org_id=acme/" in key and key.endswith(".parquet") for key in objects), objects
    assert not (paths.home / "lake").exists(), "nothing of the lake's data is kept on local disk"

    assert main(["logs", "--org", "acme", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 200

    result = run_export(paths, config, S3Destination(config), run_id="s3-lake")
    assert result.plan.events == 200
    assert sorted(line["event_id"] for line in read_lines(aws_sandbox, config.bucket)) == sorted(
        f"e{n}" for n in range(0, 400, 2))
