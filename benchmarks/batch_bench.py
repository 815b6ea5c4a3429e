"""Small-batch ingestion as the history grows: a B-event `audit-pipeline ingest FILES` on a home holding the
large history and on one holding the small one.

Each home is an investigated history (`Datasets.investigated_home`): the events of the history in the lake
and every investigation view built over them, as a running deployment has them. Each sample starts from a
fresh copy of it (copying is set-up, outside the clock) and runs the command end to end: copying the batch
into landing, ingestion and its checks, every investigation view, until it returns with everything
committed and visible to readers (`benchmarks.cli_ingest`). The Dagster step timings of each run show where
the time goes. The ceiling inserts the same files with one raw `INSERT INTO lake.events SELECT ... FROM
read_json(...)` into a copy of the same home.

An ingestion of a small batch must not slow down as the history grows: the target is the ratio of the median
with the large history to the one with the small history.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks import raw_lake
from benchmarks.cli_ingest import CliIngest, median_steps, run_ingest
from benchmarks.datasets import Datasets, fresh_home
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import Samples, Stopwatch, median, progress, ratio, rounded


def _pipeline(source: Path, work: Path, files: list[Path], events: int) -> CliIngest:
    paths = fresh_home(work, "batch", source)
    try:
        return run_ingest(paths.home, files, expect_ingested=events)
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def _raw(source: Path, work: Path, files: list[Path], events: int) -> Stopwatch:
    paths = fresh_home(work, "batch-raw", source)
    try:
        watch, rows = raw_lake.insert_into_lake(paths, files)
        if rows != events:
            raise BenchmarkInputError(f"the raw insert stored {rows:,} rows of {events:,} events")
        return watch
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def run(data: Datasets, work: Path, *, small: int, large: int, batch_events: int, rounds: int) -> dict[str, object]:
    files = data.batch_files(batch_events)
    homes = {"small": data.investigated_home(small), "large": data.investigated_home(large)}
    sizes = {"small": small, "large": large}
    runs: dict[str, list[CliIngest]] = {"small": [], "large": []}
    raw: dict[str, Samples] = {"small": Samples(), "large": Samples()}
    for number in range(1, rounds + 1):
        for label in ("small", "large"):
            progress(f"small batch round {number}/{rounds}: audit-pipeline ingest of {batch_events:,} events "
                     f"over {sizes[label]:,} of history")
            done = _pipeline(homes[label], work, files, batch_events)
            runs[label].append(done)
            progress(f"  {done.seconds:.2f}s ({done.cpu_seconds:.2f}s CPU; ingest step "
                     f"{done.ingest_step_seconds:.2f}s, views {done.views_seconds:.2f}s); raw INSERT")
            watch = _raw(homes[label], work, files, batch_events)
            raw[label].add(watch)
            progress(f"  {watch.seconds:.3f}s")
    figures: dict[str, object] = {"batch_events": batch_events, "small_history_events": small,
                                  "large_history_events": large, "rounds": rounds}
    walls = {label: median([run.seconds for run in runs[label]]) for label in runs}
    cpus = {label: median([run.cpu_seconds for run in runs[label]]) for label in runs}
    for label in ("small", "large"):
        wall = walls[label]
        figures[f"{label}_seconds"] = rounded(wall)
        figures[f"{label}_cpu_seconds"] = rounded(cpus[label])
        figures[f"{label}_ingest_step_seconds"] = rounded(median([run.ingest_step_seconds for run in runs[label]]))
        figures[f"{label}_views_seconds"] = rounded(median([run.views_seconds for run in runs[label]]))
        figures[f"{label}_outside_run_seconds"] = rounded(
            median([run.seconds - run.run_seconds for run in runs[label]]))
        figures[f"{label}_raw_seconds"] = rounded(median(raw[label].wall))
        figures[f"{label}_raw_ratio"] = round(ratio(wall, median(raw[label].wall)) or 0.0, 1)
        figures[f"{label}_steps"] = median_steps(runs[label])
        figures[f"{label}_runs"] = [run.as_dict() for run in runs[label]]
        figures[f"{label}_raw_samples"] = raw[label].as_dict()
    figures["ratio"] = round(ratio(walls["large"], walls["small"]) or 0.0, 2)
    figures["cpu_ratio"] = round(ratio(cpus["large"], cpus["small"]) or 0.0, 2)
    figures["pipeline"] = ("audit-pipeline ingest --format json FILES on a copy of the investigated history, end "
                           "to end (the Dagster ingest job: ingestion, checks, every investigation view)")
    figures["raw"] = raw_lake.INSERT_DESCRIPTION + ", into a copy of the same home"
    return figures
