"""Reading back what an export delivered: each object's size and SHA-256, through the customer's role.

HEAD (and, when S3 returns no stored checksum, GET) needs s3:GetObject, which the role has only if the
customer attached the optional read policy (`policies.read_policy`); without it the check says so.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from audit_pipeline.export.aws import CLIENT_CONFIG, AwsOptions, assumed_role_session
from audit_pipeline.export.config import ExportConfig

MISSING_CODES = ("404", "NoSuchKey", "NotFound")
DENIED_CODES = ("403", "AccessDenied", "Forbidden")
CHUNK_BYTES = 1024 * 1024


class ReadNotAllowedError(RuntimeError):
    """The role may not read its objects back (no s3:GetObject)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    bytes: int | None  # None: no such object
    sha256: str | None
    events: int | None


class BucketReader:
    def __init__(self, config: ExportConfig, options: AwsOptions | None = None) -> None:
        self.config = config
        options = options or AwsOptions()
        session = assumed_role_session(config, options)
        self._s3: Any = session.client("s3", region_name=config.region, endpoint_url=options.endpoint_url,
                                       config=CLIENT_CONFIG)

    def _denied(self, error: ClientError) -> ReadNotAllowedError:
        return ReadNotAllowedError(
            f"the role may not read s3://{self.config.bucket}: attach the optional read policy "
            f"(s3:GetObject, printed by `audit-pipeline export show {self.config.name}`) to check files"
        )

    def stored(self, key: str) -> StoredObject:
        try:
            head = self._s3.head_object(Bucket=self.config.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code"))
            if code in MISSING_CODES:
                return StoredObject(key, None, None, None)
            if code in DENIED_CODES:
                raise self._denied(error) from error
            raise
        checksum = head.get("ChecksumSHA256")
        sha256 = base64.b64decode(checksum).hex() if checksum and "-" not in checksum else self._hash(key)
        events = head.get("Metadata", {}).get("events")
        return StoredObject(key, int(head["ContentLength"]), sha256, int(events) if events else None)

    def _hash(self, key: str) -> str:
        try:
            body = self._s3.get_object(Bucket=self.config.bucket, Key=key)["Body"]
        except ClientError as error:
            raise self._denied(error) from error
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(CHUNK_BYTES), b""):
            digest.update(chunk)
        return digest.hexdigest()
