"""Access to customers' buckets through the IAM role each customer created for the exporter."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.export.aws import DEFAULT_SESSION_SECONDS, AwsOptions, S3Destination
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import part_bytes_from_env, validate_part_bytes


class S3ExportResource(dg.ConfigurableResource):  # type: ignore[type-arg,misc]
    """Assumes the customer's role (STS AssumeRole with the config's external id) lazily, never at load time.

    `endpoint_url` empty means boto3's default: AWS_ENDPOINT_URL when set, else AWS itself.
    `part_bytes` 0 means AUDIT_PIPELINE_EXPORT_PART_BYTES when set, else 128 MiB.
    """

    part_bytes: int = 0
    session_seconds: int = DEFAULT_SESSION_SECONDS
    endpoint_url: str = ""

    def destination(self, config: ExportConfig) -> S3Destination:
        return S3Destination(config, AwsOptions(session_seconds=self.session_seconds,
                                                endpoint_url=self.endpoint_url or None))

    def resolved_part_bytes(self) -> int:
        return validate_part_bytes(self.part_bytes) if self.part_bytes else part_bytes_from_env()
