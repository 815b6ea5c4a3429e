"""Talking to the customer's AWS account as the role they created for us.

The exporter's own identity comes from boto3's default chain (environment, profile, instance role); STS
AssumeRole with the config's external id turns it into short-lived credentials for the customer's role,
refreshed by botocore before they expire. boto3 honours AWS_ENDPOINT_URL, so the same code talks to AWS or
to a local endpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.errors import (
    ASSUME_ROLE_STEP,
    WRONG_REGION_CODES,
    BucketRegionMismatchError,
    ExportDeliveryError,
    assume_role_error,
    marker_removal_error,
    upload_error,
)

DEFAULT_SESSION_SECONDS = 3600
MAX_SESSION_NAME_CHARS = 64
CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=120
)


class MissingExternalIdError(RuntimeError):
    """An AssumeRole request was about to leave without the config's external id."""


@dataclass(frozen=True)
class AwsOptions:
    """How the exporter reaches AWS. `endpoint_url` None means boto3's default (AWS_ENDPOINT_URL or AWS)."""

    session_seconds: int = DEFAULT_SESSION_SECONDS
    endpoint_url: str | None = None


def session_name(config: ExportConfig) -> str:
    """Shows up in the customer's CloudTrail as the role session that wrote the files."""
    return f"audit-pipeline-export-{config.name}"[:MAX_SESSION_NAME_CHARS]


def _require_external_id(params: Mapping[str, Any], **_: Any) -> None:
    if not params.get("ExternalId"):
        raise MissingExternalIdError("refusing to call sts:AssumeRole without an ExternalId")


def assumed_role_session(config: ExportConfig, options: AwsOptions = AwsOptions()) -> boto3.Session:
    """A boto3 session acting as the customer's role: credentials fetched lazily, refreshed before expiry."""
    sts = boto3.Session().client(
        "sts", region_name=config.region, endpoint_url=options.endpoint_url, config=CLIENT_CONFIG
    )
    sts.meta.events.register("provide-client-params.sts.AssumeRole", _require_external_id)

    def fetch_credentials() -> dict[str, str]:
        try:
            response = sts.assume_role(
                RoleArn=config.role_arn,
                RoleSessionName=session_name(config),
                ExternalId=config.external_id,
                DurationSeconds=options.session_seconds,
            )
        except MissingExternalIdError:
            raise
        except Exception as error:
            raise assume_role_error(config, error) from error
        credentials = response["Credentials"]
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    core = botocore.session.get_session()
    core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
        refresh_using=fetch_credentials, method="sts-assume-role"
    )
    core.set_config_variable("region", config.region)
    return boto3.Session(botocore_session=core)


def _refuse_region_redirect(config: ExportConfig) -> Any:
    """Fail on a wrong-region answer instead of letting botocore silently follow it to the other region."""

    def handler(response: Any = None, **_: Any) -> None:
        if response is None:
            return
        http, parsed = response
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        redirected = http is not None and http.status_code in (301, 302, 307)
        if error.get("Code") in WRONG_REGION_CODES or redirected:
            headers = parsed.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            region = error.get("Region") or headers.get("x-amz-bucket-region")
            raise BucketRegionMismatchError(config, region)

    return handler


class S3Destination:
    """The customer's bucket, written through their role."""

    def __init__(self, config: ExportConfig, options: AwsOptions = AwsOptions()) -> None:
        self.config = config
        self._session = assumed_role_session(config, options)
        self._s3 = self._session.client(
            "s3", region_name=config.region, endpoint_url=options.endpoint_url, config=CLIENT_CONFIG
        )
        self._s3.meta.events.register_first("needs-retry.s3", _refuse_region_redirect(config))

    def assume_role(self) -> None:
        """Fetch the role's credentials now, so an STS failure is reported as such."""
        credentials = self._session.get_credentials()
        try:
            if credentials is None:
                raise ExportDeliveryError(ASSUME_ROLE_STEP, "no credentials came back from AssumeRole")
            credentials.get_frozen_credentials()
        except ExportDeliveryError:
            raise
        except Exception as error:
            raise assume_role_error(self.config, error) from error

    def put_file(self, key: str, path: Path, *, sha256_hex: str, content_type: str,
                 metadata: Mapping[str, str]) -> None:
        """Write one object; S3 checks the SHA-256 of what it received against ours."""
        checksum = base64.b64encode(bytes.fromhex(sha256_hex)).decode("ascii")
        try:
            with path.open("rb") as body:
                self._s3.put_object(
                    Bucket=self.config.bucket, Key=key, Body=body, ContentType=content_type,
                    ChecksumSHA256=checksum, Metadata=dict(metadata),
                )
        except Exception as error:
            raise upload_error(self.config, key, error) from error

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self.config.bucket, Key=key, Body=data, ContentType=content_type)
        except Exception as error:
            raise upload_error(self.config, key, error) from error

    def delete_object(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.config.bucket, Key=key)
        except Exception as error:
            raise marker_removal_error(self.config, key, error) from error
