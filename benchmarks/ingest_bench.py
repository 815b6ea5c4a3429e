"""Ingest: the pipeline's `ingest_landing` against DuckDB's `CREATE TABLE AS SELECT * FROM read_json(...)`.

Both read the same landing files into a fresh database file and end with a CHECKPOINT, so both have the
events durably in the file when the clock stops. Creating the empty schema and linking the files into the
landing folder happen before the clock starts. The rounds alternate pipeline and raw, so a burst of load from
elsewhere on the machine hits both alike.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from audit_pipeline.storage import database
from audit_pipeline.storage.ingest import IngestCounts, ingest_landing
from benchmarks.datasets import Datasets, fresh_home, link_files
from benchmarks.measure import Samples, Stopwatch, compare, progress, stopwatch


class BenchmarkInputError(RuntimeError):
    """The pipeline did not store every generated event: a figure over it would be meaningless."""


def pipeline_ingest(files: list[Path], work: Path, events: int,
                    keep: Callable[[Path], None] | None = None) -> Stopwatch:
    """Time the ingestion of `files` (`events` events) into a fresh database, then hand it to `keep` if given."""
    paths = fresh_home(work, "ingest")
    try:
        link_files(files, paths.landing)
        with database.writer(paths.database) as connection, stopwatch() as watch:
            counts = ingest_landing(connection, paths.landing, paths.archive)
            connection.execute("CHECKPOINT")
        _check_stored(counts, events)
        if keep is not None:
            keep(paths.database)
        return watch
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def _check_stored(counts: IngestCounts, events: int) -> None:
    if counts.ingested != events or counts.quarantined:
        raise BenchmarkInputError(
            f"the pipeline stored {counts.ingested:,} of {events:,} generated events "
            f"({counts.quarantined:,} quarantined: {counts.quarantine_reasons})"
        )


def raw_ingest(files: list[Path], work: Path) -> tuple[Stopwatch, int]:
    path = work / "raw-ingest.duckdb"
    path.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(path)) as connection:
            connection.execute("SET enable_progress_bar = false")
            with stopwatch() as watch:
                connection.execute("CREATE TABLE events AS SELECT * FROM read_json(?)", [[str(f) for f in files]])
                connection.execute("CHECKPOINT")
            row = connection.execute("SELECT count(*) FROM events").fetchone()
        return watch, int(row[0]) if row else 0
    finally:
        path.unlink(missing_ok=True)


def run(data: Datasets, work: Path, *, events: int, rounds: int) -> dict[str, object]:
    files = data.landing_files(events)
    input_bytes = sum(f.stat().st_size for f in files)
    pipeline, raw = Samples(), Samples()
    for number in range(1, rounds + 1):
        progress(f"ingest round {number}/{rounds}: pipeline ingest_landing of {events:,} events")
        watch = pipeline_ingest(files, work, events,
                                keep=lambda built: data.keep_ingested_database(events, built))
        pipeline.add(watch)
        progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU); raw DuckDB read_json")
        watch, rows = raw_ingest(files, work)
        if rows != events:
            raise BenchmarkInputError(f"read_json read {rows:,} rows of {events:,} events")
        raw.add(watch)
        progress(f"  {watch.seconds:.2f}s ({watch.cpu_seconds:.2f}s CPU)")
    figures = compare(pipeline, raw)
    return {
        "events": events,
        "files": len(files),
        "input_mib": round(input_bytes / 1024**2, 1),
        **figures,
        "pipeline_events_per_second": round(events / float(figures["pipeline_seconds"] or 1)),
        "pipeline_samples": pipeline.as_dict(),
        "raw_samples": raw.as_dict(),
        "pipeline": "audit_pipeline.storage.ingest.ingest_landing + CHECKPOINT, fresh database file",
        "raw": "CREATE TABLE events AS SELECT * FROM read_json([files]) + CHECKPOINT, fresh database file",
    }
