"""Starting `benchmarks.export_child` against the local AWS sandbox, and reading what it did.

The sandbox (moto) keeps running in the benchmark's own process; the exporter gets a process of its own, as
the scheduled job has, so the two do not share one interpreter lock and the exporter's CPU time and peak
memory are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit_pipeline.local_aws import LocalAwsSandbox
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import Stopwatch

REPOSITORY = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ChildExports:
    exports: list[dict[str, Any]]
    watch: Stopwatch
    peak_rss_bytes: int

    def events_by_org(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for export in self.exports:
            totals[export["org_id"]] = totals.get(export["org_id"], 0) + int(export["events"])
        return totals


def export_in_child(home: Path, names: list[str], sandbox: LocalAwsSandbox, output: Path) -> ChildExports:
    """Run the named exports of `home` in a child process; raises when it fails."""
    environment = {
        **os.environ, **sandbox.exporter_variables(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")])),
    }
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"):
        environment.pop(name, None)
    output.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.export_child", str(output), str(home), *names],
        cwd=REPOSITORY, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    errors = child.stderr.read().decode("utf-8", "replace")
    child.stderr.close()
    child.returncode = child.wait()
    if child.returncode != 0 or not output.exists():
        raise BenchmarkInputError(f"the export process exited {child.returncode}: {errors[-2000:]}")
    report = json.loads(output.read_text())
    watch = Stopwatch(seconds=float(report["seconds"]), cpu_seconds=float(report["cpu_seconds"]))
    return ChildExports(exports=report["exports"], watch=watch, peak_rss_bytes=int(report["peak_rss_bytes"]))
