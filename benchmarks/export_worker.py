"""One machine's run worker for exports due at the same hour:
`python -m benchmarks.export_worker REPORT QUEUE NAME [...]`.

The home (AUDIT_PIPELINE_HOME) and the lake it shares with the other workers (AUDIT_PIPELINE_CATALOG,
AUDIT_PIPELINE_DATA) come from the environment, the exporter's AWS identity too. First the set-up a worker
that is already up has behind it: the home's Dagster instance with each named config as a partition of the
export asset, the pipeline's definitions loaded, botocore's service models loaded (one S3 client). Then it
prints `ready` and waits for a line on stdin. From that moment it takes the named exports from the queue shared
with the other workers, in their order, as a run queue hands the next due run to the worker that frees first:
a worker claims an export by creating its folder under QUEUE, which succeeds for one worker only. It runs each
export it claims, one after the other, as a Dagster run of the export job in this process, as
`audit-pipeline export run NAME` does
(`audit_pipeline.export_runs.run_export_now`: the export asset and every check of it, recorded in the home's
Dagster instance), with its conflicting writes counted (`benchmarks.retries`).

REPORT (JSON): each export's run id, events, objects, start and end, its steps and the checks that did not
pass; the go and the last export's end (wall clock); the CPU seconds of the exports; the set-up seconds; the
retried writes; the peak resident memory.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.export_child import peak_rss_bytes
from benchmarks.measure import stopwatch
from benchmarks.retries import count_retries, retries


def failed_checks(home: Path, run_id: str) -> list[str]:
    """The asset checks of the run that did not pass."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    failed = []
    for record in records:
        evaluation: Any = record.dagster_event.event_specific_data if record.dagster_event else None
        if evaluation is not None and not evaluation.passed:
            failed.append(f"{evaluation.check_name}: {evaluation.description or ''}"[:240])
    return failed


def _claimed(queue: Path, name: str) -> bool:
    try:
        (queue / name).mkdir(parents=True)
    except FileExistsError:
        return False  # another worker took it
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print("usage: python -m benchmarks.export_worker REPORT QUEUE NAME [NAME ...]", file=sys.stderr)
        return 2
    began = time.time()
    report, queue, names = Path(argv[0]), Path(argv[1]), argv[2:]
    count_retries()
    from audit_pipeline.export.aws import S3Destination
    from audit_pipeline.export.config_store import get_config
    from audit_pipeline.export_runs import register_export_partition, run_export_now
    from audit_pipeline.settings import paths_from_env
    from benchmarks.cli_ingest import step_timings

    paths = paths_from_env().ensure()
    for name in names:
        register_export_partition(paths, name)
    importlib.import_module("audit_pipeline.definitions")
    S3Destination(get_config(paths, names[0]))
    setup_seconds = time.time() - began
    print("ready", flush=True)
    sys.stdin.readline()

    exports: list[dict[str, Any]] = []
    go = time.time()
    with stopwatch() as watch:
        for name in names:
            if not _claimed(queue, name):
                continue
            started = time.time()
            outcome = run_export_now(paths, name, trigger="benchmark")
            exports.append({"name": name, "run_id": outcome.run_id, "started": started, "ended": time.time(),
                            "events": int(outcome.metadata.get("events_exported", -1)),
                            "objects": len(outcome.metadata.get("object_keys", []))})
    for export in exports:
        run_seconds, steps = step_timings(paths.home, export["run_id"])
        export.update(run_seconds=run_seconds, steps=steps, failed_checks=failed_checks(paths.home, export["run_id"]))
    report.write_text(json.dumps({
        "exports": exports, "go": go, "ended": exports[-1]["ended"] if exports else go, "seconds": watch.seconds,
        "cpu_seconds": watch.cpu_seconds, "setup_seconds": setup_seconds, "retries": retries(),
        "peak_rss_bytes": peak_rss_bytes(),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
