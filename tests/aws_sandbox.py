"""Fixtures for export tests: a local AWS (moto, IAM checks on) started and stopped by each test.

Use with `from tests.aws_sandbox import aws_sandbox, configured_export` (pytest sees imported fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audit_pipeline.export.config import ExportConfig, ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.local_aws import LocalAwsSandbox, local_aws_sandbox
from audit_pipeline.settings import Paths

ACCOUNT = "123456789012"


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
