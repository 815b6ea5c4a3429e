"""Incremental export: the same one-hour window exported when the history holds N events and when it holds H.

Each history is first brought to the state of a long-running deployment: one export planned over all of it
and recorded as delivered (without uploading: only the bookkeeping matters here). Then, `repeats` times, the
next hour's events are appended (the same generated events for both histories) and `run_export` delivers
them to the local moto S3. An hourly export must not slow down as the history grows: the figure is the
ratio of the median export time with H events of history to the one with N.

Each history is a copy of a cached lake home. The new hour is appended as ingestion would leave it: the rows
in `events`, `ingest_sequence` moved to their last `ingest_seq`, in one transaction. The ceiling copies the
same hour's rows of the org out of the same lake with one raw `COPY (SELECT ... FROM lake.events WHERE org_id
= ? AND ingest_seq > ?) TO file (FORMAT json)`.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.bookkeeping import DeliveredObject, mark_delivered, plan_or_resume
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import DEFAULT_PART_BYTES, run_export
from audit_pipeline.local_aws import local_aws_sandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, lake
from benchmarks import synthetic
from benchmarks.datasets import FEED_END, FEED_ORGS, SEED, Datasets, fresh_home, set_ingest_sequence
from benchmarks.export_bench import RAW_COLUMNS
from benchmarks.export_setup import configure_export
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import median, progress, ratio, rounded, stopwatch

EXPORTED_ORG = "acme"
HOUR = timedelta(hours=1)
WINDOW_SEED = SEED + 1000


def _deliver_history(paths: Paths, config: ExportConfig) -> None:
    """Record everything already stored as exported, as after months of hourly exports."""
    with database.writer(paths) as connection:
        plan = plan_or_resume(connection, config, part_bytes=DEFAULT_PART_BYTES, run_id="history", now=FEED_END)
        delivered = [DeliveredObject(part.object_key, 0, "", part.events) for part in plan.parts]
        mark_delivered(connection, plan, delivered, "history")


def _append_hour(paths: Paths, hour: int, window_events: int) -> tuple[int, int]:
    """Append hour number `hour` after the history; returns the last ingest_seq before it and how many of
    its events are the exported org's."""
    with database.writer(paths) as connection:
        connection.execute("BEGIN")
        row = connection.execute("SELECT last_seq FROM ingest_sequence").fetchone()
        last_seq = int(row[0]) if row and row[0] is not None else 0
        synthetic.insert_events(connection, synthetic.EventRange(
            first=hour * window_events, count=window_events, start=FEED_END + hour * HOUR, span=HOUR,
            orgs=FEED_ORGS, seed=WINDOW_SEED, seq_base=last_seq + 1, tag="w",
        ))
        set_ingest_sequence(connection)
        connection.execute("COMMIT")
        counted = connection.execute(
            "SELECT count(*) FROM events WHERE org_id = ? AND ingest_seq > ?", [EXPORTED_ORG, last_seq]
        ).fetchone()
    return last_seq, int(counted[0]) if counted else 0


def _raw_copy(paths: Paths, work: Path, after_seq: int) -> float:
    target = work / f"raw-window-{uuid.uuid4().hex[:8]}.json"
    connection = lake.cursor(paths.lake, read_only=False)
    try:
        with stopwatch() as watch:
            connection.execute(f"COPY (SELECT {RAW_COLUMNS} FROM events WHERE org_id = $org AND ingest_seq > $seq) "
                               "TO $target (FORMAT json)", {"org": EXPORTED_ORG, "seq": after_seq,
                                                            "target": str(target)})
        return watch.seconds
    finally:
        connection.close()
        target.unlink(missing_ok=True)


@dataclass
class Hourly:
    samples: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    exported: int = 0


def hourly_exports(home: Path, work: Path, *, window_events: int, repeats: int) -> Hourly:
    paths = fresh_home(work, "window", home)
    found = Hourly()
    try:
        with local_aws_sandbox() as sandbox:
            config = configure_export(paths, "bench-window", EXPORTED_ORG, gzip=False, sandbox=sandbox)
            _deliver_history(paths, config)
            with sandbox.exporter_environment():
                for hour in range(repeats):
                    last_seq, expected = _append_hour(paths, hour, window_events)
                    found.raw.append(_raw_copy(paths, work, last_seq))
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
                    found.samples.append(watch.seconds)
                    found.exported = expected
        return found
    finally:
        lake.close_all()
        shutil.rmtree(paths.home, ignore_errors=True)


def run(data: Datasets, work: Path, *, small: int, large: int, window_events: int, repeats: int) -> dict[str, object]:
    found: dict[str, Hourly] = {}
    for label, size in (("small", small), ("large", large)):
        home = data.history_home(size)
        progress(f"window export: {repeats} hourly exports of {window_events:,} new events over {size:,} of history")
        found[label] = hourly_exports(home, work, window_events=window_events, repeats=repeats)
        progress(f"  median {median(found[label].samples):.3f}s (raw COPY {median(found[label].raw):.3f}s)")
    results = {label: hourly.samples for label, hourly in found.items()}
    exported = found["large"].exported
    small_seconds, large_seconds = median(results["small"]), median(results["large"])
    small_raw, large_raw = median(found["small"].raw), median(found["large"].raw)
    return {
        "window_events": window_events,
        "window_events_exported": exported,
        "small_history_events": small,
        "large_history_events": large,
        "small_history_seconds": rounded(small_seconds),
        "large_history_seconds": rounded(large_seconds),
        "ratio": round(ratio(large_seconds, small_seconds) or 0.0, 2),
        "small_raw_seconds": rounded(small_raw),
        "large_raw_seconds": rounded(large_raw),
        "small_raw_ratio": round(ratio(small_seconds, small_raw) or 0.0, 1),
        "large_raw_ratio": round(ratio(large_seconds, large_raw) or 0.0, 1),
        "raw_ratio": round(ratio(large_raw, small_raw) or 0.0, 2),
        "small_history_samples": [rounded(s) for s in results["small"]],
        "large_history_samples": [rounded(s) for s in results["large"]],
        "pipeline": (f"run_export of org {EXPORTED_ORG}'s share of one new hour to the local moto S3 (assuming the "
                     "role, planning, writing, uploading, bookkeeping; boto3 clients created before the clock)"),
        "raw": f"COPY (SELECT {RAW_COLUMNS} FROM lake.events WHERE org_id = ? AND ingest_seq > ?) TO file",
    }
