"""Export health: the pure state rule, and health read from a real store and a real Dagster run history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG, audit_log_export, export_configs_partitions
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.delivery_status import LastDelivery
from audit_pipeline.export.health import assess, health_of
from audit_pipeline.export.run_history import FailureStreak
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records

FIRST = datetime(2026, 11, 20, 10, tzinfo=UTC)
CONFIG = ExportConfig(
    name="acme-prod", org_id="acme", bucket="acme-audit", region="us-east-1", prefix="", frequency_hours=2,
    role_arn="arn:aws:iam::123456789012:role/r", external_id="x" * 43, gzip=False, enabled=True,
    created_at=FIRST - timedelta(minutes=30), first_export_at=FIRST, config_id="c1",
)
NO_FAILURES = FailureStreak()


def delivered(cutoff: datetime) -> LastDelivery:
    return LastDelivery(export_number=1, cutoff_at=cutoff, delivered_at=cutoff + timedelta(seconds=5))


def test_a_delivered_export_is_healthy_until_a_run_time_plus_grace_passes() -> None:
    last = delivered(FIRST)
    on_time = assess(CONFIG, last, NO_FAILURES, FIRST + timedelta(hours=2, minutes=14))
    assert (on_time.state, on_time.lag_seconds) == ("healthy", (2 * 3600 + 14 * 60))
    late = assess(CONFIG, last, NO_FAILURES, FIRST + timedelta(hours=2, minutes=16))
    assert late.state == "late" and late.last_cutoff_at == FIRST
    assert late.last_success_at == FIRST + timedelta(seconds=5)


def test_never_delivered_is_pending_then_late_after_its_first_run_time() -> None:
    assert assess(CONFIG, None, NO_FAILURES, FIRST - timedelta(minutes=5)).state == "pending"
    overdue = assess(CONFIG, None, NO_FAILURES, FIRST + timedelta(minutes=16))
    assert (overdue.state, overdue.lag_seconds, overdue.last_cutoff_at) == ("late", None, None)


def test_failures_beat_lateness_and_disabled_beats_everything() -> None:
    streak = FailureStreak(consecutive=2, last_error="step audit_log_export failed: boom")
    failing = assess(CONFIG, delivered(FIRST), streak, FIRST + timedelta(hours=9))
    assert (failing.state, failing.consecutive_failures, failing.last_error) == (
        "failing", 2, "step audit_log_export failed: boom")
    off = assess(replace(CONFIG, enabled=False), delivered(FIRST), streak, FIRST + timedelta(hours=9))
    assert off.state == "disabled"


def test_as_dict_has_the_documented_fields() -> None:
    view = assess(CONFIG, delivered(FIRST), NO_FAILURES, FIRST + timedelta(hours=1)).as_dict()
    assert view == {
        "name": "acme-prod", "state": "healthy", "last_success_at": "2026-11-20T10:00:05Z",
        "last_cutoff_at": "2026-11-20T10:00:00Z", "lag_seconds": 3600.0, "consecutive_failures": 0,
        "last_error": None,
    }


def _materialize(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [audit_log_export], partition_key="acme-prod", instance=instance, raise_on_error=False,
        resources={"store": AuditStore(), "s3_export": S3ExportResource()},
        tags={EXPORT_CONFIG_TAG: "acme-prod"},
    )


def test_failing_export_reports_its_error_then_recovers(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)
    config = configure_export(paths, aws_sandbox, create_bucket=False)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(export_configs_partitions.name or "", ["acme-prod"])
        assert health_of(paths, [config], instance=instance)["acme-prod"].state in ("pending", "late")
        assert not _materialize(instance).success
        assert not _materialize(instance).success
        failing = health_of(paths, [config], instance=instance)["acme-prod"]
        assert (failing.state, failing.consecutive_failures) == ("failing", 2)
        assert failing.last_error is not None
        assert "step audit_log_export failed" in failing.last_error
        assert "bucket acme-audit does not exist" in failing.last_error
        aws_sandbox.create_bucket("acme-audit", "us-east-1")
        assert _materialize(instance).success
        now = datetime.now(UTC)
        healthy = health_of(paths, [config], instance=instance, now=now)["acme-prod"]
    assert (healthy.state, healthy.consecutive_failures, healthy.last_error) == ("healthy", 0, None)
    assert healthy.last_cutoff_at is not None and healthy.lag_seconds is not None
    assert 0 <= healthy.lag_seconds == (now - healthy.last_cutoff_at).total_seconds()
