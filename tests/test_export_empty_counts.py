"""An empty export window says the same everywhere: 0 of the org's events, and 1 System event in its one file."""

from __future__ import annotations

import json

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records


def test_an_empty_export_counts_no_org_event_and_one_system_event(
        paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    land_records(paths, [event("a1")])
    ingest_now(paths)
    config = configure_export(paths, aws_sandbox)
    full = run_export(paths, config, S3Destination(config), run_id="r1").summary()
    empty = run_export(paths, config, S3Destination(config), run_id="r2").summary()

    assert (full["events_exported"], full["system_events"]) == (1, 0)
    assert (empty["events_exported"], empty["system_events"]) == (0, 1)
    [item] = empty["objects"]  # type: ignore[misc]
    assert item["events"] == 0
    lines = aws_sandbox.read_object(config.bucket, item["key"]).decode().splitlines()
    assert [json.loads(line)["log_type"] for line in lines] == ["System"]
    head = aws_sandbox.admin_client("s3").head_object(Bucket=config.bucket, Key=item["key"])
    assert (head["Metadata"]["events"], head["Metadata"]["system-events"]) == ("0", "1")
