"""Shared by the digest tests: an export history in the local sandbox, the optional read policy, and the
tamperings an attacker with write access to the customer's bucket could try."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.digest import canonical_bytes
from audit_pipeline.export.policies import read_policy
from audit_pipeline.export.runner import ExportResult, run_export
from audit_pipeline.export.signing import key_id
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import configure_export
from tests.conftest import event, ingest_now, land_records

BUCKET = "acme-audit"
DATA = "exports/audit/audit-logs/org_id=acme/"
DIGESTS = "exports/audit/audit-logs-digest/org_id=acme/"


def attach_read_policy(sandbox: LocalAwsSandbox, config: ExportConfig) -> None:
    """What a customer does who wants `export verify`: the optional read policy beside the write one."""
    sandbox.admin_client("iam").put_role_policy(
        RoleName=config.role_arn.rsplit("/", 1)[-1], PolicyName="audit-log-verify",
        PolicyDocument=json.dumps(read_policy(config.bucket, config.prefix)),
    )


def export_history(paths: Paths, config: ExportConfig) -> list[ExportResult]:
    """Three exports: one of several parts, an empty window, and a small one with a System event."""
    results = []
    for number, records in enumerate([
        [event(f"a{i}") for i in range(30)],
        [],
        [event("c1"), event("c2", log_type="System", action="Maintenance", user_email=None, user_name=None)],
    ]):
        if records:
            land_records(paths, records, name=f"batch-{number}.jsonl")
            ingest_now(paths)
        results.append(run_export(paths, config, S3Destination(config), run_id=f"run-{number}",
                                  part_bytes=3_000))
    return results


@pytest.fixture
def history(paths: Paths, aws_sandbox: LocalAwsSandbox) -> tuple[ExportConfig, list[ExportResult]]:
    config = configure_export(paths, aws_sandbox)
    results = export_history(paths, config)
    attach_read_policy(aws_sandbox, config)
    return config, results


def _rewrite(sandbox: LocalAwsSandbox, key: str, body: bytes) -> None:
    sandbox.admin_client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def _delete(sandbox: LocalAwsSandbox, key: str) -> None:
    sandbox.admin_client("s3").delete_object(Bucket=BUCKET, Key=key)


def flip_a_byte(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    key = sandbox.list_keys(BUCKET, DATA)[1]
    body = bytearray(sandbox.read_object(BUCKET, key))
    body[10] = ord("X") if body[10] != ord("X") else ord("Y")
    _rewrite(sandbox, key, bytes(body))
    return "modified", key


def delete_a_data_file(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    key = sandbox.list_keys(BUCKET, DATA)[0]
    _delete(sandbox, key)
    return "missing", key


def delete_a_digest(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    key = sandbox.list_keys(BUCKET, DIGESTS)[1]
    _delete(sandbox, key)
    return "missing", key


def delete_the_newest_digest(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    key = sandbox.list_keys(BUCKET, DIGESTS)[-1]
    _delete(sandbox, key)
    return "missing", key


def add_a_foreign_file(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    folder = sandbox.list_keys(BUCKET, DATA)[0].rsplit("/", 1)[0]
    key = f"{folder}/planted.json"
    _rewrite(sandbox, key, b'{"event_id":"planted"}\n')
    return "unlisted", key


def re_sign_a_digest(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    key = sandbox.list_keys(BUCKET, DIGESTS)[-1]
    document = json.loads(sandbox.read_object(BUCKET, key))
    del document["signature"]
    document["files"][0]["sha256"] = "0" * 64  # what an attacker re-signing a digest would want to change
    other = Ed25519PrivateKey.generate()
    document["signing_key_id"] = key_id(other.public_key())
    signature = other.sign(canonical_bytes(document))
    _rewrite(sandbox, key, canonical_bytes({**document, "signature": base64.b64encode(signature).decode()}))
    return "bad-signature", key


def swap_two_digests(sandbox: LocalAwsSandbox) -> tuple[str, str]:
    first, second = sandbox.list_keys(BUCKET, DIGESTS)[:2]
    one, two = sandbox.read_object(BUCKET, first), sandbox.read_object(BUCKET, second)
    _rewrite(sandbox, first, two)
    _rewrite(sandbox, second, one)
    return "chain-broken", first
