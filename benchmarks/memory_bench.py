"""Peak memory of one export of M events (one org), measured on a process that does nothing else.

The benchmark process serves the local moto S3 (whose own memory is not the exporter's) and starts
`benchmarks.export_child`, which runs `run_export` as the scheduled export does and reports its peak resident
set size (VmHWM), covering Python, DuckDB's buffers and boto3's upload.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from audit_pipeline.local_aws import local_aws_sandbox
from audit_pipeline.storage import lake
from benchmarks.datasets import Datasets, fresh_home
from benchmarks.export_process import export_in_child
from benchmarks.export_setup import configure_export
from benchmarks.ingest_bench import BenchmarkInputError
from benchmarks.measure import progress, rounded

EXPORTED_ORG = "acme"
CONFIG_NAME = "bench-memory"


def run(data: Datasets, work: Path, *, events: int) -> dict[str, object]:
    paths = fresh_home(work, "memory", data.history_home(events, orgs=1))
    try:
        with local_aws_sandbox() as sandbox:
            configure_export(paths, CONFIG_NAME, EXPORTED_ORG, gzip=False, sandbox=sandbox)
            progress(f"export memory: one export of {events:,} events in a process of its own")
            done = export_in_child(paths.home, [CONFIG_NAME], sandbox, work / "export-child.json")
        exported = done.events_by_org().get(EXPORTED_ORG)
        if exported != events:
            raise BenchmarkInputError(f"the export held {exported} events, not {events:,}")
        peak_mib = done.peak_rss_bytes / 1024**2
        progress(f"  peak RSS {peak_mib:.0f} MiB in {done.watch.seconds:.1f}s")
        lake.close_all()
        return {
            "events": events,
            "peak_rss_mib": round(peak_mib, 1),
            "export_seconds": rounded(done.watch.seconds),
            "export_cpu_seconds": rounded(done.watch.cpu_seconds),
            "objects": sum(int(export["objects"]) for export in done.exports),
            "pipeline": "run_export of one org to the local moto S3 in a process of its own; peak RSS is its VmHWM",
        }
    finally:
        shutil.rmtree(paths.home, ignore_errors=True)
