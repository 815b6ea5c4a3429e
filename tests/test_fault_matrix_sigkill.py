"""Fault matrix: the exporting process SIGKILLed, a real child process running `audit-pipeline export run`.

The local AWS server runs in this process; the child talks to it over HTTP as the exporter identity and kills
itself with SIGKILL at a chosen point (a hook installed by tests.fault_helpers, not by the product). The
next run must rewrite the same keys with the same bytes and record the delivery; nothing is lost or doubled.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.cli.main import main
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import PART_BYTES_ENV, run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import (
    KILL_AFTER_FIRST_PART,
    KILL_BEFORE_BOOKKEEPING,
    KILL_POINT_ENV,
    assert_bucket_holds_exactly,
    child_environment,
    object_bodies,
    run_cli_child,
    run_export_child,
)

BUCKET = "acme-audit"
DATA_FOLDER = "exports/audit/audit-logs/"
DIGEST_FOLDER = "exports/audit/audit-logs-digest/"
SMALL_PARTS = 1_500


def ingest(paths: Paths, prefix: str, count: int) -> list[str]:
    ids = [f"{prefix}-{i}" for i in range(count)]
    land_records(paths, [event(i) for i in ids], name=f"{prefix}.jsonl")
    ingest_now(paths)
    return ids


def recorded_exports(paths: Paths) -> list[tuple[int, str, list[str]]]:
    """(export number, status, planned keys) of every export in the writers' database."""
    with writer(paths) as connection:
        rows = connection.execute(
            "SELECT d.export_number, d.status, list(p.object_key ORDER BY p.part_number) "
            "FROM export_deliveries d JOIN export_parts p USING (config_id, export_number) "
            "GROUP BY d.export_number, d.status ORDER BY d.export_number"
        ).fetchall()
    return [(int(number), str(status), list(keys)) for number, status, keys in rows]


def export_runs(paths: Paths, name: str) -> list[dg.RunRecord]:
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        return list(instance.get_run_records(dg.RunsFilter(tags={EXPORT_CONFIG_TAG: name})))


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--format", "json"]) == 0, capsys.readouterr().err
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_cli_export_killed_between_upload_and_bookkeeping_then_run_again(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PART_BYTES_ENV, str(SMALL_PARTS))
    config = configure_export(paths, aws_sandbox)
    first = ingest(paths, "first", 30)

    killed = run_cli_child(["export", "run", config.name, "--format", "json"],
                           child_environment(**{KILL_POINT_ENV: KILL_BEFORE_BOOKKEEPING}))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert killed.stdout == ""
    [(number, status, planned_keys)] = recorded_exports(paths)
    assert (number, status) == (1, "planned"), "the delivery was never recorded"
    assert len(planned_keys) > 2
    assert aws_sandbox.list_keys(BUCKET, DATA_FOLDER) == sorted(planned_keys), "every part was uploaded"
    assert len(aws_sandbox.list_keys(BUCKET, DIGEST_FOLDER)) == 1, "and the digest after them, then the kill"
    before = object_bodies(aws_sandbox, BUCKET)

    # Dagster never heard of the death: the run stays STARTED until an operator terminates it.
    [dead_run] = export_runs(paths, config.name)
    assert dead_run.dagster_run.status == dg.DagsterRunStatus.STARTED
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        instance.report_run_canceled(dead_run.dagster_run, message="the export process was killed")

    second = ingest(paths, "second", 5)
    retried = run_in_process(capsys, "export", "run", config.name)
    assert retried["retry_of_planned_export"] is True
    assert (retried["export_number"], retried["events_exported"]) == (1, 30)
    assert retried["object_keys"] == planned_keys
    assert object_bodies(aws_sandbox, BUCKET) == before, "the same keys (digest too) rewritten with the same bytes"
    assert [(n, s) for n, s, _ in recorded_exports(paths)] == [(1, "delivered")]

    following = run_in_process(capsys, "export", "run", config.name)
    assert (following["export_number"], following["events_exported"]) == (2, 5)
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", [*first, *second])
    statuses = [r.dagster_run.status for r in export_runs(paths, config.name)]
    assert statuses == [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED]


def test_export_killed_after_its_first_part_then_run_again(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox, gzip=True)
    first = ingest(paths, "first", 30)

    killed = run_export_child(config.name, SMALL_PARTS,
                              child_environment(**{KILL_POINT_ENV: KILL_AFTER_FIRST_PART}))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [(number, status, planned_keys)] = recorded_exports(paths)
    assert (number, status) == (1, "planned")
    assert len(planned_keys) > 2
    assert aws_sandbox.list_keys(BUCKET) == planned_keys[:1], "only the first part got out"
    before = object_bodies(aws_sandbox, BUCKET)

    second = ingest(paths, "second", 5)
    retried = run_export(paths, config, S3Destination(config), run_id="run-2", part_bytes=SMALL_PARTS)
    assert retried.plan.resumed and retried.object_keys == planned_keys
    after = object_bodies(aws_sandbox, BUCKET)
    assert {key: after[key] for key in before} == before, "the first part rewritten as is"
    following = run_export(paths, config, S3Destination(config), run_id="run-3", part_bytes=SMALL_PARTS)
    assert following.plan.events == 5
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", [*first, *second])
