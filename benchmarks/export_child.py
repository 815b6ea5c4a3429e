"""Exports in a process of their own: `python -m benchmarks.export_child REPORT HOME NAME [NAME ...]`.

Runs `run_export` for each named config, one after the other, as the scheduled export job does, and writes
to the REPORT file the events and objects of each export, and the wall-clock and CPU seconds of them all
(Python's start-up, imports and boto3 client creation excluded), and the process's peak resident memory;
stdout is left to DuckDB's progress bar.
"""

from __future__ import annotations

import json
import resource
import sys
import uuid
from pathlib import Path

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config_store import get_config
from audit_pipeline.export.runner import run_export
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from benchmarks.measure import stopwatch


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m benchmarks.export_child REPORT HOME NAME [NAME ...]", file=sys.stderr)
        return 2
    report, paths = Path(argv[0]), Paths(Path(argv[1]))
    # The lake's schema as this process's code expects it (readers refuse a lake missing a migration).
    with database.writer(paths):
        pass
    configs = [get_config(paths, name) for name in argv[2:]]
    # boto3's clients are created before the clock: loading botocore's service models is a set-up cost of the
    # process, not of an export. Assuming the role happens inside run_export and is timed.
    destinations = [S3Destination(config) for config in configs]
    exports = []
    with stopwatch() as watch:
        for config, destination in zip(configs, destinations, strict=True):
            result = run_export(paths, config, destination, run_id=uuid.uuid4().hex)
            exports.append({"name": config.name, "org_id": config.org_id, "events": result.plan.events,
                            "objects": len(result.objects)})
    report.write_text(json.dumps({"exports": exports, "seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds,
                                  "peak_rss_bytes": peak_rss_bytes()}))
    return 0


def peak_rss_bytes() -> int:
    """This process's peak resident set size: VmHWM, the high-water mark of its own address space.

    Not getrusage's ru_maxrss: on Linux that also counts the parent's resident memory at the moment the child
    was spawned (the address space it was started from), which is the benchmark process and its caches.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
