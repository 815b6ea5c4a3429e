"""Fault matrix: ingestion, export and a reader running at the same time in three processes, each through
the CLI (and so through Dagster for ingestion and export). No lock error may reach any of them, every
command succeeds, and the bucket ends up with every event of the org exactly once."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import dagster as dg

from audit_pipeline.assets.export import EXPORT_CONFIGS_PARTITIONS
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import PART_BYTES_ENV, run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import (
    CHILD_WAIT_SECONDS,
    assert_bucket_holds_exactly,
    child_environment,
    child_processes,
    read_loop_results,
    start_cli_loop,
    wait_until_ready,
)

BUCKET = "acme-audit"
BATCHES = 2
EVENTS_PER_BATCH = 15
LOCK_MESSAGES = ("Could not set lock", "Conflicting lock", "database is locked", "stayed locked", "Traceback")


def write_batches(folder: Path) -> tuple[list[Path], list[str]]:
    """Files for the ingesting process; every third event belongs to another org. Returns the org's ids."""
    folder.mkdir()
    files, acme_ids = [], []
    for number in range(BATCHES):
        records = [event(f"b{number}-{i}", org_id="globex" if i % 3 == 0 else "acme")
                   for i in range(EVENTS_PER_BATCH)]
        acme_ids += [r["event_id"] for r in records if r["org_id"] == "acme"]
        target = folder / f"batch-{number}.jsonl"
        target.write_text("".join(json.dumps(r) + "\n" for r in records))
        files.append(target)
    return files, acme_ids


def test_ingest_export_and_reader_in_parallel_processes(
    paths: Paths, aws_sandbox: LocalAwsSandbox, tmp_path: Path  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    # As `export configure` does: this also creates Dagster's storage, which one process must create
    # before several share it (see docs/guarantees.md, "Operating it").
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(EXPORT_CONFIGS_PARTITIONS, [config.name])
    seed = [f"seed-{i}" for i in range(10)]
    land_records(paths, [event(i) for i in seed], name="seed.jsonl")
    ingest_now(paths)
    files, batch_ids = write_batches(tmp_path / "batches")

    commands = {
        "ingest": [["ingest", str(f), "--format", "json"] for f in files],
        "export": [["export", "run", config.name, "--format", "json"] for _ in range(BATCHES)],
        "reader": [["logs", "--org", "acme", "--limit", "5", "--format", "json"]],
    }
    control = tmp_path / "control"
    environment = child_environment(**{PART_BYTES_ENV: "1500"})
    with child_processes() as started:
        for name, argvs in commands.items():
            until = "ingest" if name == "reader" else None  # read over the whole ingestion
            started.append(start_cli_loop(argvs, control, name, environment, repeat_until_done=until))
        wait_until_ready(control, commands, started)
        for process in started:
            _, stderr = process.communicate(timeout=CHILD_WAIT_SECONDS)
            assert process.returncode == 0, stderr
    results = {name: read_loop_results(control, name) for name in commands}

    for name, runs in results.items():
        for run in runs:
            assert run["code"] == 0, f"{name} {run['command']} failed: {run['stderr']}"
            assert not [m for m in LOCK_MESSAGES if m in run["stderr"]], run["stderr"]
    spans = [(runs[0]["started"], runs[-1]["ended"]) for runs in results.values()]
    assert max(s for s, _ in spans) < min(e for _, e in spans), "the three processes ran at the same time"

    ingested = [json.loads(r["stdout"]) for r in results["ingest"]]
    assert sum(i["ingested"] for i in ingested) == BATCHES * EVENTS_PER_BATCH
    totals = [json.loads(r["stdout"])["total"] for r in results["reader"]]
    assert totals == sorted(totals), "a reader never sees the event count go back"
    assert len(set(totals)) > 1, "the reader read while ingestion changed the events"
    assert len(seed) <= totals[0] and totals[-1] <= len(seed) + len(batch_ids)
    exports = [json.loads(r["stdout"]) for r in results["export"]]
    assert [e["export_number"] for e in exports] == list(range(1, BATCHES + 1))
    assert not any(e["retry_of_planned_export"] for e in exports)
    for earlier, later in pairwise(exports):
        assert later["window"]["from_seq"] == earlier["window"]["to_seq"]

    run_export(paths, config, S3Destination(config), run_id="after-the-race", part_bytes=1_500)
    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme", seed + batch_ids)
