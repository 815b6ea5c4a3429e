"""Turning AWS failures into messages that name the cause and what to change."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.policies import connection_test_resource, exporter_principal, writable_resource

ASSUME_ROLE_STEP = "assume-role"
UPLOAD_STEP = "upload"
REMOVE_MARKER_STEP = "remove-marker"

WRONG_REGION_CODES = (
    "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"
)
UNREACHABLE_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)


class ExportDeliveryError(RuntimeError):
    """Writing to the customer's bucket failed at `step`; nothing of this export was marked delivered."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class BucketRegionMismatchError(ExportDeliveryError):
    def __init__(self, config: ExportConfig, actual_region: str | None) -> None:
        where = f"in {actual_region}" if actual_region else "in another region"
        fix = actual_region or "the bucket's region"
        super().__init__(
            UPLOAD_STEP,
            f"bucket {config.bucket} is {where}, not {config.region}: change the export's region with "
            f"`audit-pipeline export configure --name {config.name} ... --region {fix}`",
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _aws_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or str(error)


def unreachable(step: str, service: str, error: BaseException) -> ExportDeliveryError:
    return ExportDeliveryError(
        step,
        f"could not reach {service} ({error}): check the network, or AWS_ENDPOINT_URL if a local endpoint "
        "is meant; the export will be retried as it was planned",
    )


def assume_role_error(config: ExportConfig, error: BaseException) -> ExportDeliveryError:
    if isinstance(error, NoCredentialsError):
        return ExportDeliveryError(
            ASSUME_ROLE_STEP,
            "the exporter has no AWS credentials of its own to call STS with: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the exporter identity",
        )
    if isinstance(error, UNREACHABLE_ERRORS):
        return unreachable(ASSUME_ROLE_STEP, "AWS STS", error)
    if isinstance(error, ClientError):
        code = _code(error)
        if code == "AccessDenied":
            return ExportDeliveryError(
                ASSUME_ROLE_STEP,
                f"the trust policy of role {config.role_arn} refused AssumeRole ({_aws_message(error)}): "
                f"check the external id in the role's trust policy (it must equal {config.external_id}, see "
                f"`audit-pipeline export show {config.name}`), that it trusts {exporter_principal()}, "
                "and that the role ARN is right",
            )
        if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken"):
            return ExportDeliveryError(
                ASSUME_ROLE_STEP,
                f"STS rejected the exporter's own AWS credentials ({code}): renew AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY of the exporter identity",
            )
        return ExportDeliveryError(
            ASSUME_ROLE_STEP, f"STS AssumeRole on {config.role_arn} failed: {code}: {_aws_message(error)}"
        )
    if isinstance(error, BotoCoreError):
        return ExportDeliveryError(ASSUME_ROLE_STEP, f"STS AssumeRole on {config.role_arn} failed: {error}")
    return ExportDeliveryError(ASSUME_ROLE_STEP, f"STS AssumeRole on {config.role_arn} failed: {error!r}")


def upload_error(config: ExportConfig, key: str, error: BaseException) -> ExportDeliveryError:
    if isinstance(error, ExportDeliveryError):
        return error
    if isinstance(error, UNREACHABLE_ERRORS):
        return unreachable(UPLOAD_STEP, "Amazon S3", error)
    if isinstance(error, ClientError):
        code = _code(error)
        if code == "AccessDenied":
            return ExportDeliveryError(
                UPLOAD_STEP,
                f"role {config.role_arn} may not write s3://{config.bucket}/{key}: attach the permissions "
                f"policy shown by `audit-pipeline export show {config.name}` (s3:PutObject on "
                f"{writable_resource(config.bucket, config.prefix)}); a bucket policy or SCP denying it "
                "has the same effect",
            )
        if code == "NoSuchBucket":
            return ExportDeliveryError(
                UPLOAD_STEP,
                f"bucket {config.bucket} does not exist: create it in {config.region}, or correct the bucket "
                f"with `audit-pipeline export configure --name {config.name} ... --bucket <name>`",
            )
        if code in WRONG_REGION_CODES:
            region = error.response.get("Error", {}).get("Region") or error.response.get(
                "ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
            return BucketRegionMismatchError(config, str(region) if region else None)
        return ExportDeliveryError(
            UPLOAD_STEP, f"writing s3://{config.bucket}/{key} failed: {code}: {_aws_message(error)}"
        )
    if isinstance(error, BotoCoreError):
        return ExportDeliveryError(UPLOAD_STEP, f"writing s3://{config.bucket}/{key} failed: {error}")
    raise error


def marker_removal_error(config: ExportConfig, key: str, error: BaseException) -> ExportDeliveryError:
    """The connection test wrote its marker but could not remove it again."""
    if isinstance(error, ClientError) and _code(error) == "AccessDenied":
        return ExportDeliveryError(
            REMOVE_MARKER_STEP,
            f"role {config.role_arn} may not remove the test marker s3://{config.bucket}/{key}: attach the "
            f"current permissions policy (s3:DeleteObject on "
            f"{connection_test_resource(config.bucket, config.prefix)} only); exports still work, the marker stays",
        )
    delivery_error = upload_error(config, key, error)
    return ExportDeliveryError(REMOVE_MARKER_STEP, str(delivery_error).replace("writing", "removing", 1))
