"""The IAM policies a customer attaches to the role our exporter assumes."""

from __future__ import annotations

import os
from typing import Any

from audit_pipeline.export.layout import DIGEST_FOLDER, ROOT_FOLDER

EXPORTER_PRINCIPAL_ENV = "AUDIT_PIPELINE_EXPORTER_PRINCIPAL"
# The identity the local sandbox creates (moto's default account); production sets the env var.
DEFAULT_EXPORTER_PRINCIPAL = "arn:aws:iam::123456789012:user/audit-pipeline-exporter"
POLICY_VERSION = "2012-10-17"


def exporter_principal() -> str:
    """The ARN our exporter calls STS as; customers trust exactly this principal."""
    return os.environ.get(EXPORTER_PRINCIPAL_ENV) or DEFAULT_EXPORTER_PRINCIPAL


def partition_of(role_arn: str) -> str:
    return role_arn.split(":")[1]


def trust_policy(external_id: str, principal: str | None = None) -> dict[str, Any]:
    """Lets our exporter assume the role only when it presents this config's external id."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "AllowAuditLogExport",
            "Effect": "Allow",
            "Principal": {"AWS": principal or exporter_principal()},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }],
    }


def writable_resource(bucket: str, prefix: str, partition: str = "aws") -> str:
    folder = f"{prefix}/" if prefix else ""
    return f"arn:{partition}:s3:::{bucket}/{folder}*"


def connection_test_resource(bucket: str, prefix: str, partition: str = "aws") -> str:
    from audit_pipeline.export.layout import CONNECTION_TEST_FOLDER

    folder = f"{prefix}/" if prefix else ""
    return f"arn:{partition}:s3:::{bucket}/{folder}{CONNECTION_TEST_FOLDER}/*"


def permissions_policy(bucket: str, prefix: str, partition: str = "aws") -> dict[str, Any]:
    """s3:PutObject below the prefix, and s3:DeleteObject only on the connection test's own markers.

    No read, no list, and no delete of exported files.
    """
    return {
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "WriteAuditLogExports",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": writable_resource(bucket, prefix, partition),
        }, {
            "Sid": "RemoveConnectionTestMarkers",
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": connection_test_resource(bucket, prefix, partition),
        }],
    }


def read_policy(bucket: str, prefix: str, partition: str = "aws") -> dict[str, Any]:
    """Optional, only for `export verify`: list and read the export and digest folders, nothing else."""
    folder = f"{prefix}/" if prefix else ""
    folders = [f"{folder}{ROOT_FOLDER}/*", f"{folder}{DIGEST_FOLDER}/*"]
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ReadAuditLogExports",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:{partition}:s3:::{bucket}/{path}" for path in folders],
            },
            {
                "Sid": "ListAuditLogExports",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:{partition}:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": folders}},
            },
        ],
    }
