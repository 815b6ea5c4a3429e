"""`audit-pipeline ingest` run as an operator runs it, timed from the outside, with its Dagster step timings.

The command copies the files into the landing folder and executes the Dagster ingest job in its own process:
ingestion (`audit_events` and its checks) and then every investigation view, each a step. When it returns
the events and the views are committed to the lake and visible to every reader. The wall clock covers the
whole process (Python's start-up and imports included); the CPU time is the child's own (user + system).
The step timings come from the run's record in the home's Dagster instance.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.datasets import REPOSITORY, cli_command, home_environment

INGEST_STEP = "audit_events"


class CliIngestError(RuntimeError):
    """The command failed or stored other events than expected: a figure over it would be meaningless."""


@dataclass(frozen=True)
class CliIngest:
    seconds: float
    cpu_seconds: float
    run_id: str
    counts: dict[str, Any]
    run_seconds: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def ingest_step_seconds(self) -> float:
        return self.steps.get(INGEST_STEP, 0.0)

    @property
    def views_seconds(self) -> float:
        return sum(seconds for step, seconds in self.steps.items() if step != INGEST_STEP)

    def as_dict(self) -> dict[str, object]:
        return {
            "seconds": round(self.seconds, 4), "cpu_seconds": round(self.cpu_seconds, 4),
            "dagster_run_seconds": round(self.run_seconds, 4),
            "ingest_step_seconds": round(self.ingest_step_seconds, 4),
            "views_seconds": round(self.views_seconds, 4),
            "outside_the_run_seconds": round(self.seconds - self.run_seconds, 4),
            "steps": {step: round(seconds, 4) for step, seconds in self.steps.items()},
        }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ingest(home: Path, files: list[Path], *, expect_ingested: int | None = None) -> CliIngest:
    """`audit-pipeline ingest --format json FILES` on `home`, timed; raises unless it stored what was expected."""
    command = [*cli_command(), "ingest", "--format", "json", *(str(file) for file in files)]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPOSITORY, env=home_environment(home), capture_output=True,
                               text=True, check=False)
    seconds = time.perf_counter() - started
    cpu_seconds = _children_cpu() - cpu_before
    if completed.returncode != 0:
        raise CliIngestError(f"audit-pipeline ingest exited {completed.returncode}: {completed.stderr[-3000:]}")
    counts = json.loads(completed.stdout)
    if expect_ingested is not None and (counts["ingested"] != expect_ingested or counts["quarantined"]):
        raise CliIngestError(f"audit-pipeline ingest stored {counts['ingested']:,} of {expect_ingested:,} events "
                             f"({counts['quarantined']:,} quarantined)")
    run_seconds, steps = step_timings(home, str(counts["run_id"]))
    return CliIngest(seconds=seconds, cpu_seconds=cpu_seconds, run_id=str(counts["run_id"]), counts=counts,
                     run_seconds=run_seconds, steps=steps)


def step_timings(home: Path, run_id: str) -> tuple[float, dict[str, float]]:
    """The run's duration and each step's, from the Dagster instance in the home folder."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        record = instance.get_run_record_by_id(run_id)
        stats = instance.get_run_step_stats(run_id)
    run_seconds = 0.0
    if record is not None and record.start_time is not None and record.end_time is not None:
        run_seconds = record.end_time - record.start_time
    steps = {stat.step_key: (stat.end_time or 0.0) - (stat.start_time or 0.0) for stat in stats
             if stat.start_time is not None}
    return run_seconds, dict(sorted(steps.items(), key=lambda item: (item[0] != INGEST_STEP, item[0])))


def median_steps(runs: list[CliIngest]) -> dict[str, float]:
    """Each step's median over the runs."""
    from benchmarks.measure import median

    names = {step for run in runs for step in run.steps}
    ordered = sorted(names, key=lambda step: (step != INGEST_STEP, step))
    return {step: round(median([run.steps.get(step, 0.0) for run in runs]), 4) for step in ordered}
