"""Bad configuration values are refused with the rule they break; AWS failures name their cause and fix."""

from __future__ import annotations

import json

import pytest

from audit_pipeline.export.aws import MissingExternalIdError, S3Destination, assumed_role_session
from audit_pipeline.export.config import (
    ExportConfigError,
    ExportSettings,
    normalize_prefix,
    validate_bucket,
    validate_frequency,
    validate_org_id,
    validate_region,
    validate_role_arn,
)
from audit_pipeline.export.config_store import get_config, save_config
from audit_pipeline.export.errors import ExportDeliveryError
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records


@pytest.mark.parametrize("bucket", ["abc", "my.bucket-1", "a" * 63, "audit-logs-2026"])
def test_valid_bucket_names(bucket: str) -> None:
    assert validate_bucket(bucket) == bucket


@pytest.mark.parametrize("bucket", ["ab", "a" * 64, "My-Bucket", "bucket_1", "-abc", "abc-", "a..b", "a.-b",
                                    "192.168.1.1", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3",
                                    "s3://abc"])
def test_invalid_bucket_names(bucket: str) -> None:
    with pytest.raises(ExportConfigError, match="not a valid S3 bucket name"):
        validate_bucket(bucket)


def test_regions_come_from_botocore() -> None:
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1"):
        assert validate_region(region) == region
    for region in ("", "us-east", "EU-WEST-1", "mars-north-1"):
        with pytest.raises(ExportConfigError, match="not an AWS region"):
            validate_region(region)


@pytest.mark.parametrize(("raw", "normalized"), [
    ("", ""), ("/", ""), ("logs", "logs"), ("/logs/audit/", "logs/audit"), ("a b/ü", "a b/ü"),
])
def test_prefixes_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_prefix(raw) == normalized


@pytest.mark.parametrize(("raw", "message"), [
    ("a//b", "empty"), ("a/./b", "'.'"), ("../b", "'..'"), ("a\x00b", "control characters"),
    ("a\nb", "control characters"), ("x" * 513, "512 bytes"), ("é" * 257, "512 bytes"),
    ("logs/*", "wildcard"), ("logs/${aws:username}", "wildcard"),
])
def test_bad_prefixes_are_refused(raw: str, message: str) -> None:
    with pytest.raises(ExportConfigError, match=message.replace("*", r"\*").replace(".", r"\.")):
        normalize_prefix(raw)


def test_role_arns() -> None:
    for arn in ("arn:aws:iam::123456789012:role/audit-export",
                "arn:aws:iam::123456789012:role/service/path/audit+export=1,a.b@c-d",
                "arn:aws-cn:iam::123456789012:role/x"):
        assert validate_role_arn(arn) == arn
    for arn in ("arn:aws:iam::12345678901:role/x", "arn:aws:iam::123456789012:user/x",
                "arn:aws:iam::123456789012:role/", "arn:aws:s3:::bucket", "role/x",
                "arn:aws:iam::123456789012:role/" + "x" * 65):
        with pytest.raises(ExportConfigError, match="not an IAM role ARN"):
            validate_role_arn(arn)


def test_frequency_is_one_to_twenty_four_hours() -> None:
    assert [validate_frequency(h) for h in (1, 12, 24)] == [1, 12, 24]
    for hours in (0, -1, 25, 48):
        with pytest.raises(ExportConfigError, match="from 1 to 24"):
            validate_frequency(hours)


def test_org_ids_must_fit_in_a_folder_name() -> None:
    assert validate_org_id("acme-123") == "acme-123"
    for org in ("", "a/b", "..", "a\tb", "x" * 257):
        with pytest.raises(ExportConfigError):
            validate_org_id(org)


def test_an_export_cannot_move_to_another_org(paths: Paths) -> None:
    settings = ExportSettings(name="acme-prod", org_id="acme", bucket="acme-audit", region="eu-west-1",
                              prefix="", frequency_hours=1, role_arn="arn:aws:iam::123456789012:role/x")
    save_config(paths, settings)
    with pytest.raises(ExportConfigError, match="cannot move to another org"):
        save_config(paths, ExportSettings(**{**settings.__dict__, "org_id": "globex"}))
    assert get_config(paths, "acme-prod").org_id == "acme"


@pytest.fixture
def one_event(paths: Paths) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)


def deliver(paths: Paths, name: str = "acme-prod") -> ExportDeliveryError:
    config = get_config(paths, name)
    with pytest.raises(ExportDeliveryError) as failure:
        run_export(paths, config, S3Destination(config), run_id="failing-run")
    return failure.value


def test_role_without_put_object(paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox, create_role=False)
    read_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-audit/*"}]}
    aws_sandbox.create_customer_role("acme-prod-role", external_id=config.external_id, bucket="acme-audit",
                                     permissions=read_only)
    error = deliver(paths)
    assert error.step == "upload"
    assert "may not write s3://acme-audit/exports/audit/audit-logs/org_id=acme/" in str(error)
    assert "s3:PutObject on arn:aws:s3:::acme-audit/exports/audit/*" in str(error)
    assert aws_sandbox.list_keys("acme-audit") == []


def test_writing_outside_the_allowed_prefix_is_refused(
    paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox, create_role=False)
    aws_sandbox.create_customer_role("acme-prod-role", external_id=config.external_id, bucket="acme-audit",
                                     prefix="somewhere-else")
    assert "may not write" in str(deliver(paths))


def test_bucket_that_does_not_exist(paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None) -> None:  # noqa: F811
    configure_export(paths, aws_sandbox, create_bucket=False)
    error = deliver(paths)
    assert error.step == "upload"
    assert "bucket acme-audit does not exist" in str(error)


def test_bucket_in_another_region(paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox, region="us-east-1", create_bucket=False)
    aws_sandbox.create_bucket("acme-audit", "eu-central-1")
    error = deliver(paths)
    assert str(error).startswith("bucket acme-audit is in eu-central-1, not us-east-1")
    assert "--region eu-central-1" in str(error)
    assert aws_sandbox.list_keys("acme-audit") == []
    assert config.region == "us-east-1"


def test_sts_unreachable(paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None,  # noqa: F811
                         monkeypatch: pytest.MonkeyPatch) -> None:
    configure_export(paths, aws_sandbox)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")
    error = deliver(paths)
    assert error.step == "assume-role"
    assert "could not reach AWS STS" in str(error)


def test_no_credentials_of_our_own(paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None,  # noqa: F811
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    configure_export(paths, aws_sandbox)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    error = deliver(paths)
    assert error.step == "assume-role" and "no AWS credentials" in str(error)


def test_assume_role_never_leaves_without_the_external_id(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    session = assumed_role_session(config.__class__(**{**config.__dict__, "external_id": ""}))
    credentials = session.get_credentials()
    assert credentials is not None
    with pytest.raises(MissingExternalIdError):
        credentials.get_frozen_credentials()
    assert aws_sandbox.assume_role_requests == []
    S3Destination(config).assume_role()
    sent = aws_sandbox.assume_role_requests
    assert [r["ExternalId"] for r in sent] == [config.external_id]
    assert sent[0]["RoleArn"] == config.role_arn and sent[0]["RoleSessionName"] == "audit-pipeline-export-acme-prod"


def test_printed_permissions_policy_is_exactly_enough(
    paths: Paths, aws_sandbox: LocalAwsSandbox, one_event: None  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    policy = aws_sandbox.admin_client("iam").get_role_policy(
        RoleName="acme-prod-role", PolicyName="audit-log-export")["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy["Statement"][0]["Action"] == "s3:PutObject"
    result = run_export(paths, config, S3Destination(config), run_id="ok")
    assert result.plan.events == 1
