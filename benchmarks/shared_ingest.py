"""Ingestion by two machines at once on a PostgreSQL catalog, against one machine alone.

A worker is one machine: a home of its own (its landing folder, its Dagster instance) on the shared lake (one
PostgreSQL catalog, one data folder), running `audit-pipeline ingest --format json FILES` on a feed of its
own, timed from the command's start to its end as an operator waits for it (`benchmarks.ingest_worker` runs
the command in process, as the installed script does, and counts its retried writes). The feeds are the
project generator's N events of 3 orgs over 92 days (the bulk-ingestion figure's input), the second worker's
with another seed: other event ids and content, the same orgs and days, so both runs write the same
partitions and refresh the same org-days of the views, as two machines fed by one load balancer would.

- one worker alone: feed A into a fresh lake;
- two workers at once: feeds A and B into another fresh lake, both commands started together, timed until
  the last one ended.

Each lake starts as a running deployment's does, with its tables and the views' tables created (the schema,
then one `audit-pipeline ingest` with nothing to ingest, in a home of its own, before the clock).

A command that fails is run again at once on what is waiting in its landing folder (`audit-pipeline ingest`
without files), as the next landing-sensor tick or the operator would, up to three attempts; the clock runs on
and the results list every failed attempt with its error. On a PostgreSQL catalog two machines' runs can fail
that way: every run replaces a table and a view (the rollup's coverage, `audit_log`), and DuckLake 1.4.4 fails a
commit that meets such a snapshot followed by another (`Failed to parse catalog entry - trailing data after
quoted value`), an error the pipeline does not retry (see the analysis).

The figure is the combined throughput of the two (2N events over the wall clock until both ended) over the one
worker's (N events over its wall clock). Then the lake is checked against the generated files: every
generated (org_id, event_id) stored once, nothing else stored, every ingest_seq distinct.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit_pipeline.storage import lake
from benchmarks.cli_ingest import step_timings
from benchmarks.datasets import REPOSITORY, SEED, Datasets, run_cli
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import progress, rounded
from benchmarks.postgres import Server
from benchmarks.shared_lake import SharedLake, conflict_tables, prepare_worker_home
from benchmarks.shared_meter import Meter

SECOND_FEED_SEED = SEED + 1
TIMEOUT_SECONDS = 3600
MAX_ATTEMPTS = 3
KEY_COLUMNS = "{'event_id': 'VARCHAR', 'id': 'VARCHAR', 'org_id': 'VARCHAR', 'orgId': 'VARCHAR'}"
GENERATED_SQL = f"""
CREATE OR REPLACE TEMP TABLE generated AS
SELECT coalesce(org_id, orgId) AS org_id, coalesce(event_id, id) AS event_id
FROM read_json($files, columns = {KEY_COLUMNS})
"""
CHECK_SQL = """
SELECT (SELECT count(*) FROM generated),
       (SELECT count(*) FROM (SELECT DISTINCT org_id, event_id FROM generated)),
       (SELECT count(*) FROM events),
       (SELECT count(*) FROM (SELECT DISTINCT org_id, event_id FROM events)),
       (SELECT count(DISTINCT ingest_seq) FROM events),
       (SELECT count(*) FROM (SELECT org_id, event_id FROM generated EXCEPT SELECT org_id, event_id FROM events)),
       (SELECT count(*) FROM (SELECT org_id, event_id FROM events EXCEPT SELECT org_id, event_id FROM generated))
"""
CHECK_NAMES = ("generated", "generated_distinct", "stored", "stored_distinct", "distinct_ingest_seq", "lost",
               "not_generated")


@dataclass
class Attempt:
    process: subprocess.Popen[bytes]
    started: float
    ended: float = 0.0


@dataclass
class Worker:
    """One machine's `audit-pipeline ingest`; a command that fails is run again (at most MAX_ATTEMPTS in all) on
    what is waiting in its landing folder, as the next landing-sensor tick or the operator would."""

    feed: str
    home: Path
    files: list[Path]
    attempts: list[Attempt] = field(default_factory=list)
    wall_started: float = 0.0

    def _file(self, number: int, suffix: str) -> Path:
        return self.home.with_name(f"{self.home.name}.{number}.{suffix}")

    def start(self, shared: SharedLake) -> None:
        number = len(self.attempts) + 1
        files = self.files if number == 1 else []
        command = [sys.executable, "-m", "benchmarks.ingest_worker", str(self._file(number, "json")), "ingest",
                   "--format", "json", *(str(file) for file in files)]
        with self._file(number, "out").open("wb") as out, self._file(number, "err").open("wb") as err:
            if number == 1:
                self.wall_started = time.time()
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=REPOSITORY, env=shared.environment(self.home), stdout=out,
                                       stderr=err)
        self.attempts.append(Attempt(process, started))

    def poll(self, shared: SharedLake) -> bool:
        """Whether the worker is done (its command succeeded, or failed MAX_ATTEMPTS times)."""
        attempt = self.attempts[-1]
        if attempt.process.poll() is None:
            return False
        attempt.ended = time.perf_counter()
        if attempt.process.returncode == 0 or len(self.attempts) >= MAX_ATTEMPTS:
            return True
        self.start(shared)
        return False

    def kill(self) -> None:
        for attempt in self.attempts:
            if attempt.process.poll() is None:
                attempt.process.kill()
                attempt.process.wait()

    @property
    def started(self) -> float:
        return self.attempts[0].started

    @property
    def ended(self) -> float:
        return self.attempts[-1].ended

    def _report(self, number: int) -> dict[str, Any]:
        try:
            return dict(json.loads(self._file(number, "json").read_text()))
        except (OSError, ValueError):
            return {"cpu_seconds": 0.0, "retries": [], "peak_rss_bytes": 0, "error": "no report"}

    def figures(self) -> dict[str, Any]:
        reports = [self._report(number) for number in range(1, len(self.attempts) + 1)]
        failed = [{"seconds": rounded(attempt.ended - attempt.started), "exit_code": attempt.process.returncode,
                   "error": report.get("error") or _error_line(self._file(number, "err"))}
                  for number, (attempt, report) in enumerate(zip(self.attempts, reports, strict=True), 1)
                  if attempt.process.returncode != 0]
        if self.attempts[-1].process.returncode != 0:
            raise BenchmarkInputError(f"audit-pipeline ingest of feed {self.feed} failed {len(failed)} times: "
                                      + " | ".join(str(attempt["error"])[:600] for attempt in failed))
        counts = json.loads(self._file(len(self.attempts), "out").read_text())
        runs = dagster_runs(self.home)
        steps: dict[str, float] = {}
        for run in runs:
            for step, seconds in run["steps"].items():
                steps[step] = steps.get(step, 0.0) + seconds
        every_retry = [retry for report in reports for retry in report["retries"]]
        return {
            "feed": self.feed, "seconds": rounded(self.ended - self.started),
            "cpu_seconds": rounded(sum(float(report["cpu_seconds"]) for report in reports)),
            "attempts": len(self.attempts), "failed_attempts": failed,
            "ingested_by_last_attempt": counts["ingested"], "quarantined": counts["quarantined"],
            "dagster_run_seconds": rounded(sum(run["seconds"] for run in runs)),
            "steps": {step: rounded(s) for step, s in steps.items()}, "runs": runs,
            "retried_writes": len(every_retry),
            "retry_errors": sorted({str(retry["error"])[:160] for retry in every_retry})[:5],
            "retries": [{"after_seconds": round(float(retry["at"]) - self.wall_started, 1),
                         "error": str(retry["error"])[:240]} for retry in every_retry],
            "peak_rss_mib": round(max(int(report["peak_rss_bytes"]) for report in reports) / 1024**2),
        }


def _error_line(stderr: Path) -> str:
    """The command's own error line (`audit-pipeline: ...`), else the end of its stderr."""
    text = stderr.read_text(errors="replace") if stderr.exists() else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    own = [number for number, line in enumerate(lines) if line.startswith("audit-pipeline:")]
    return " ".join(lines[own[-1]:] if own else lines[-5:])[-1000:]


def dagster_runs(home: Path) -> list[dict[str, Any]]:
    """Every run in the home's Dagster instance, oldest first: its status, seconds and steps' seconds."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_run_records()
        found = [(record.dagster_run.run_id, record.dagster_run.status.value, record.create_timestamp.timestamp())
                 for record in records]
    runs = []
    for run_id, status, _created in sorted(found, key=lambda run: run[2]):
        run_seconds, steps = step_timings(home, run_id)
        runs.append({"run_id": run_id, "status": status, "seconds": rounded(run_seconds),
                     "steps": {step: rounded(seconds) for step, seconds in steps.items()}})
    return runs


def _wait(workers: list[Worker], shared: SharedLake) -> None:
    """Until every worker is done."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    running = list(workers)
    while running:
        running = [worker for worker in running if not worker.poll(shared)]
        if time.monotonic() > deadline:
            raise BenchmarkInputError(f"audit-pipeline ingest took over {TIMEOUT_SECONDS} s")
        time.sleep(0.05)


def check_lake(shared: SharedLake, files: list[Path]) -> dict[str, int]:
    """The lake's events against the generated files' (org_id, event_id)."""
    connection = shared.reader()
    try:
        connection.execute(GENERATED_SQL, {"files": [str(file) for file in files]})
        row = connection.execute(CHECK_SQL).fetchone()
    finally:
        connection.close()
        lake.close_all()
    assert row is not None
    return dict(zip(CHECK_NAMES, (int(value) for value in row), strict=True))


def ingest_at_once(feeds: dict[str, list[Path]], server: Server, folder: Path) -> dict[str, Any]:
    """Each feed ingested by a worker of its own, all started together, into a fresh shared lake."""
    folder.mkdir(parents=True)
    url = server.create_database()
    shared = SharedLake(url, folder / lake.DEFAULT_DATA_NAME)
    try:
        # The tables and the views' tables, as a running deployment has them: the schema, then an `ingest` with
        # nothing to ingest, in a home of its own.
        loader = prepare_worker_home(folder / "loader", shared)
        run_cli(loader.home, ["ingest", "--format", "json"], lake_settings=shared.settings)
        workers = [Worker(feed, folder / f"worker-{feed}", files) for feed, files in feeds.items()]
        for worker in workers:
            prepare_worker_home(worker.home, shared)
        meter = Meter(server, url)
        meter.start()
        try:
            for worker in workers:
                worker.start(shared)
            _wait(workers, shared)
        finally:
            for worker in workers:
                worker.kill()
        usage = meter.stop()
        seconds = max(worker.ended for worker in workers) - min(worker.started for worker in workers)
        per_worker = [worker.figures() for worker in workers]
        every_file = [file for files in feeds.values() for file in files]
        checked = check_lake(shared, every_file)
        events = checked["stored"]
        conflicts = conflict_tables(shared, server, [str(retry["error"]) for worker in per_worker
                                                     for retry in worker["retries"]])
        cpu_seconds = sum(worker["cpu_seconds"] for worker in per_worker)
        return {"workers": len(workers), "events": events, "seconds": rounded(seconds),
                "events_per_second": round(events / seconds) if seconds > 0 else None,
                "cpu_seconds": rounded(cpu_seconds),
                "other_processes_cpu_seconds": Meter.others(usage, cpu_seconds),
                "per_worker": per_worker, "lake": checked, "retried_writes_met": conflicts, **usage}
    finally:
        lake.close_all()
        server.drop_database(url)
        shutil.rmtree(folder, ignore_errors=True)


def _verify(measured: dict[str, Any], expected: int) -> None:
    lake_counts = measured["lake"]
    problems = []
    if lake_counts["generated"] != expected or lake_counts["generated_distinct"] != expected:
        problems.append(f"the feeds hold {lake_counts['generated']:,} events ({lake_counts['generated_distinct']:,} "
                        f"distinct), not {expected:,}")
    for name in ("stored", "stored_distinct", "distinct_ingest_seq"):
        if lake_counts[name] != expected:
            problems.append(f"{name} {lake_counts[name]:,}, not {expected:,}")
    problems += [f"{lake_counts[name]:,} {name}" for name in ("lost", "not_generated") if lake_counts[name]]
    problems += [f"feed {w['feed']}: {w['quarantined']:,} quarantined" for w in measured["per_worker"]
                 if w["quarantined"]]
    if problems:
        raise BenchmarkInputError("the shared lake is not what the workers were given: " + "; ".join(problems))


def run(data: Datasets, work: Path, server: Server, *, events: int) -> dict[str, object]:
    feed_a = data.landing_files(events)
    feed_b = data.landing_files(events, seed=SECOND_FEED_SEED)
    progress(f"shared ingest: one worker alone, audit-pipeline ingest of {events:,} events into a PostgreSQL lake")
    alone = ingest_at_once({"A": feed_a}, server, work / "ingest-alone")
    _verify(alone, events)
    progress(f"  {alone['seconds']:.1f}s ({alone['events_per_second']:,} events/s); two workers at once, "
             f"{events:,} events each")
    together = ingest_at_once({"A": feed_a, "B": feed_b}, server, work / "ingest-together")
    _verify(together, 2 * events)
    progress(f"  {together['seconds']:.1f}s ({together['events_per_second']:,} events/s together)")
    speedup = together["events_per_second"] / alone["events_per_second"] if alone["events_per_second"] else None
    return {"events_per_worker": events, "one_worker": alone, "two_workers": together,
            "speedup": round(speedup, 2) if speedup is not None else None}
