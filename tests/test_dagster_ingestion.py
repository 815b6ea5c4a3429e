"""Ingestion through Dagster: definitions load, the sensor, run history and the CLI on top of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.landing_sensor import landing_sensor
from audit_pipeline.settings import Paths
from tests.conftest import event, land_records, pipeline_resources

ROOT = Path(__file__).resolve().parent.parent


def test_definitions_validate_like_the_dagster_cli_does(paths: Paths) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_definitions_hold_the_ingestion_assets_checks_job_and_sensor() -> None:
    from audit_pipeline.definitions import defs

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "audit_events" in keys
    assert "reader_snapshot" not in keys, "readers attach the lake: nothing is copied for them"
    assert defs.resolve_job_def("ingest_job") is not None
    assert defs.resolve_sensor_def("landing_sensor").job_name == "ingest_job"
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert {"no_duplicate_event_ids_per_org", "no_event_without_org", "quarantine_did_not_grow"} <= checks


def test_sensor_requests_one_run_per_new_set_of_files(paths: Paths) -> None:
    store = AuditStore(home=str(paths.home))
    with dg.instance_for_test() as instance:
        empty = landing_sensor(dg.build_sensor_context(instance=instance, resources=pipeline_resources(store)))
        assert isinstance(empty, dg.SensorResult) and not empty.run_requests
        land_records(paths, [event("e1")], name="a.jsonl")
        first = landing_sensor(dg.build_sensor_context(instance=instance, resources=pipeline_resources(store)))
        assert isinstance(first, dg.SensorResult) and len(first.run_requests or []) == 1
        again = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor,
                                                       resources=pipeline_resources(store)))
        assert isinstance(again, dg.SensorResult) and not again.run_requests
        land_records(paths, [event("e2")], name="b.jsonl")
        more = landing_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor,
                                                      resources=pipeline_resources(store)))
        assert isinstance(more, dg.SensorResult) and len(more.run_requests or []) == 1


def test_cli_ingest_runs_in_dagster_run_history_with_metadata_and_checks(
    paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "incoming"
    source.mkdir()
    (source / "a.jsonl").write_text("\n".join([json.dumps(event("e1")), "broken", json.dumps(event("e1"))]))
    (source / "b.ndjson").write_text(json.dumps(event("e2", org_id="globex")) + "\n")
    assert main(["ingest", str(source), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in ("ingested", "duplicates", "quarantined")} == {
        "ingested": 2, "duplicates": 1, "quarantined": 1}

    with dg.DagsterInstance.get() as instance:
        record = instance.get_run_record_by_id(summary["run_id"])
        assert record is not None and record.dagster_run.is_success
        materialization = instance.get_latest_materialization_event(dg.AssetKey("audit_events"))
        assert materialization is not None
        metadata = materialization.asset_materialization.metadata  # type: ignore[union-attr]
        assert metadata["total_events"].value == 2 and metadata["quarantined"].value == 1
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("audit_events"), "quarantine_did_not_grow")])
        evaluation = next(iter(check.values())).evaluation  # type: ignore[union-attr]
        assert evaluation is not None and evaluation.passed is False
        assert evaluation.severity == dg.AssetCheckSeverity.WARN


def test_cli_ingest_rejects_unusable_paths_with_one_line(
    paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.strip().endswith(f"no such file or folder: {tmp_path / 'missing.jsonl'}")
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["ingest", str(tmp_path / "notes.txt")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(empty)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("audit-pipeline: ") for line in errors)


def test_processes_opening_a_fresh_dagster_home_at_once_all_work(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    code = (
        "import pathlib, dagster as dg\n"
        "from audit_pipeline.settings import Paths\n"
        "from audit_pipeline.dagster_home import ensure_dagster_home\n"
        f"ensure_dagster_home(Paths(pathlib.Path({str(home)!r})).ensure())\n"
        "with dg.DagsterInstance.get() as instance:\n"
        "    print(len(instance.get_runs()))\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"})
                 for _ in range(4)]
    try:
        outcomes = [process.communicate(timeout=180) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert [process.returncode for process in processes] == [0, 0, 0, 0], [err[-500:] for _, err in outcomes]
    assert [out.strip() for out, _ in outcomes] == ["0", "0", "0", "0"]
