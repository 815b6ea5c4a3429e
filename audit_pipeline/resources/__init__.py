"""Resources, chosen in one place for every environment."""

from __future__ import annotations

from typing import Any

from dagster_aws.s3 import S3Resource

from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore


def default_resources() -> dict[str, Any]:
    # `landing_s3` lists and archives AUDIT_PIPELINE_LANDING's objects with boto3's standard settings.
    return {"store": AuditStore(), "s3_export": S3ExportResource(), "landing_s3": S3Resource()}
