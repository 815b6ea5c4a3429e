"""A shared deployment: several machines on one PostgreSQL catalog and one data path (the `shared` section).

Three figures, each on a throwaway PostgreSQL server (`benchmarks.postgres`) started for the section:

- exports due at the same hour, run by two worker processes at once against one (`benchmarks.shared_export`;
  the same on the SQLite catalog beside it);
- ingestion by two machines at once against one alone (`benchmarks.shared_ingest`), and a check that the lake
  holds every generated event once;
- the page figure on the large history with its catalog in PostgreSQL (`benchmarks.shared_query`), beside the
  `query` section's on SQLite.

A part that fails is reported as failed with its error; the others are still measured.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit_pipeline.local_aws import local_aws_sandbox
from benchmarks import shared_export, shared_ingest, shared_query
from benchmarks.datasets import Datasets
from benchmarks.measure import progress, stopwatch
from benchmarks.postgres import Server, postgres_server

HEADLINES = {"exports": ("export_two_worker_ratio", ("postgres", "ratio")),
             "ingest": ("ingest_two_worker_speedup", ("speedup",)),
             "page": ("page_worst_shape_p95_ms", ("worst_shape_p95_ms",))}


def _exports(data: Datasets, work: Path, server: Server, configs: int, events: int,
             rounds: int) -> dict[str, object]:
    with local_aws_sandbox() as sandbox:
        return shared_export.run(data, work, server, sandbox, configs=configs, events=events, rounds=rounds)


def run(data: Datasets, work: Path, *, configs: int, export_events: int, ingest_events: int, history: int,
        repeats: int, batch_events: int, rounds: int = 1) -> dict[str, object]:
    figures: dict[str, Any] = {}
    failed: list[str] = []
    with postgres_server() as server:
        parts: dict[str, Callable[[], dict[str, object]]] = {
            "exports": lambda: _exports(data, work, server, configs, export_events, rounds),
            "ingest": lambda: shared_ingest.run(data, work, server, events=ingest_events),
            "page": lambda: shared_query.run(data, work, server, history=history, repeats=repeats,
                                             batch_events=batch_events),
        }
        for name, measure in parts.items():
            progress(f"shared: {name}")
            with stopwatch() as watch:
                try:
                    figures[name] = measure()
                except Exception as error:  # one failed part must not lose the others
                    progress(f"shared: {name} failed:\n{traceback.format_exc()}")
                    figures[name] = {"error": f"{type(error).__name__}: {error}"[:4000]}
                    failed.append(name)
            figures[name]["part_seconds"] = round(watch.seconds, 1)
    for part, (headline, path) in HEADLINES.items():
        value: Any = figures.get(part, {})
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        figures[headline] = value
    figures["failed_parts"] = failed
    figures["catalog_server"] = ("PostgreSQL from Debian's binaries, started for the section on 127.0.0.1 "
                                 "(tests.postgres_server: fsync off); every worker a process with a home of its own")
    return figures
