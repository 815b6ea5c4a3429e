"""Reading the customer's bucket through the same assumed role the export writes with.

Only `verify` reads, and only if the customer attached the optional read policy (s3:ListBucket and
s3:GetObject below the prefix); exporting never needs it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_pipeline.export.aws import CLIENT_CONFIG, AwsOptions, _refuse_region_redirect, assumed_role_session
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.errors import UNREACHABLE_ERRORS, ExportDeliveryError, assume_role_error, unreachable

READ_STEP = "read"
CHUNK_BYTES = 8 * 1024 * 1024


class BucketReadError(RuntimeError):
    """The bucket could not be read; the message says why and what to change."""


class S3BucketReader:
    def __init__(self, config: ExportConfig, options: AwsOptions | None = None) -> None:
        self.config = config
        options = options or AwsOptions()
        session = assumed_role_session(config, options)
        self._s3 = session.client("s3", region_name=config.region, endpoint_url=options.endpoint_url,
                                  config=CLIENT_CONFIG)
        self._s3.meta.events.register_first("needs-retry.s3", _refuse_region_redirect(config))

    def _error(self, action: str, target: str, error: Exception) -> BucketReadError:
        config = self.config
        if isinstance(error, ExportDeliveryError):
            return BucketReadError(str(error))
        if isinstance(error, UNREACHABLE_ERRORS):
            return BucketReadError(str(unreachable(READ_STEP, "Amazon S3", error)))
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("AccessDenied", "403"):
                return BucketReadError(
                    f"role {config.role_arn} may not {action} {target}: attach the optional read policy shown "
                    f"by `audit-pipeline export show {config.name}` (s3:ListBucket and s3:GetObject below the "
                    "prefix); exporting does not need it"
                )
            if code == "NoSuchBucket":
                return BucketReadError(f"bucket {config.bucket} does not exist")
            if code in ("NoSuchKey", "404"):
                return BucketReadError(f"{target} disappeared while it was being verified")
            return BucketReadError(f"{action} {target} failed: {code}: {error}")
        if isinstance(error, BotoCoreError) and "sts" in str(error).lower():
            return BucketReadError(str(assume_role_error(config, error)))
        return BucketReadError(f"{action} {target} failed: {error}")

    def sizes(self, prefix: str) -> dict[str, int]:
        found: dict[str, int] = {}
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.config.bucket, Prefix=prefix)
            for page in pages:
                found.update({item["Key"]: int(item["Size"]) for item in page.get("Contents", [])})
        except Exception as error:
            raise self._error("list", f"s3://{self.config.bucket}/{prefix}", error) from error
        return found

    def _body(self, key: str) -> Any:
        try:
            return self._s3.get_object(Bucket=self.config.bucket, Key=key)["Body"]
        except Exception as error:
            raise self._error("read", f"s3://{self.config.bucket}/{key}", error) from error

    def read(self, key: str) -> bytes:
        return bytes(self._body(key).read())

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        for chunk in self._body(key).iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
        return digest.hexdigest()
