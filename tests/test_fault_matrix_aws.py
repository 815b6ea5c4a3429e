"""Fault matrix, AWS side: STS refusing the role, and S3 going away in the middle of an export.

Each case ends with every object of the bucket read back: each event of the org exactly once, nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.bookkeeping import delivery_history
from audit_pipeline.export.config import ExportConfig, ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.export.errors import ExportDeliveryError
from audit_pipeline.export.policies import trust_policy
from audit_pipeline.export.runner import PART_BYTES_ENV, run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import (
    StopServerAfterParts,
    assert_bucket_holds_exactly,
    exported_ids,
    object_bodies,
)

BUCKET = "acme-audit"
SMALL_PARTS = 1_500


def ingest(paths: Paths, prefix: str, count: int, org_id: str = "acme") -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    land_records(paths, [event(i, org_id=org_id) for i in ids], name=f"{prefix}.jsonl")
    ingest_now(paths)
    return ids


def replace_prefix(config: ExportConfig, prefix: str) -> ExportSettings:
    """The settings `export configure` would receive to change only the prefix."""
    return ExportSettings(name=config.name, org_id=config.org_id, bucket=config.bucket, region=config.region,
                          prefix=prefix, frequency_hours=config.frequency_hours, role_arn=config.role_arn,
                          gzip=config.gzip)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main([*argv, "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def test_sts_denies_a_wrong_external_id_then_the_fixed_role_gets_everything_once(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PART_BYTES_ENV, str(SMALL_PARTS))
    config = configure_export(paths, aws_sandbox, create_role=False)
    # The customer pasted the external id of another export into the role's trust policy.
    aws_sandbox.create_customer_role("acme-prod-role", external_id="external-id-of-another-export-00000000",
                                     bucket=BUCKET, prefix=config.prefix)
    first = ingest(paths, "first", 12)
    ingest(paths, "other", 5, org_id="globex")

    code, out, err = cli(capsys, "export", "run", config.name)
    assert (code, out) == (1, None)
    verdict = err.splitlines()[-1]
    assert verdict.startswith(f"audit-pipeline: export {config.name} failed:")
    assert "trust policy" in verdict and config.external_id in verdict and "assume-role" in verdict
    assert aws_sandbox.list_keys(BUCKET) == []
    _, shown, _ = cli(capsys, "export", "show", config.name)
    assert shown["last_export"]["status"] == "FAILURE"
    assert "trust policy" in shown["last_export"]["error"]
    assert "last_successful_export" not in shown["last_export"]

    second = ingest(paths, "second", 4)
    aws_sandbox.admin_client("iam").update_assume_role_policy(
        RoleName="acme-prod-role", PolicyDocument=json.dumps(trust_policy(config.external_id)),
    )
    code, retried, _ = cli(capsys, "export", "run", config.name)
    assert code == 0
    assert retried["retry_of_planned_export"] is True and retried["export_number"] == 1
    assert retried["events_exported"] == 12, "the retry delivers the window planned before the denial"
    assert len(retried["objects"]) > 1
    code, following, _ = cli(capsys, "export", "run", config.name)
    assert code == 0
    assert (following["export_number"], following["events_exported"]) == (2, 4)
    assert following["retry_of_planned_export"] is False
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", [*first, *second])


def test_s3_down_in_the_middle_of_an_export_then_back(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    first = ingest(paths, "first", 30)
    failing = StopServerAfterParts(S3Destination(config), aws_sandbox, parts=1)
    with pytest.raises(ExportDeliveryError) as down:
        run_export(paths, config, failing, run_id="run-1", part_bytes=SMALL_PARTS)
    assert down.value.step == "upload" and "could not reach Amazon S3" in str(down.value)
    assert len(failing.uploaded) == 1
    with writer(paths) as connection:
        [planned] = delivery_history(connection, config.config_id)
    assert len(planned.parts) > 2, "several parts, only the first of them written"

    second = ingest(paths, "second", 6)  # ingestion does not need S3
    aws_sandbox.start()
    assert aws_sandbox.list_keys(BUCKET) == failing.uploaded
    before = object_bodies(aws_sandbox, BUCKET)

    retried = run_export(paths, config, S3Destination(config), run_id="run-2", part_bytes=SMALL_PARTS)
    assert retried.plan == planned and retried.plan.resumed, "the same window, parts and keys"
    assert retried.object_keys == [p.object_key for p in planned.parts]
    after = object_bodies(aws_sandbox, BUCKET)
    assert {key: after[key] for key in before} == before, "the part written before the outage, rewritten as is"
    assert sorted(exported_ids(aws_sandbox, BUCKET)) == sorted(first)

    following = run_export(paths, config, S3Destination(config), run_id="run-3", part_bytes=SMALL_PARTS)
    assert following.plan.events == 6 and not following.plan.resumed
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", [*first, *second])


def test_upload_denied_by_a_prefix_typo_then_the_prefix_is_corrected(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox, prefix="audti", create_role=False)
    # The customer's role may write below the prefix they meant; the export was configured with a typo.
    aws_sandbox.create_customer_role("acme-prod-role", external_id=config.external_id, bucket=BUCKET,
                                     prefix="audit")
    first = ingest(paths, "first", 20)
    with pytest.raises(ExportDeliveryError) as denied:
        run_export(paths, config, S3Destination(config), run_id="run-1", part_bytes=SMALL_PARTS)
    assert denied.value.step == "upload" and "may not write" in str(denied.value)

    corrected, created = save_config(paths, replace_prefix(config, "audit"))
    assert not created and corrected.config_id == config.config_id
    second = ingest(paths, "second", 3)
    retried = run_export(paths, corrected, S3Destination(corrected), run_id="run-2", part_bytes=SMALL_PARTS)
    assert retried.plan.resumed and retried.plan.events == 20
    assert all(key.startswith("audit/audit-logs/org_id=acme/") for key in retried.object_keys)
    run_export(paths, corrected, S3Destination(corrected), run_id="run-3", part_bytes=SMALL_PARTS)
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", [*first, *second])
