"""Export: the pipeline's export of every org's events against DuckDB's own `COPY ... TO (FORMAT json)`.

The input is the lake the pipeline ingested from the generated files (a copy of it for each measurement).
For each org the pipeline runs one first export (all of the org's events), plain and gzip:
- to S3: `audit_pipeline.export.runner.run_export` in an exporter process of its own (`export_child`) into
  the local moto sandbox (IAM checks on, the role assumed with its external id), which plans, writes the part
  files, uploads them and records the delivery;
- local files only: planning and writing the part files into staging, the part of the export that is the
  pipeline's own work before the network.
The ceiling writes the same rows from the same lake, one file per org, with `COPY (SELECT <the stored columns>
FROM lake.events WHERE org_id = ?) TO 'x.json' (FORMAT json)`, plain and with COMPRESSION gzip.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from audit_pipeline.local_aws import local_aws_sandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake
from benchmarks.datasets import Datasets, fresh_home
from benchmarks.export_process import export_in_child
from benchmarks.export_setup import configure_export, discard_local_parts, org_event_counts, write_local_parts
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import Samples, Stopwatch, compare, progress, stopwatch

RAW_COLUMNS = ("event_id, org_id, occurred_at, log_type, action, user_id, user_email, user_name, user_role, "
               "source_ip, user_agent, outcome, additional_info, received_at")
RAW_COPY_SQL = f"COPY (SELECT {RAW_COLUMNS} FROM events WHERE org_id = $org_id) TO $target "
VARIANTS = ("plain", "gzip")


def raw_copy(home: Path, work: Path, orgs: list[str], *, gzip: bool) -> Stopwatch:
    """The ceiling, read from the cached home's lake attached read-only (reading never changes it)."""
    folder = work / f"raw-export-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    options = "(FORMAT json, COMPRESSION gzip)" if gzip else "(FORMAT json)"
    connection = lake.cursor(Paths(home).lake, read_only=True)
    try:
        with stopwatch() as watch:
            for org in orgs:
                target = folder / f"{org}.json{'.gz' if gzip else ''}"
                connection.execute(RAW_COPY_SQL + options, {"org_id": org, "target": str(target)})
        return watch
    finally:
        connection.close()
        lake.close_all()
        shutil.rmtree(folder, ignore_errors=True)


def pipeline_local(home: Path, work: Path, counts: dict[str, int], *, gzip: bool) -> Stopwatch:
    paths = fresh_home(work, "export-local", home)
    try:
        configs = [configure_export(paths, f"bench-{org}", org, gzip=gzip) for org in counts]
        total = Stopwatch()
        for config in configs:
            with stopwatch() as watch:
                plan, _ = write_local_parts(paths, config, run_id=uuid.uuid4().hex)
            total.seconds += watch.seconds
            total.cpu_seconds += watch.cpu_seconds
            _check_exported(plan.events, counts[config.org_id], config.org_id)
            discard_local_parts(paths, plan)
        return total
    finally:
        lake.close_all()
        shutil.rmtree(paths.home, ignore_errors=True)


def pipeline_s3(home: Path, work: Path, counts: dict[str, int], *, gzip: bool) -> Stopwatch:
    paths = fresh_home(work, "export-s3", home)
    try:
        with local_aws_sandbox() as sandbox:
            names = [configure_export(paths, f"bench-{org}", org, gzip=gzip, sandbox=sandbox).name for org in counts]
            done = export_in_child(paths.home, names, sandbox, work / "export-child.json")
        for org, exported in done.events_by_org().items():
            _check_exported(exported, counts[org], org)
        return done.watch
    finally:
        lake.close_all()
        shutil.rmtree(paths.home, ignore_errors=True)


def _check_exported(exported: int, expected: int, org: str) -> None:
    if exported != expected:
        raise BenchmarkInputError(f"the export of org {org} held {exported:,} events, not {expected:,}")


def run(data: Datasets, work: Path, *, events: int, rounds: int) -> dict[str, object]:
    home = data.ingested_home(events)
    probe = fresh_home(work, "export-probe", home)
    counts = org_event_counts(probe)
    lake.close_all()
    shutil.rmtree(probe.home, ignore_errors=True)
    if sum(counts.values()) != events:
        raise BenchmarkInputError(f"the ingested lake holds {sum(counts.values()):,} events, not {events:,}")
    samples: dict[str, Samples] = {}
    for number in range(1, rounds + 1):
        for variant in VARIANTS:
            gzip = variant == "gzip"
            for kind, measure in (("s3", pipeline_s3), ("local", pipeline_local)):
                progress(f"export round {number}/{rounds}: pipeline {variant} to {kind} of {events:,} events")
                watch = measure(home, work, counts, gzip=gzip)
                samples.setdefault(f"pipeline_{kind}_{variant}", Samples()).add(watch)
                progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU)")
            progress(f"export round {number}/{rounds}: raw COPY {variant}")
            watch = raw_copy(home, work, list(counts), gzip=gzip)
            samples.setdefault(f"raw_{variant}", Samples()).add(watch)
            progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU)")
    figures: dict[str, object] = {"events": events, "orgs": len(counts)}
    for variant in VARIANTS:
        for kind in ("s3", "local"):
            compared = compare(samples[f"pipeline_{kind}_{variant}"], samples[f"raw_{variant}"])
            figures[f"raw_{variant}_seconds"] = compared["raw_seconds"]
            figures[f"raw_{variant}_cpu_seconds"] = compared["raw_cpu_seconds"]
            figures[f"pipeline_{kind}_{variant}_seconds"] = compared["pipeline_seconds"]
            figures[f"pipeline_{kind}_{variant}_cpu_seconds"] = compared["pipeline_cpu_seconds"]
            figures[f"{kind}_{variant}_ratio"] = compared["ratio"]
            figures[f"{kind}_{variant}_cpu_ratio"] = compared["cpu_ratio"]
    figures["samples"] = {name: values.as_dict() for name, values in samples.items()}
    figures["pipeline"] = ("run_export per org, in an exporter process of its own, to the local moto S3 served by "
                           "the benchmark process (s3: the exporter's wall and CPU time, from the first export's "
                           "start to the last one's end); plan_or_resume + write_parts into staging (local)")
    figures["raw"] = f"COPY (SELECT {RAW_COLUMNS} FROM lake.events WHERE org_id = ?) TO file, one per org"
    return figures
