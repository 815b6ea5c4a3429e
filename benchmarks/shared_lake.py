"""A lake that several homes share, as the machines of a shared deployment do, and the cached 10M one on PostgreSQL.

In a shared deployment every machine has a home folder of its own (landing files, export staging, its Dagster
instance) and they all name one lake: `AUDIT_PIPELINE_CATALOG` (a PostgreSQL database) and
`AUDIT_PIPELINE_DATA` (the Parquet files' folder). `SharedLake` is that pair: the environment of a pipeline
process on one of those homes, and the same settings inside the benchmark's own process for set-up and checks
(a process keeps one DuckDB instance per catalog and data path, so a lake named here never meets the homes'
own lakes).

The cached lake is the large history with every investigation view built, exactly as `Datasets.investigated_home`
builds it but with its catalog in PostgreSQL: the same synthetic events written by the same SQL, then one
`audit-pipeline ingest`. The cache entry holds the home folder with the Parquet files under `lake/` and the
catalog as a plain SQL dump (`catalog.sql`); a measurement restores the dump into a fresh database on the
section's server, copies the home and points the catalog at the copy's files.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake
from audit_pipeline.storage.lake import CATALOG_ENV, DATA_ENV, LakeLocation
from benchmarks.datasets import Datasets, _build_once, home_environment, run_cli, write_history
from benchmarks.measure import progress
from benchmarks.postgres import Server

CATALOG_DUMP = "catalog.sql"
CONFLICT_FILE = re.compile(r'delete from file with index "(\d+)"')
CONFLICT_TABLE = re.compile(r'table with index "(\d+)"')


@dataclass(frozen=True)
class SharedLake:
    """A catalog (a postgresql:// URL or a SQLite file) and the folder of its Parquet files."""

    catalog: str
    data: Path

    @property
    def settings(self) -> dict[str, str]:
        return {CATALOG_ENV: self.catalog, DATA_ENV: str(self.data)}

    @property
    def location(self) -> LakeLocation:
        return LakeLocation(self.catalog, str(self.data).rstrip("/") + "/")

    @property
    def is_postgres(self) -> bool:
        return self.location.is_postgres

    def environment(self, home: Path) -> dict[str, str]:
        """The environment of a pipeline process on `home` (one "machine") working on this lake."""
        return home_environment(home, self.settings)

    @contextmanager
    def in_this_process(self) -> Iterator[None]:
        """This lake as the lake of every home in the benchmark's own process for the block."""
        saved = {name: os.environ.get(name) for name in self.settings}
        os.environ.update(self.settings)
        try:
            yield
        finally:
            lake.close_all()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A read-only cursor on the lake's newest snapshot (the caller closes it, then `lake.close_all()`)."""
        return lake.cursor(self.location, read_only=True)


def prepare_worker_home(home: Path, shared: SharedLake) -> Paths:
    """A machine's home on the shared lake: its folders, the lake's schema, and its Dagster instance."""
    from benchmarks.ingest_bench import prepare_home

    paths = Paths(home).ensure()
    with shared.in_this_process():
        prepare_home(paths)
    return paths


def investigated_postgres_home(data: Datasets, events: int, server: Server) -> Path:
    """The cached large history with every view built, its catalog dumped from PostgreSQL (built on `server`)."""
    target = data.investigated_home_path(events).with_name(
        data.investigated_home_path(events).stem + "-postgres.home")

    def build(home: Path) -> None:
        progress(f"building the {events:,}-event history with its catalog in PostgreSQL into {home.name}: "
                 "synthetic events, then every investigation view (several minutes)")
        url = server.create_database()
        shared = SharedLake(url, home / lake.DEFAULT_DATA_NAME)
        try:
            paths = Paths(home).ensure()
            with shared.in_this_process():
                write_history(paths, events)
            progress(f"  {events:,} events written; building the investigation views (audit-pipeline ingest)")
            run_cli(home, ["ingest", "--format", "json"], lake_settings=shared.settings)
            progress("  views built; dumping the catalog")
            server.dump(url, home / CATALOG_DUMP)
        finally:
            server.drop_database(url)

    return _build_once(target, build)


def restore_home(cached: Path, target: Path, server: Server) -> tuple[Paths, SharedLake]:
    """A working copy of a cached PostgreSQL home: its files copied, its catalog restored and pointed at them."""
    shutil.copytree(cached, target)
    (target / CATALOG_DUMP).unlink()
    url = server.restore(cached / CATALOG_DUMP)
    data_path = target / lake.DEFAULT_DATA_NAME
    server.set_data_path(url, data_path)
    return Paths(target).ensure(), SharedLake(url, data_path)


def conflict_tables(shared: SharedLake, server: Server, errors: list[str]) -> dict[str, int]:
    """What the retried writes' conflicts were about: the table of the file (`... delete from file with index "N"`)
    or the table (`... drop table with index "N"`) each names, with how many conflicts each; a retried write whose
    message names neither counts under its message."""
    counts: Counter[str] = Counter()
    files: list[int] = []
    tables: list[int] = []
    for error in errors:
        found_files, found_tables = CONFLICT_FILE.findall(error), CONFLICT_TABLE.findall(error)
        files += [int(index) for index in found_files]
        tables += [int(index) for index in found_tables]
        if not found_files and not found_tables:
            counts[error.split("DuckLake transaction.", 1)[-1].strip()[:80] or error[:80]] += 1
    names = _catalog_names(shared, server, "SELECT DISTINCT f.data_file_id, t.table_name FROM ducklake_data_file f "
                           "JOIN ducklake_table t ON t.table_id = f.table_id WHERE f.data_file_id IN ({})", files)
    counts.update(f"table {names.get(index, f'of file {index}')}" for index in files)
    names = _catalog_names(shared, server, "SELECT DISTINCT table_id, table_name FROM ducklake_table "
                           "WHERE table_id IN ({})", tables)
    counts.update(f"table {names.get(index, f'{index}')} (replaced)" for index in tables)
    return dict(counts.most_common())


def _catalog_names(shared: SharedLake, server: Server, sql: str, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = sql.format(", ".join(str(index) for index in sorted(set(ids))))
    if shared.is_postgres:
        return {int(index): name for index, name in server.query(shared.catalog, query)}
    with closing(sqlite3.connect(f"file:{shared.catalog}?mode=ro", uri=True, timeout=30)) as catalog:
        return {int(index): str(name) for index, name in catalog.execute(query).fetchall()}
