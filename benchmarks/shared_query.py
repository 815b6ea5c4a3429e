"""The page figure on a PostgreSQL catalog: `query_bench`'s measurement on the same large history.

The history is built once with its catalog in PostgreSQL (`shared_lake.investigated_postgres_home`: the same
synthetic events and the same `audit-pipeline ingest` that built the SQLite one's views) and cached as its
Parquet files and a dump of its catalog. A measurement restores the dump into a fresh database on the
section's server, works on a copy of the files, and asks the same 27 page shapes while the background
`audit-pipeline ingest` loop writes into the same lake, then on the quiet lake, exactly as the `query`
section does on the SQLite catalog; the report shows the two side by side.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from audit_pipeline.storage import lake
from benchmarks import query_bench
from benchmarks.datasets import Datasets
from benchmarks.measure import progress
from benchmarks.postgres import Server
from benchmarks.shared_lake import investigated_postgres_home, restore_home


def run(data: Datasets, work: Path, server: Server, *, history: int, repeats: int,
        batch_events: int) -> dict[str, object]:
    cached = investigated_postgres_home(data, history, server)
    progress(f"shared page: restoring the {history:,}-event PostgreSQL lake ({cached.name})")
    paths, shared = restore_home(cached, work / "query-postgres", server)
    try:
        with shared.in_this_process():
            return query_bench.measure(paths, work, history=history, repeats=repeats, batch_events=batch_events,
                                       snapshots=lambda: server.snapshots(shared.catalog),
                                       lake_settings=shared.settings)
    finally:
        lake.close_all()
        server.drop_database(shared.catalog)
        shutil.rmtree(paths.home, ignore_errors=True)
        shutil.rmtree(paths.home.parent / f"{paths.home.name}-loop-files", ignore_errors=True)
