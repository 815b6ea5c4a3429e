"""Resources, chosen in one place for every environment."""

from __future__ import annotations

from typing import Any

from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore


def default_resources() -> dict[str, Any]:
    return {"store": AuditStore(), "s3_export": S3ExportResource()}
