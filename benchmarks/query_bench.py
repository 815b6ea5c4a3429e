"""Page latency while ingestion writes: what the Audit Logs page asks for, over the lake holding H events.

A page is the first page of events WITH the total and the facet counts, in one call as the web page asks
(`list_events_with_facets`, which matches a search once for both) on a reader cursor on the lake (with the
daily rollup and free-text index the investigation views build); each sample also times the two halves as
the CLI asks for them (`list_events`, `facets`). Every shape is scoped to one org (a page shows its own org
only) and runs once to warm up, then `repeats` times (fewer once a shape has taken SHAPE_BUDGET_SECONDS), the
shapes taking turns so a burst of load elsewhere spreads over all of them. The values searched for (users, a
scan id, an IP) are read from the history first, so each shape matches what an investigator would find.

The lake is a copy of the investigated history, and while the pages are measured a child process
(`benchmarks.ingest_loop`) keeps running `audit-pipeline ingest` on small files into the same lake: readers
attach the lake read-only and read the newest snapshot, so a page meets every commit the writer makes. The
catalog's snapshot count before and after gives the commits made during the measurement. Once the writer
has stopped, the shapes are measured again on the now quiet lake (fewer repeats), which tells what the
writer's competition for the two cores costs.

The ceiling (shapes without free text or user filter): the same page asked of `events` directly in plain SQL
(the first rows by `occurred_at`, the total, the facets in one GROUPING SETS), on the same reader.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.logs import facets, latest_event_time, list_events, list_events_with_facets
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, lake
from benchmarks.datasets import REPOSITORY, Datasets, fresh_home, home_environment
from benchmarks.measure import median, percentile, progress, stopwatch

ORG = "acme"
PAGE_SIZE = 50
TARGET_SECONDS = 0.1
# A shape far over the target needs no more samples to show it: after MIN_SAMPLES it stops once its samples
# (the page, its two halves and the raw page) have taken SHAPE_BUDGET_SECONDS in all, which bounds the
# section's time on a slow or busy machine.
MIN_SAMPLES = 3
SHAPE_BUDGET_SECONDS = 8.0


@dataclass(frozen=True)
class Shape:
    name: str
    flt: LogFilter
    offset: int = 0


@dataclass
class Timings:
    page: list[float] = field(default_factory=list)
    events_and_total: list[float] = field(default_factory=list)
    facets: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    spent: float = 0.0


@dataclass(frozen=True)
class Probe:
    """Real values from the history for the shapes to look for."""

    now: datetime
    users: list[str]
    scan_id: str
    outside_ip: str
    total_90d: int


def probe(connection: duckdb.DuckDBPyConnection) -> Probe:
    now = latest_event_time(connection)
    if now is None:
        raise RuntimeError("the history holds no events")
    users = [str(r[0]) for r in connection.execute(
        "SELECT user_email FROM events WHERE org_id = ? AND user_email IS NOT NULL "
        "GROUP BY ALL ORDER BY count(*) DESC, user_email LIMIT 3", [ORG]).fetchall()]
    scan = connection.execute(
        "SELECT additional_info->>'scan_id' FROM events WHERE org_id = ? AND log_type = 'Scan' "
        "AND occurred_at >= ? ORDER BY occurred_at DESC LIMIT 1 OFFSET 500",
        [ORG, now - timedelta(days=20)]).fetchone()
    ip = connection.execute(
        "SELECT source_ip FROM events WHERE org_id = ? AND source_ip LIKE '203.%' LIMIT 1", [ORG]).fetchone()
    total = connection.execute(
        "SELECT count(*) FROM events WHERE org_id = ? AND occurred_at >= ?", [ORG, now - timedelta(days=90)]
    ).fetchone()
    return Probe(now=now, users=users, scan_id=str(scan[0]) if scan else "scn_0",
                 outside_ip=str(ip[0]) if ip else "203.0.113.7", total_90d=int(total[0]) if total else 0)


def shapes(found: Probe) -> list[Shape]:
    now = found.now

    def last(days: float) -> LogFilter:
        return LogFilter(orgs=(ORG,), since=now - timedelta(days=days))

    def with_(base: LogFilter, **changes: object) -> LogFilter:
        return replace(base, **changes)  # type: ignore[arg-type]

    first_name = found.users[0].split(".", 1)[0]
    day = (now - timedelta(days=17)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Shape("period 24h", last(1)),
        Shape("period 7d", last(7)),
        Shape("period 30d", last(30)),
        Shape("period 90d", last(90)),
        Shape("all time", LogFilter(orgs=(ORG,))),
        Shape("one day (since/until)", LogFilter(orgs=(ORG,), since=day, until=day + timedelta(days=1))),
        Shape("action Login, 7d", with_(last(7), actions=("Login",))),
        Shape("actions x3, 30d", with_(last(30), actions=("Login", "Logout", "Login Failed"))),
        Shape("user, 30d", with_(last(30), users=(found.users[0],))),
        Shape("users x3, 30d", with_(last(30), users=tuple(found.users))),
        Shape("log type Scan, 30d", with_(last(30), log_types=("Scan",))),
        Shape("log types x2, 90d", with_(last(90), log_types=("Policy", "User Management"))),
        Shape("action + user + type, 90d",
              with_(last(90), actions=("Login Failed",), users=(found.users[1],), log_types=("Authentication",))),
        Shape("text 'failed', 7d", with_(last(7), search="failed")),
        Shape("text scan id, 30d", with_(last(30), search=found.scan_id)),
        Shape("text IP, 90d", with_(last(90), search=found.outside_ip)),
        Shape("phrase \"Jira Ticket\", 30d", with_(last(30), search='"Jira Ticket"')),
        Shape("text without match, 90d", with_(last(90), search="no-such-thing-anywhere")),
        Shape("text 'failed', 24h", with_(last(1), search="failed")),
        # A quote inside a word: escaped in additional_info's JSON text, so searched there as `\"`.
        Shape("text with a quote, 7d", with_(last(7), search='mfa":t')),
        Shape(f"user:{first_name}, 30d", with_(last(30), search=f"user:{first_name}")),
        Shape("action:mfa, 30d", with_(last(30), search="action:mfa")),
        Shape("type:policy, all time", LogFilter(orgs=(ORG,), search="type:policy")),
        Shape(f"user:{first_name} action:login sso, 90d",
              with_(last(90), search=f"user:{first_name} action:login sso")),
        Shape("page at offset 10,000, 30d", last(30), offset=10_000),
        Shape("page at offset 100,000, 90d", last(90), offset=100_000),
        Shape("last page, 90d", last(90), offset=max(found.total_90d - PAGE_SIZE, 0)),
    ]


RAW_COLUMNS = ("ingest_seq, event_id, org_id, occurred_at, log_type, action, user_id, user_email, user_name, "
               "user_role, source_ip, user_agent, outcome, additional_info")


def _raw_where(flt: LogFilter) -> tuple[str, list[object]]:
    conditions: list[str] = ["org_id = ?"]
    parameters: list[object] = [ORG]
    if flt.since is not None:
        conditions.append("occurred_at >= ?")
        parameters.append(flt.since)
    if flt.until is not None:
        conditions.append("occurred_at < ?")
        parameters.append(flt.until)
    for column, values in (("action", flt.actions), ("log_type", flt.log_types)):
        if values:
            conditions.append(f"lower({column}) IN ({', '.join('?' for _ in values)})")
            parameters.extend(value.lower() for value in values)
    return " AND ".join(conditions), parameters


def has_raw(shape: Shape) -> bool:
    return not shape.flt.search and not shape.flt.users


def _raw_page(connection: duckdb.DuckDBPyConnection, shape: Shape) -> None:
    """The same page in plain SQL over `events`: the rows, the total, the facets."""
    where, parameters = _raw_where(shape.flt)
    connection.execute(f"SELECT {RAW_COLUMNS} FROM events WHERE {where} ORDER BY occurred_at DESC, ingest_seq DESC "
                       f"LIMIT {PAGE_SIZE} OFFSET {shape.offset}", parameters).fetchall()
    connection.execute(f"SELECT count(*) FROM events WHERE {where}", parameters).fetchall()
    connection.execute(f"SELECT action, log_type, user_email, count(*) FROM events WHERE {where} "
                       "GROUP BY GROUPING SETS ((action), (log_type), (user_email))", parameters).fetchall()


def _page(connection: duckdb.DuckDBPyConnection, shape: Shape, timings: Timings, *, raw: bool) -> None:
    """One page as the web page asks for it (one call), then its two halves as the CLI asks for each."""
    with stopwatch() as page:
        list_events_with_facets(connection, shape.flt, limit=PAGE_SIZE, offset=shape.offset)
    with stopwatch() as listed:
        list_events(connection, shape.flt, limit=PAGE_SIZE, offset=shape.offset)
    with stopwatch() as counted:
        facets(connection, shape.flt)
    timings.page.append(page.seconds)
    timings.events_and_total.append(listed.seconds)
    timings.facets.append(counted.seconds)
    timings.spent += page.seconds + listed.seconds + counted.seconds
    if raw and has_raw(shape):
        with stopwatch() as plain:
            _raw_page(connection, shape)
        timings.raw.append(plain.seconds)
        timings.spent += plain.seconds


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5) * 1000, 1), "p95_ms": round(percentile(samples, 0.95) * 1000, 1)}


def _opening_seconds(paths: Paths, *, attach: bool) -> float:
    """Opening a reader and counting the org: with `attach`, in a process that has not attached the lake yet."""
    if attach:
        lake.close_all()
    with stopwatch() as watch, database.reader(paths) as connection:
        connection.execute("SELECT count(*) FROM events WHERE org_id = ?", [ORG]).fetchone()
    return watch.seconds


def _snapshots(paths: Paths) -> int:
    """The number of snapshots the catalog holds: every commit adds one."""
    with closing(sqlite3.connect(f"file:{paths.lake.catalog}?mode=ro", uri=True, timeout=30)) as catalog:
        row = catalog.execute("SELECT count(*) FROM ducklake_snapshot").fetchone()
    return int(row[0]) if row else 0


def _measure(paths: Paths, planned: list[Shape], repeats: int, *, raw: bool, label: str) -> dict[str, Timings]:
    timings = {shape.name: Timings() for shape in planned}
    with database.reader(paths) as connection:
        for number in range(repeats):
            for shape in planned:
                timing = timings[shape.name]
                if len(timing.page) < MIN_SAMPLES or timing.spent < SHAPE_BUDGET_SECONDS:
                    _page(connection, shape, timing, raw=raw)
            progress(f"  {label} round {number + 1}/{repeats} done")
    return timings


@dataclass
class Writer:
    """The background `audit-pipeline ingest` loop (`benchmarks.ingest_loop`) on the measured home."""

    process: subprocess.Popen[bytes]
    stop: Path
    report: Path

    @classmethod
    def start(cls, paths: Paths, work: Path, batch_events: int,
              lake_settings: Mapping[str, str] | None = None) -> Writer:
        stop, report = work / "ingest-loop.stop", work / "ingest-loop.json"
        stop.unlink(missing_ok=True)
        report.unlink(missing_ok=True)
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ingest_loop", str(paths.home), str(batch_events), str(stop),
             str(report)],
            cwd=REPOSITORY, env=home_environment(paths.home, lake_settings), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        return cls(process, stop, report)

    def runs(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads(self.report.read_text())["runs"])
        except (OSError, ValueError):
            return []

    def wait_for_first_run(self, timeout: float) -> None:
        """Until the first ingest run has committed, so the measurement meets a writer in full swing."""
        deadline = time.monotonic() + timeout
        while not self.runs() and time.monotonic() < deadline and self.process.poll() is None:
            time.sleep(0.5)

    def finish(self) -> list[dict[str, Any]]:
        self.stop.write_text("stop\n")
        _, errors = self.process.communicate(timeout=900)
        runs = self.runs()
        failed = [run for run in runs if "error" in run]
        if self.process.returncode != 0 or failed:
            message = failed[0]["error"] if failed else errors.decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"the background ingest loop failed: {message}")
        return runs


def _per_shape(planned: list[Shape], timings: dict[str, Timings], quiet: dict[str, Timings]) -> list[dict[str, Any]]:
    per_shape = []
    for shape in planned:
        timing = timings[shape.name]
        entry: dict[str, Any] = {
            "shape": shape.name,
            "filter": _describe(shape),
            "samples": len(timing.page),
            "page": _summary(timing.page),
            "events_and_total": _summary(timing.events_and_total),
            "facets": _summary(timing.facets),
            "quiet_page": _summary(quiet[shape.name].page),
        }
        if timing.raw:
            entry["raw_page"] = _summary(timing.raw)
        per_shape.append(entry)
    return per_shape


def run(data: Datasets, work: Path, *, history: int, repeats: int, batch_events: int) -> dict[str, object]:
    paths = fresh_home(work, "query", data.investigated_home(history))
    try:
        return measure(paths, work, history=history, repeats=repeats, batch_events=batch_events,
                       snapshots=lambda: _snapshots(paths))
    finally:
        lake.close_all()
        shutil.rmtree(paths.home, ignore_errors=True)
        shutil.rmtree(paths.home.parent / f"{paths.home.name}-loop-files", ignore_errors=True)


def measure(paths: Paths, work: Path, *, history: int, repeats: int, batch_events: int,
            snapshots: Callable[[], int], lake_settings: Mapping[str, str] | None = None) -> dict[str, object]:
    """The page figures on the home's lake; `snapshots` counts the catalog's snapshots.

    `lake_settings` name a lake outside the home (a shared catalog): the background writer gets them, and the
    caller has set them in this process too, for the readers.
    """
    attach = _opening_seconds(paths, attach=True)
    opening = median([_opening_seconds(paths, attach=False) for _ in range(5)])
    with database.reader(paths) as connection:
        found = probe(connection)
    planned = shapes(found)
    with database.reader(paths) as connection:
        for shape in planned:
            _page(connection, shape, Timings(), raw=True)
    progress(f"query: starting a background audit-pipeline ingest loop of {batch_events:,}-event files")
    writer = Writer.start(paths, work, batch_events, lake_settings)
    try:
        writer.wait_for_first_run(timeout=600)
        progress(f"query: {len(planned)} shapes x {repeats} over {history:,} events while ingesting")
        snapshots_before, started = snapshots(), time.time()
        timings = _measure(paths, planned, repeats, raw=True, label="while ingesting,")
        snapshots_after, ended = snapshots(), time.time()
    finally:
        progress("query: stopping the ingest loop (the run under way finishes)")
        runs = writer.finish()
    quiet_repeats = max(1, repeats // 3)
    quiet = _measure(paths, planned, quiet_repeats, raw=False, label="quiet lake,")
    during = [run for run in runs if float(run["started"]) < ended and float(run["ended"]) > started]
    finished_during = [run for run in runs if started <= float(run["ended"]) <= ended]
    per_shape = _per_shape(planned, timings, quiet)
    everything = [s for t in timings.values() for s in t.page]
    quiet_everything = [s for t in quiet.values() for s in t.page]
    raw_everything = [s for t in timings.values() for s in t.raw]
    worst = max(per_shape, key=lambda s: s["page"]["p95_ms"])
    over = [s["shape"] for s in per_shape if s["page"]["p95_ms"] > TARGET_SECONDS * 1000]
    return {
        "history_events": history,
        "org": ORG,
        "shapes": len(planned),
        "repeats": repeats,
        "quiet_repeats": quiet_repeats,
        "page_size": PAGE_SIZE,
        "attach_and_count_ms": round(attach * 1000, 1),
        "open_reader_and_count_ms": round(opening * 1000, 1),
        "all_pages": _summary(everything),
        "quiet_all_pages": _summary(quiet_everything),
        "raw_all_pages": _summary(raw_everything) if raw_everything else None,
        "median_page_ms": round(median(everything) * 1000, 1),
        "worst_shape": worst["shape"],
        "worst_shape_p95_ms": worst["page"]["p95_ms"],
        "worst_shape_quiet_p95_ms": worst["quiet_page"]["p95_ms"],
        "shapes_over_target": over,
        "measurement_seconds": round(ended - started, 1),
        "commits_during_measurement": snapshots_after - snapshots_before,
        "ingest_runs_during_measurement": len(during),
        "ingest_runs_finished_during_measurement": len(finished_during),
        "events_ingested_during_measurement": sum(int(run.get("ingested", 0)) for run in finished_during),
        "ingest_run_seconds": [round(float(run["ended"]) - float(run["started"]), 2) for run in runs],
        "writer_batch_events": batch_events,
        "per_shape": per_shape,
        "pipeline": ("audit_pipeline.query.logs.list_events_with_facets (first page, total, facets), one reader "
                     "cursor on the lake, while benchmarks.ingest_loop runs audit-pipeline ingest on small files "
                     "into the same lake"),
        "raw": "SELECT the first rows ORDER BY occurred_at DESC + count(*) + facets by GROUPING SETS over events",
    }


def _describe(shape: Shape) -> str:
    flt = shape.flt
    parts = {
        "since": flt.since.isoformat() if flt.since else None,
        "until": flt.until.isoformat() if flt.until else None,
        "actions": list(flt.actions) or None,
        "users": list(flt.users) or None,
        "log_types": list(flt.log_types) or None,
        "search": flt.search,
        "offset": shape.offset or None,
    }
    return json.dumps({k: v for k, v in parts.items() if v is not None})
