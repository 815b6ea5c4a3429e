"""One schedule per export config: first tick at the next full UTC hour, then every K hours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.export.config import ExportConfig, ExportSettings, next_full_hour
from audit_pipeline.export.config_store import remove_config, save_config, set_enabled
from audit_pipeline.export.timing import is_export_due, next_export_at
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.export_schedules import build_export_schedules, export_schedule, schedule_name
from audit_pipeline.settings import Paths

ROOT = Path(__file__).resolve().parent.parent
SAVED_AT = datetime(2026, 11, 20, 10, 17, 42, tzinfo=UTC)


def save(paths: Paths, frequency_hours: int, name: str = "acme-prod", now: datetime = SAVED_AT) -> ExportConfig:
    config, _ = save_config(paths, ExportSettings(
        name=name, org_id="acme", bucket="acme-audit", region="eu-west-1", prefix="",
        frequency_hours=frequency_hours, role_arn="arn:aws:iam::123456789012:role/audit-export",
    ), now=now)
    return config


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(
    schedule: dg.ScheduleDefinition, when: datetime, instance: dg.DagsterInstance
) -> dg.RunRequest | dg.SkipReason:
    context = dg.build_schedule_context(scheduled_execution_time=when, instance=instance,
                                        resources={"store": AuditStore()})
    result = schedule(context)
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


def test_first_export_is_at_the_next_full_hour() -> None:
    assert next_full_hour(SAVED_AT) == datetime(2026, 11, 20, 11, tzinfo=UTC)
    on_the_hour = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert next_full_hour(on_the_hour) == datetime(2026, 11, 20, 11, tzinfo=UTC)
    late_evening = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert next_full_hour(late_evening) == datetime(2027, 1, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize("frequency_hours", [1, 5, 24])
def test_ticks_request_runs_exactly_on_the_run_times(
    paths: Paths, instance: dg.DagsterInstance, frequency_hours: int
) -> None:
    config = save(paths, frequency_hours)
    first = datetime(2026, 11, 20, 11, tzinfo=UTC)
    assert config.first_export_at == first
    start = datetime(2026, 11, 20, 8, tzinfo=UTC)
    ticks = [start + timedelta(hours=h) for h in range(54)]  # two days after the first run time
    schedule = export_schedule(config)
    requested = []
    for when in ticks:
        result = tick(schedule, when, instance)
        if isinstance(result, dg.RunRequest):
            requested.append(when)
            assert result.partition_key == "acme-prod"
            assert result.tags[EXPORT_CONFIG_TAG] == "acme-prod"
            assert result.run_key == f"acme-prod@{when.isoformat()}"
        else:
            assert result.skip_message and "next at" in result.skip_message
    expected = [first + timedelta(hours=frequency_hours * n) for n in range(len(ticks))
                if first + timedelta(hours=frequency_hours * n) <= ticks[-1]]
    assert len(expected) >= 3
    assert requested == expected
    assert requested[0] == first
    assert instance.has_dynamic_partition("export_configs", "acme-prod")


@pytest.mark.parametrize("frequency_hours", [1, 5, 24])
def test_next_export_time_agrees_with_the_ticks(frequency_hours: int) -> None:
    first = datetime(2026, 11, 20, 11, tzinfo=UTC)
    moment = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    for _ in range(60):
        upcoming = next_export_at(first, frequency_hours, moment)
        assert upcoming >= moment and is_export_due(first, frequency_hours, upcoming)
        hours_between = int((upcoming - moment).total_seconds() // 3600)
        for hour in range(hours_between):
            candidate = (moment + timedelta(hours=hour + 1)).replace(minute=0, second=0, microsecond=0)
            if candidate < upcoming:
                assert not is_export_due(first, frequency_hours, candidate)
        moment += timedelta(hours=1, minutes=7)


def test_disabled_and_removed_exports_skip_without_reloading(paths: Paths, instance: dg.DagsterInstance) -> None:
    config = save(paths, 1)
    due = config.first_export_at
    schedule = export_schedule(config)
    set_enabled(paths, config.name, False)
    skipped = tick(schedule, due, instance)
    assert isinstance(skipped, dg.SkipReason) and "disabled" in (skipped.skip_message or "")
    set_enabled(paths, config.name, True)
    assert isinstance(tick(schedule, due, instance), dg.RunRequest)
    remove_config(paths, config.name)
    removed = tick(schedule, due, instance)
    assert isinstance(removed, dg.SkipReason) and "removed" in (removed.skip_message or "")


def test_one_running_schedule_per_stored_config(paths: Paths) -> None:
    assert build_export_schedules(paths) == []
    save(paths, 1, name="acme-prod")
    save(paths, 6, name="acme-eu")
    schedules = build_export_schedules(paths)
    assert sorted(s.name for s in schedules) == ["export_acme_eu", "export_acme_prod"]
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules)
    assert all(s.cron_schedule == "0 * * * *" and s.execution_timezone == "UTC" for s in schedules)
    assert schedule_name("acme-eu") == "export_acme_eu"


def test_definitions_load_builds_schedules_from_the_store_without_network(paths: Paths) -> None:
    save(paths, 3, name="acme-prod")
    environment = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    script = ("import json; import dagster as dg; from audit_pipeline.definitions import defs; "
              "dg.Definitions.validate_loadable(defs); "
              "print(json.dumps(sorted(s.name for s in defs.schedules)))")
    completed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment,
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == [
        "export_acme_prod", "investigation_compaction_daily", "lake_maintenance_daily"]
