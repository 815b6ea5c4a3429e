"""The export's asset checks on real runs: delivered objects read back through the role (moto, IAM on),
windows and event counts against the store, and each config's health check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export, export_configs_partitions
from audit_pipeline.assets.export_checks import (
    events_match_window_check,
    export_health_check,
    objects_as_planned_check,
    window_continues_check,
)
from audit_pipeline.export.health import ExportHealth, health_verdict
from audit_pipeline.export.policies import permissions_policy, read_policy
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.test_export_health import CONFIG, FIRST

DELIVERY_CHECKS = [objects_as_planned_check, window_continues_check, events_match_window_check]


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(export_configs_partitions.name or "", ["acme-prod"])
        yield test_instance


def run(instance: dg.DagsterInstance, *checks: dg.AssetChecksDefinition,
        only_checks: bool = False) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [audit_log_export, *checks], partition_key=None if only_checks else "acme-prod", instance=instance,
        raise_on_error=False,
        resources={"store": AuditStore(), "s3_export": S3ExportResource(part_bytes=2_000)},
        tags={EXPORT_CONFIG_TAG: "acme-prod"},
        selection=dg.AssetSelection.checks(*checks) if only_checks else None,
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def readable_role(paths: Paths, sandbox: LocalAwsSandbox) -> None:
    configure_export(paths, sandbox, create_role=False)
    from audit_pipeline.export.config_store import get_config

    config = get_config(paths, "acme-prod")
    write, read = permissions_policy("acme-audit", config.prefix), read_policy("acme-audit", config.prefix)
    sandbox.create_customer_role("acme-prod-role", external_id=config.external_id, bucket="acme-audit",
                                 permissions={**write, "Statement": write["Statement"] + read["Statement"]})


def test_delivered_exports_pass_every_check_and_tampering_is_caught(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event(f"a{i}") for i in range(20)])
    ingest_now(paths)
    readable_role(paths, aws_sandbox)
    for batch in range(2):
        checks = run(instance, *DELIVERY_CHECKS)
        assert {name: e.passed for name, e in checks.items()} == {
            "objects_as_planned": True, "window_continues": True, "events_match_window": True}, checks
        land_records(paths, [event(f"b{batch}-{i}") for i in range(7)], name=f"b{batch}.jsonl")
        ingest_now(paths)
    assert "starts where the previous ended" in (checks["window_continues"].description or "")

    key = aws_sandbox.list_keys("acme-audit", "exports/audit/audit-logs/")[-1]  # of the newest export
    aws_sandbox.admin_client("s3").put_object(Bucket="acme-audit", Key=key, Body=b'{"forged": true}\n')
    tampered = run(instance, objects_as_planned_check, only_checks=True)["objects_as_planned"]
    assert not tampered.passed and tampered.severity == dg.AssetCheckSeverity.ERROR


def test_a_broken_window_and_a_miscount_fail_their_checks(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event(f"a{i}") for i in range(5)])
    ingest_now(paths)
    configure_export(paths, aws_sandbox)
    run(instance)
    land_records(paths, [event(f"b{i}") for i in range(5)], name="b.jsonl")
    ingest_now(paths)
    run(instance)
    connection = database.open_writer(paths)
    connection.execute("UPDATE export_deliveries SET from_seq = from_seq + 1 WHERE export_number = 2")
    connection.execute("UPDATE export_parts SET events = events + 1 WHERE export_number = 2")
    connection.close()
    checks = run(instance, window_continues_check, events_match_window_check, only_checks=True)
    assert not checks["window_continues"].passed and "previous export ended at 5" in (
        checks["window_continues"].description or "")
    assert not checks["events_match_window"].passed


def test_without_read_permission_the_object_check_warns_and_says_what_to_attach(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)
    configure_export(paths, aws_sandbox)
    check = run(instance, objects_as_planned_check)["objects_as_planned"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "s3:GetObject" in (check.description or "") and "export show acme-prod" in (check.description or "")


def _health(lag_hours: float | None, failures: int = 0) -> ExportHealth:
    cutoff = FIRST if lag_hours is not None else None
    lag = lag_hours * 3600 if lag_hours is not None else None
    return ExportHealth("acme-prod", "healthy", cutoff, cutoff, lag, failures,
                        "step x failed: boom" if failures else None)


def test_health_verdict_warns_after_one_missed_export_and_errors_after_two() -> None:
    every_two_hours = CONFIG  # frequency 2 h, grace 15 min
    def at(hours: float) -> object:
        return health_verdict(every_two_hours, _health(0.0), FIRST + timedelta(hours=hours)).severity
    assert at(2.2) is None
    assert at(2.26) == "WARN"
    assert at(4.2) == "WARN"
    assert at(4.26) == "ERROR"
    fresh = FIRST + timedelta(minutes=5)
    assert health_verdict(every_two_hours, _health(0.0, failures=1), fresh).severity == "WARN"
    assert health_verdict(every_two_hours, _health(0.0, failures=2), fresh).severity == "ERROR"
    disabled = replace(every_two_hours, enabled=False)
    assert health_verdict(disabled, _health(0.0, failures=5), fresh).severity is None


def test_health_check_of_a_config_is_an_error_after_two_failed_runs(
    paths: Paths, aws_sandbox: LocalAwsSandbox, instance: dg.DagsterInstance  # noqa: F811
) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)
    configure_export(paths, aws_sandbox, create_bucket=False)
    health = export_health_check("acme-prod")
    verdicts = [run(instance).get("x") for _ in range(2)]
    assert verdicts == [None, None]
    check = run(instance, health, only_checks=True)["export_health_acme_prod"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "2 failed run(s) in a row" in (check.description or "")
    assert "bucket acme-audit does not exist" in (check.description or "")
