"""Incremental export: the same one-hour window exported when the history holds N events and when it holds H.

Each history is first brought to the state of a long-running deployment: one export planned over all of it
and recorded as delivered (without uploading: only the bookkeeping matters here). Then, `repeats` times, the
next hour's events are appended (the same generated events for both histories) and `run_export` delivers
them to the local moto S3. An hourly export must not slow down as the history grows: the figure is the
ratio of the median export time with H events of history to the one with N.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.bookkeeping import DeliveredObject, mark_delivered, plan_or_resume
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import DEFAULT_PART_BYTES, run_export
from audit_pipeline.local_aws import local_aws_sandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from benchmarks import synthetic
from benchmarks.datasets import FEED_END, FEED_ORGS, SEED, Datasets, fresh_home
from benchmarks.export_setup import configure_export
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import median, progress, ratio, rounded, stopwatch

EXPORTED_ORG = "acme"
HOUR = timedelta(hours=1)
WINDOW_SEED = SEED + 1000


def _deliver_history(paths: Paths, config: ExportConfig) -> None:
    """Record everything already stored as exported, as after months of hourly exports."""
    with database.writer(paths.database) as connection:
        plan = plan_or_resume(connection, config, part_bytes=DEFAULT_PART_BYTES, run_id="history", now=FEED_END)
        delivered = [DeliveredObject(part.object_key, 0, "", part.events) for part in plan.parts]
        mark_delivered(connection, plan, delivered, "history")


def _append_hour(paths: Paths, hour: int, window_events: int) -> int:
    """Append hour number `hour` after the history; returns how many of its events are the exported org's."""
    with database.writer(paths.database) as connection:
        row = connection.execute("SELECT max(ingest_seq) FROM events").fetchone()
        last_seq = int(row[0]) if row and row[0] is not None else 0
        synthetic.insert_events(connection, synthetic.EventRange(
            first=hour * window_events, count=window_events, start=FEED_END + hour * HOUR, span=HOUR,
            orgs=FEED_ORGS, seed=WINDOW_SEED, seq_base=last_seq + 1, tag="w",
        ))
        counted = connection.execute(
            "SELECT count(*) FROM events WHERE org_id = ? AND ingest_seq > ?", [EXPORTED_ORG, last_seq]
        ).fetchone()
    return int(counted[0]) if counted else 0


def hourly_exports(database_file: Path, work: Path, *, window_events: int, repeats: int) -> tuple[list[float], int]:
    paths = fresh_home(work, "window", database_file)
    samples: list[float] = []
    exported = 0
    try:
        with local_aws_sandbox() as sandbox:
            config = configure_export(paths, "bench-window", EXPORTED_ORG, gzip=False, sandbox=sandbox)
            _deliver_history(paths, config)
            with sandbox.exporter_environment():
                for hour in range(repeats):
                    expected = _append_hour(paths, hour, window_events)
                    # Creating boto3's clients loads botocore's service models: a set-up cost the same at any
                    # history size, and a noisy one, so it stays outside the clock.
                    destination = S3Destination(config)
                    with stopwatch() as watch:
                        result = run_export(paths, config, destination, run_id=uuid.uuid4().hex,
                                            now=FEED_END + (hour + 1) * HOUR)
                    if result.plan.events != expected:
                        raise BenchmarkInputError(
                            f"the hourly export held {result.plan.events:,} events, not {expected:,}"
                        )
                    samples.append(watch.seconds)
                    exported = expected
        return samples, exported
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)


def run(data: Datasets, work: Path, *, small: int, large: int, window_events: int, repeats: int) -> dict[str, object]:
    results: dict[str, list[float]] = {}
    exported = 0
    for label, size in (("small", small), ("large", large)):
        database_file = data.history_database(size)
        progress(f"window export: {repeats} hourly exports of {window_events:,} new events over {size:,} of history")
        results[label], exported = hourly_exports(database_file, work, window_events=window_events, repeats=repeats)
        progress(f"  median {median(results[label]):.3f}s")
    small_seconds, large_seconds = median(results["small"]), median(results["large"])
    return {
        "window_events": window_events,
        "window_events_exported": exported,
        "small_history_events": small,
        "large_history_events": large,
        "small_history_seconds": rounded(small_seconds),
        "large_history_seconds": rounded(large_seconds),
        "ratio": round(ratio(large_seconds, small_seconds) or 0.0, 2),
        "small_history_samples": [rounded(s) for s in results["small"]],
        "large_history_samples": [rounded(s) for s in results["large"]],
        "pipeline": (f"run_export of org {EXPORTED_ORG}'s share of one new hour to the local moto S3 (assuming the "
                     "role, planning, writing, uploading, bookkeeping; boto3 clients created before the clock)"),
    }
