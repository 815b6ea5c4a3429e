"""Exports due at the same hour, run by one worker and by two workers at once, on a shared lake.

The lake holds the project generator's events of C orgs over one day (its skew: the largest org has about 8x
the smallest's events), ingested by `audit-pipeline ingest`, and one export configuration per org (plain JSON,
hourly, to one bucket of the local moto S3 with IAM checks on, each with its customer role): C first exports,
each one org's whole window. A worker is a process of its own with a home of its own on the shared lake
(`benchmarks.export_worker`): set up, it waits for the go, then runs its configs' exports one after the other,
each a Dagster run of the export job (the export and every check of it), as the schedule's run would.

- one worker: all C exports, one after the other;
- two workers, started by the same go, taking the C exports (largest first) from one queue: each worker
  claims the next unclaimed export when it has finished its last, as Dagster's run queue hands the next
  queued run to a free run worker.

The figure is the wall clock from the go to the end of the last export, two workers over one. Both measure
the same windows: each starts from its own copy of the lake as configured (a new database copied from the
configured one, or a copy of the SQLite catalog, and a copy of the Parquet files), and the bucket is emptied
in between. Measured on a PostgreSQL catalog (the shared deployment), then on the default SQLite catalog
(one machine, two worker processes).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake, pg_locks
from benchmarks.datasets import REPOSITORY, Datasets, rebase_home, run_cli
from benchmarks.export_setup import BUCKET, configure_export, org_event_counts
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import median, progress, rounded
from benchmarks.postgres import Server
from benchmarks.shared_lake import SharedLake, conflict_tables, prepare_worker_home
from benchmarks.shared_meter import Meter

FEED_DAYS = 1
FEED_SEED = 11
WORKER_TIMEOUT_SECONDS = 3600
CATALOGS = ("postgres", "sqlite")


@dataclass(frozen=True)
class Configured:
    """A lake with the configs saved, to be copied for each measurement; events per config name."""

    kind: str
    folder: Path
    shared: SharedLake
    events: dict[str, int]


def configure(kind: str, files: list[Path], folder: Path, server: Server, sandbox: LocalAwsSandbox,
              expected_events: int) -> Configured:
    """Ingest the feed into a new lake of the kind, and save one export config per org in it."""
    folder.mkdir(parents=True)
    catalog = server.create_database() if kind == "postgres" else str(folder / lake.DEFAULT_CATALOG_NAME)
    shared = SharedLake(catalog, folder / lake.DEFAULT_DATA_NAME)
    loader = prepare_worker_home(folder.parent / f"{folder.name}-loader", shared)
    output = run_cli(loader.home, ["ingest", "--format", "json", *(str(file) for file in files)],
                     lake_settings=shared.settings)
    with shared.in_this_process():
        counts = org_event_counts(loader)
        if sum(counts.values()) != expected_events:
            raise BenchmarkInputError(f"the {kind} lake holds {sum(counts.values()):,} events, not "
                                      f"{expected_events:,}: {output[-500:]}")
        events = {configure_export(loader, f"{kind}-{org}", org, gzip=False, sandbox=sandbox,
                                   readable=True).name: count
                  for org, count in counts.items()}
    shutil.rmtree(loader.home, ignore_errors=True)
    return Configured(kind, folder, shared, events)


def copy_lake(configured: Configured, target: Path, server: Server) -> SharedLake:
    """A lake of its own for one measurement, as the configured one is."""
    if configured.kind == "sqlite":
        shutil.copytree(configured.folder, target)
        rebase_home(target)  # the catalog's data path, to the copy's files
        return SharedLake(str(target / lake.DEFAULT_CATALOG_NAME), target / lake.DEFAULT_DATA_NAME)
    shutil.copytree(configured.shared.data, target / lake.DEFAULT_DATA_NAME)
    pg_locks.close_idle_connections()  # configuring took turns to write: PostgreSQL copies no database in use
    url = server.create_database(template=configured.shared.catalog)
    server.set_data_path(url, target / lake.DEFAULT_DATA_NAME)
    return SharedLake(url, target / lake.DEFAULT_DATA_NAME)


def queue_order(events: dict[str, int]) -> list[str]:
    """The configs by size, largest first: the order the workers claim them in."""
    return sorted(events, key=lambda name: (-events[name], name))


@dataclass
class Worker:
    process: subprocess.Popen[str]
    report: Path
    log: Path
    names: list[str]

    def failure(self, what: str) -> BenchmarkInputError:
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return BenchmarkInputError(f"export worker {self.report.stem} {what} (exit {self.process.poll()}): {tail}")


def start_worker(number: int, names: list[str], shared: SharedLake, sandbox: LocalAwsSandbox,
                 folder: Path) -> Worker:
    """Worker `number`, taking `names` from the queue in `folder` it shares with the other workers."""
    home = folder / f"worker-{number}"
    Paths(home).ensure()
    environment = {**shared.environment(home), **sandbox.exporter_variables()}
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"):
        environment.pop(name, None)
    report, log = folder / f"worker-{number}.json", folder / f"worker-{number}.log"
    with log.open("w") as errors:
        command = [sys.executable, "-m", "benchmarks.export_worker", str(report), str(folder / "queue"), *names]
        process = subprocess.Popen(command,
                                   cwd=REPOSITORY, env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=errors, text=True)
    return Worker(process, report, log, names)


def _wait_ready(worker: Worker) -> None:
    assert worker.process.stdout is not None
    for line in worker.process.stdout:
        if line.strip() == "ready":
            return
    raise worker.failure("ended before it was ready")


def run_workers(names: list[str], count: int, shared: SharedLake, sandbox: LocalAwsSandbox, server: Server,
                folder: Path) -> dict[str, Any]:
    """Start `count` workers on one queue of `names`, wait until all are set up, give the go, and wait for them
    to finish."""
    folder.mkdir(parents=True)
    workers = [start_worker(number, names, shared, sandbox, folder) for number in range(1, count + 1)]
    try:
        for worker in workers:
            _wait_ready(worker)
        meter = Meter(server, shared.catalog) if shared.is_postgres else Meter()
        meter.start()
        go = time.time()
        for worker in workers:
            assert worker.process.stdin is not None
            worker.process.stdin.write("go\n")
            worker.process.stdin.close()
        for worker in workers:
            if worker.process.wait(timeout=WORKER_TIMEOUT_SECONDS) != 0 or not worker.report.exists():
                raise worker.failure("failed")
        usage = meter.stop()
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()
            if worker.process.stdout is not None:
                worker.process.stdout.close()
    reports = [json_report(worker.report) for worker in workers]
    return {"go": go, "reports": reports, "usage": usage}


def json_report(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _empty_bucket(sandbox: LocalAwsSandbox) -> int:
    """Delete every object (moto keeps them in this process's memory); returns how many there were."""
    keys = sandbox.list_keys(BUCKET)
    s3 = sandbox.admin_client("s3")
    for start in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": key} for key in keys[start:start + 1000]]})
    return len(keys)


def _worker_figures(report: dict[str, Any], go: float) -> dict[str, object]:
    exports = report["exports"]
    runs = [export["ended"] - export["started"] for export in exports]
    steps: dict[str, list[float]] = {}
    for export in exports:
        for step, seconds in export["steps"].items():
            steps.setdefault(step, []).append(seconds)
    return {
        "configs": len(exports),
        "events": sum(int(export["events"]) for export in exports),
        "seconds": rounded(report["ended"] - go),
        "cpu_seconds": rounded(report["cpu_seconds"]),
        "setup_seconds": rounded(report["setup_seconds"]),
        "export_run_seconds": {"median": rounded(median(runs)), "min": rounded(min(runs)), "max": rounded(max(runs))},
        "dagster_run_seconds_median": rounded(median([float(export["run_seconds"]) for export in exports])),
        "steps_median": {step: rounded(median(values)) for step, values in sorted(steps.items())},
        "retried_writes": len(report["retries"]),
        "retry_errors": sorted({str(retry["error"])[:120] for retry in report["retries"]})[:5],
        "peak_rss_mib": round(report["peak_rss_bytes"] / 1024**2),
    }


def measure(configured: Configured, workers: int, sandbox: LocalAwsSandbox, server: Server,
            work: Path) -> dict[str, Any]:
    """One measurement with `workers` workers on a fresh copy of the configured lake; raises on a wrong export."""
    folder = work / f"{configured.kind}-{workers}-workers"
    shared = copy_lake(configured, folder / "lake-copy", server)
    try:
        done = run_workers(queue_order(configured.events), workers, shared, sandbox, server, folder / "workers")
        exported = {export["name"]: int(export["events"]) for report in done["reports"]
                    for export in report["exports"]}
        wrong = {name: (exported.get(name), count) for name, count in configured.events.items()
                 if exported.get(name) != count}
        if wrong:
            raise BenchmarkInputError(f"exports that did not hold their window's events (exported, expected): "
                                      f"{dict(list(wrong.items())[:5])}")
        failed = [f"{export['name']}: {check}" for report in done["reports"] for export in report["exports"]
                  for check in export["failed_checks"]]
        conflicts = conflict_tables(shared, server, [str(retry["error"]) for report in done["reports"]
                                                     for retry in report["retries"]])
        objects = _empty_bucket(sandbox)
        ended = max(report["ended"] for report in done["reports"])
        cpu_seconds = sum(report["cpu_seconds"] for report in done["reports"])
        return {
            "workers": workers,
            "seconds": rounded(ended - done["go"]),
            "cpu_seconds": rounded(cpu_seconds),
            "other_processes_cpu_seconds": Meter.others(done["usage"], cpu_seconds),
            "events": sum(exported.values()),
            "objects": objects,
            "checks_not_passed": failed[:10],
            "retried_writes_met": conflicts,
            "per_worker": [_worker_figures(report, done["go"]) for report in done["reports"]],
            **done["usage"],
        }
    finally:
        lake.close_all()
        if shared.is_postgres:
            server.drop_database(shared.catalog)
        shutil.rmtree(folder, ignore_errors=True)


def run(data: Datasets, work: Path, server: Server, sandbox: LocalAwsSandbox, *, configs: int, events: int,
        rounds: int = 1) -> dict[str, object]:
    files = data.landing_files(events, orgs=configs, days=FEED_DAYS, seed=FEED_SEED)
    figures: dict[str, Any] = {"configs": configs, "events": events, "gzip": False}
    for kind in CATALOGS:
        progress(f"shared exports: {events:,} events of {configs} orgs into a {kind} lake, {configs} export configs")
        configured = configure(kind, files, work / f"exports-{kind}", server, sandbox, events)
        if kind == CATALOGS[0]:
            sizes = sorted(configured.events.values())
            figures["events_per_config"] = {"min": sizes[0], "median": round(median(sizes)), "max": sizes[-1]}
        try:
            samples: dict[str, list[dict[str, Any]]] = {"worker_1": [], "worker_2": []}
            for number in range(1, rounds + 1):
                for workers in (1, 2):
                    progress(f"shared exports, {kind}, round {number}/{rounds}: {configs} exports by {workers} "
                             "worker(s)")
                    samples[f"worker_{workers}"].append(measure(configured, workers, sandbox, server, work))
                    progress(f"  {samples[f'worker_{workers}'][-1]['seconds']:.1f}s")
            # Each figure is the median round's measurement (the lower of the middle two for an even count).
            measured = {key: sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]
                        for key, runs in samples.items()}
            one, two = measured["worker_1"]["seconds"], measured["worker_2"]["seconds"]
            figures[kind] = {"one_worker_seconds": one, "two_workers_seconds": two,
                             "ratio": round(two / one, 2) if one > 0 else None, **measured,
                             "samples": {key: [run["seconds"] for run in runs] for key, runs in samples.items()}}
        finally:
            if configured.shared.is_postgres:
                server.drop_database(configured.shared.catalog)
            shutil.rmtree(configured.folder, ignore_errors=True)
    return figures
