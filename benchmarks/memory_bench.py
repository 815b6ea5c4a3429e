"""Peak memory of one export of M events (one org), measured on a process that does nothing else.

The parent runs the local moto S3 (whose own memory is not the exporter's) and starts
`benchmarks.export_child`, which runs `run_export` as the scheduled export does. The child's peak resident
set size comes from the kernel when the parent reaps it (`os.wait4`), so it covers the whole process:
Python, DuckDB's buffers and boto3's upload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from audit_pipeline.local_aws import local_aws_sandbox
from benchmarks.datasets import Datasets, fresh_home
from benchmarks.export_setup import configure_export
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import progress, rounded

EXPORTED_ORG = "acme"
CONFIG_NAME = "bench-memory"
REPOSITORY = Path(__file__).resolve().parent.parent


def run_child(home: Path, environment: dict[str, str], output: Path) -> tuple[int, int, dict[str, object]]:
    """(exit code, peak RSS in bytes, the child's JSON line) of one child export."""
    with output.open("w") as stdout:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.export_child", str(home), CONFIG_NAME],
            cwd=REPOSITORY, env=environment, stdout=stdout,
        )
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = output.read_text().strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    return child.returncode, usage.ru_maxrss * 1024, report  # ru_maxrss is in KiB on Linux


def run(data: Datasets, work: Path, *, events: int) -> dict[str, object]:
    database_file = data.history_database(events, orgs=1)
    paths = fresh_home(work, "memory", database_file)
    try:
        with local_aws_sandbox() as sandbox:
            configure_export(paths, CONFIG_NAME, EXPORTED_ORG, gzip=False, sandbox=sandbox)
            environment = {**os.environ, **sandbox.exporter_variables(),
                           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY),
                                                                       os.environ.get("PYTHONPATH")]))}
            progress(f"export memory: one export of {events:,} events in a child process")
            code, peak, report = run_child(paths.home, environment, work / "export-child.json")
        if code != 0 or report.get("events") != events:
            raise BenchmarkInputError(f"the child export exited {code} having exported {report.get('events')} "
                                      f"events of {events:,}")
        progress(f"  peak RSS {peak / 1024**2:.0f} MiB in {float(str(report['seconds'])):.1f}s")
        return {
            "events": events,
            "peak_rss_mib": round(peak / 1024**2, 1),
            "export_seconds": rounded(float(str(report["seconds"]))),
            "objects": report.get("objects"),
            "pipeline": "run_export of one org to the local moto S3 in a child process; peak RSS from wait4",
        }
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)
