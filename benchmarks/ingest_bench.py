"""Bulk ingestion: `audit-pipeline ingest` of N events end to end against DuckDB inserting the same files.

- pipeline: `audit-pipeline ingest --format json FILES` on a fresh home (the lake's schema and the Dagster
  instance created before the clock): copying the files into landing, ingestion with its validation,
  duplicate checks and checks, and every investigation view, until the command returns with all of it
  committed (`benchmarks.cli_ingest`); the split between the ingest step and the views comes from the run's
  Dagster step timings;
- ceiling: `INSERT INTO lake.events SELECT ... FROM read_json(files)` into a fresh lake of the same schema
  (`benchmarks.raw_lake`), and, for scale, a native DuckDB `CREATE TABLE AS SELECT * FROM read_json(...)`.

The rounds alternate pipeline and ceilings, so a burst of load from elsewhere on the machine hits all alike.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake
from benchmarks import raw_lake
from benchmarks.cli_ingest import CliIngest, median_steps, run_ingest
from benchmarks.datasets import Datasets, fresh_home
from benchmarks.measure import Samples, Stopwatch, compare, median, progress, ratio, rounded


class BenchmarkInputError(RuntimeError):
    """The pipeline did not store every generated event: a figure over it would be meaningless."""


def prepare_home(paths: Paths) -> None:
    """The lake's schema and the Dagster instance of a fresh home, made before any clock starts."""
    raw_lake.prepare_lake(paths)
    lake.close_all()
    previous = os.environ.get("DAGSTER_HOME")
    try:
        ensure_dagster_home(paths)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def pipeline_ingest(files: list[Path], work: Path, events: int,
                    keep: Callable[[Path], None] | None = None) -> CliIngest:
    """Time `audit-pipeline ingest FILES` into a fresh home, then hand the home to `keep` if given."""
    paths = fresh_home(work, "ingest")
    try:
        prepare_home(paths)
        done = run_ingest(paths.home, files, expect_ingested=events)
        if keep is not None:
            keep(paths.home)
        return done
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def raw_lake_insert(files: list[Path], work: Path, events: int) -> Stopwatch:
    paths = fresh_home(work, "raw-ingest")
    try:
        raw_lake.prepare_lake(paths)
        watch, rows = raw_lake.insert_into_lake(paths, files)
        if rows != events:
            raise BenchmarkInputError(f"the raw insert stored {rows:,} rows of {events:,} events")
        return watch
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def raw_native(files: list[Path], work: Path, events: int) -> Stopwatch:
    watch, rows = raw_lake.native_ctas(work / "raw-ingest.duckdb", files)
    if rows != events:
        raise BenchmarkInputError(f"read_json read {rows:,} rows of {events:,} events")
    return watch


def run(data: Datasets, work: Path, *, events: int, rounds: int) -> dict[str, object]:
    files = data.landing_files(events)
    input_bytes = sum(f.stat().st_size for f in files)
    pipeline, lake_insert, native = Samples(), Samples(), Samples()
    runs: list[CliIngest] = []
    for number in range(1, rounds + 1):
        progress(f"bulk ingest round {number}/{rounds}: audit-pipeline ingest of {events:,} events")
        done = pipeline_ingest(files, work, events, keep=lambda home: data.keep_ingested_home(events, home))
        runs.append(done)
        pipeline.add(Stopwatch(done.seconds, done.cpu_seconds))
        progress(f"  {done.seconds:.2f}s ({done.cpu_seconds:.2f}s CPU; ingest step {done.ingest_step_seconds:.2f}s,"
                 f" views {done.views_seconds:.2f}s); raw INSERT INTO lake.events")
        watch = raw_lake_insert(files, work, events)
        lake_insert.add(watch)
        progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU); raw native CTAS")
        watch = raw_native(files, work, events)
        native.add(watch)
        progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU)")
    figures = compare(pipeline, lake_insert)
    native_figures = compare(pipeline, native)
    steps = median_steps(runs)
    ingest_step = median([run.ingest_step_seconds for run in runs])
    views = median([run.views_seconds for run in runs])
    return {
        "events": events,
        "files": len(files),
        "input_mib": round(input_bytes / 1024**2, 1),
        **figures,
        "raw_native_seconds": native_figures["raw_seconds"],
        "raw_native_cpu_seconds": native_figures["raw_cpu_seconds"],
        "native_ratio": native_figures["ratio"],
        "raw_lake_vs_native_ratio": round(ratio(median(lake_insert.wall), median(native.wall)) or 0.0, 2),
        "ingest_step_seconds": rounded(ingest_step),
        "views_seconds": rounded(views),
        "ingest_step_ratio": round(ratio(ingest_step, median(lake_insert.wall)) or 0.0, 2),
        "dagster_run_seconds": rounded(median([run.run_seconds for run in runs])),
        "steps": steps,
        "pipeline_events_per_second": round(events / float(figures["pipeline_seconds"] or 1)),
        "pipeline_samples": pipeline.as_dict(),
        "raw_samples": lake_insert.as_dict(),
        "raw_native_samples": native.as_dict(),
        "runs": [run.as_dict() for run in runs],
        "pipeline": "audit-pipeline ingest --format json FILES on a fresh home, end to end (the Dagster ingest job: "
                    "ingestion, checks and every investigation view); CPU is the command's process",
        "raw": raw_lake.INSERT_DESCRIPTION,
        "raw_native": raw_lake.CTAS_DESCRIPTION,
    }
