"""A writer that keeps ingesting while the page is measured: `python -m benchmarks.ingest_loop HOME BATCH STOP REPORT`.

Runs `audit-pipeline ingest --format json FILE` on HOME again and again, each time on a new NDJSON file of
BATCH events (written by `benchmarks.synthetic`, the hours after the history, new event ids every time), as a
landing feed would keep the pipeline busy, until the file STOP exists; the run under way then finishes. It
writes REPORT (JSON): every run's start, end, events and Dagster run id. A lake outside HOME (a shared
catalog: AUDIT_PIPELINE_CATALOG / AUDIT_PIPELINE_DATA in this process's environment) is passed on to the runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from audit_pipeline.storage.lake import CATALOG_ENV, DATA_ENV
from benchmarks import synthetic
from benchmarks.datasets import FEED_END, FEED_ORGS, REPOSITORY, SEED, cli_command, home_environment

LOOP_SEED = SEED + 2000
HOUR = timedelta(hours=1)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python -m benchmarks.ingest_loop HOME BATCH STOP REPORT", file=sys.stderr)
        return 2
    home, batch, stop, report = Path(argv[0]), int(argv[1]), Path(argv[2]), Path(argv[3])
    folder = home.parent / f"{home.name}-loop-files"
    folder.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, object]] = []
    number = 0
    environment = home_environment(home, {name: os.environ[name] for name in (CATALOG_ENV, DATA_ENV)
                                          if os.environ.get(name)})
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        while not stop.exists():
            file = folder / f"loop-{number:05d}.jsonl"
            synthetic.write_ndjson(connection, synthetic.EventRange(
                first=number * batch, count=batch, start=FEED_END + number * HOUR, span=HOUR, orgs=FEED_ORGS,
                seed=LOOP_SEED, seq_base=1, tag="loop"), str(file))
            started = time.time()
            completed = subprocess.run([*cli_command(), "ingest", "--format", "json", str(file)], cwd=REPOSITORY,
                                       env=environment, capture_output=True, text=True, check=False)
            ended = time.time()
            file.unlink(missing_ok=True)
            if completed.returncode != 0:
                runs.append({"started": started, "ended": ended, "error": completed.stderr[-2000:]})
                break
            counts = json.loads(completed.stdout)
            runs.append({"started": started, "ended": ended, "ingested": counts["ingested"],
                         "run_id": counts["run_id"]})
            report.write_text(json.dumps({"runs": runs, "done": False}))
            number += 1
    report.write_text(json.dumps({"runs": runs, "done": True}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
