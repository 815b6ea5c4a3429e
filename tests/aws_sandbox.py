"""Fixtures for export tests: a local AWS (moto, IAM checks on) started and stopped by each test, and an
independent check of what landed in the bucket against the events table.

Import the fixture into a test module (`from tests.aws_sandbox import aws_sandbox`) for pytest to see it.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest

from audit_pipeline.domain.events import CANONICAL_FIELDS, SCHEMA_VERSION
from audit_pipeline.export.config import ExportConfig, ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.local_aws import EXPORTER_USER, LocalAwsSandbox, local_aws_sandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

ACCOUNT = "123456789012"
EXPORT_ACTION = "Audit Log Export"
LINE_FIELDS = (*CANONICAL_FIELDS, "received_at", "schema_version")


def role_arn(role_name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{role_name}"


@pytest.fixture
def aws_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAwsSandbox]:
    """A running sandbox; boto3 in this process acts as the exporter against it.

    On teardown it checks, server side, that every AssumeRole request carried an ExternalId (moto alone
    would let a missing one through), then stops the server.
    """
    with local_aws_sandbox() as sandbox:
        for name, value in sandbox.exporter_variables().items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"):
            monkeypatch.delenv(name, raising=False)
        yield sandbox
        missing = [r for r in sandbox.assume_role_requests if not r.get("ExternalId")]
        assert not missing, f"AssumeRole requests without ExternalId: {missing}"


def configure_export(
    paths: Paths,
    sandbox: LocalAwsSandbox,
    *,
    name: str = "acme-prod",
    org_id: str = "acme",
    bucket: str = "acme-audit",
    region: str = "us-east-1",
    prefix: str = "exports/audit",
    frequency_hours: int = 1,
    gzip: bool = False,
    create_bucket: bool = True,
    create_role: bool = True,
) -> ExportConfig:
    """Save a config as `export configure` does, then play the customer: bucket, and a role trusting it."""
    role_name = f"{name}-role"
    config, _ = save_config(paths, ExportSettings(
        name=name, org_id=org_id, bucket=bucket, region=region, prefix=prefix,
        frequency_hours=frequency_hours, role_arn=role_arn(role_name), gzip=gzip,
    ))
    if create_bucket:
        sandbox.create_bucket(bucket, region)
    if create_role:
        sandbox.create_customer_role(role_name, external_id=config.external_id, bucket=bucket,
                                     prefix=config.prefix)
    return config



def read_lines(sandbox: LocalAwsSandbox, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every JSON line of every export object in the bucket, in key order (connection tests skipped)."""
    lines: list[dict[str, Any]] = []
    for key in sandbox.list_keys(bucket, prefix):
        if "/audit-logs/" not in f"/{key}":
            continue
        body = sandbox.read_object(bucket, key)
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        lines.extend(json.loads(line) for line in body.decode("utf-8").splitlines())
    return lines


def stored_events(paths: Paths, org_id: str) -> list[dict[str, Any]]:
    """The org's events from the writers' database, formatted in Python the way the export promises."""
    connection = database.open_reader(paths)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(
            f"SELECT {', '.join(CANONICAL_FIELDS)}, received_at FROM events WHERE org_id = ? ORDER BY ingest_seq",
            [org_id],
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
    for row in rows:
        for moment in ("occurred_at", "received_at"):
            row[moment] = row[moment].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        row["additional_info"] = json.loads(row["additional_info"])
        row["schema_version"] = SCHEMA_VERSION
    return rows


def assert_exported_exactly_once(paths: Paths, sandbox: LocalAwsSandbox, bucket: str, org_id: str) -> None:
    """Every stored event of the org is in the bucket exactly once, byte for byte in meaning; nothing else is."""
    lines = read_lines(sandbox, bucket)
    assert {line["org_id"] for line in lines} <= {org_id}, "another org's event was exported"
    data = [line for line in lines if line["action"] != EXPORT_ACTION or line["log_type"] != "System"]
    expected = stored_events(paths, org_id)
    counts = Counter(line["event_id"] for line in data)
    assert [i for i, n in counts.items() if n > 1] == [], "an event was exported twice"
    assert sorted(data, key=lambda r: r["event_id"]) == sorted(expected, key=lambda r: r["event_id"])
    for line in lines:
        assert tuple(line) == LINE_FIELDS


def give_the_pipeline_buckets(sandbox: LocalAwsSandbox, name: str, objects: dict[str, str]) -> None:
    """Create each bucket and let the pipeline's own identity (the exporter user) read, write, delete and list
    the objects under its prefix ("" for the whole bucket): its lake data or its landing area."""
    for bucket in objects:
        sandbox.create_bucket(bucket)
    sandbox.admin_client("iam").put_user_policy(
        UserName=EXPORTER_USER, PolicyName=name, PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*" for bucket, prefix in objects.items()]},
                {"Effect": "Allow", "Action": "s3:ListBucket",
                 "Resource": [f"arn:aws:s3:::{bucket}" for bucket in objects]},
            ],
        }),
    )
