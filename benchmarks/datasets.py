"""The benchmark's input data, generated once and cached under `benchmarks/.data/`, keyed by its parameters.

- landing files: NDJSON written by the project's generator (`audit_pipeline.generator.run.generate_events`),
  the input of the ingestion figures;
- lake homes: a whole home folder (`catalog.sqlite` + `lake/`, the default SQLite catalog and local data
  path) per size:
  - the ingested home: the landing files ingested by the pipeline, the input of the export figure;
  - history homes: events written by DuckDB SQL (`benchmarks.synthetic`) straight into the lake's `events`
    table, `ingest_sequence` set to the last `ingest_seq`, the input of the window-export and memory figures;
  - investigated homes: a history home after one `audit-pipeline ingest` run (the Dagster ingest job) built
    every investigation view, as a running deployment has them: the input of the small-batch ingestion and
    page figures.

A cache entry's name holds its parameters and a fingerprint of the code that makes it, so changing the
generator, the storage or the derived views makes a new entry instead of reusing a stale one. Entries are
built under a temporary name and renamed when complete, so an interrupted run never leaves a half-built
entry behind. A measurement never touches an entry: it works on a copy (`copy_home`).

A DuckLake catalog records its data path as an absolute path, so a home copied or renamed elsewhere still
points at the original's Parquet files; `rebase_home` rewrites that one catalog value after every copy.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from audit_pipeline.generator.run import generate_events
from audit_pipeline.settings import HOME_ENV, Paths
from audit_pipeline.storage import database, lake
from audit_pipeline.storage.ingest import ingest_landing
from benchmarks import synthetic
from benchmarks.measure import progress

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"
FEED_END = datetime(2026, 11, 1, tzinfo=UTC)
FEED_DAYS = 92
FEED_ORGS = 3
SEED = 1
PACKAGE_ROOT = Path(database.__file__).resolve().parent.parent
REPOSITORY = PACKAGE_ROOT.parent
# Settings that would move a home's lake or Dagster instance outside the home folder.
HOME_OVERRIDES = (lake.CATALOG_ENV, lake.DATA_ENV, "DAGSTER_HOME")


@functools.cache
def _fingerprint(*sources: Path) -> str:
    """A digest of the code under `sources`, taken once per run (code edited mid-run does not switch caches)."""
    digest = hashlib.sha256()
    for source in sources:
        files = sorted(source.rglob("*.py")) if source.is_dir() else [source]
        for file in files:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def _build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(staging)` unless it exists; `staging` is renamed to `target` when done."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.building")
    try:
        build(staging)
        lake.close_all()
        os.replace(staging, target)
        if (target / lake.DEFAULT_CATALOG_NAME).exists():
            rebase_home(target)
    finally:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
    return target


def rebase_home(home: Path) -> None:
    """Point the home's catalog at the `lake/` folder beside it (DuckLake keeps the data path absolute)."""
    data_path = str(home.resolve() / lake.DEFAULT_DATA_NAME) + "/"
    with closing(sqlite3.connect(home / lake.DEFAULT_CATALOG_NAME)) as catalog, catalog:
        catalog.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", [data_path])


def copy_home(source: Path, target: Path) -> Paths:
    """A copy of a whole home folder (catalog, Parquet files, Dagster instance) that works on its own."""
    shutil.copytree(source, target)
    rebase_home(target)
    return Paths(target).ensure()


def home_environment(home: Path, lake_settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a pipeline process working on `home`, with its lake and Dagster inside it.

    `lake_settings` (AUDIT_PIPELINE_CATALOG, AUDIT_PIPELINE_DATA) put its lake elsewhere instead: a lake that
    several homes share, as the machines of a shared deployment do (`benchmarks.shared_lake`).
    """
    environment = {key: value for key, value in os.environ.items() if key not in HOME_OVERRIDES}
    environment.update(lake_settings or {})
    environment[HOME_ENV] = str(home)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    return environment


def cli_command() -> list[str]:
    """`audit-pipeline`, as installed beside this interpreter (or run as a module when it is not)."""
    script = Path(sys.executable).with_name("audit-pipeline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "audit_pipeline.cli.main"]


def set_ingest_sequence(connection: duckdb.DuckDBPyConnection) -> int:
    """Make `ingest_sequence` hold max(events.ingest_seq), as ingestion leaves it; returns that value."""
    row = connection.execute("SELECT coalesce(max(ingest_seq), 0) FROM events").fetchone()
    last = int(row[0]) if row else 0
    connection.execute("DELETE FROM ingest_sequence")
    connection.execute("INSERT INTO ingest_sequence VALUES (?)", [last])
    return last


@dataclass(frozen=True)
class Datasets:
    root: Path

    def landing_files(self, events: int, *, orgs: int = FEED_ORGS, days: int = FEED_DAYS,
                      seed: int = SEED) -> list[Path]:
        """NDJSON landing files with `events` events of `orgs` orgs (3) over the `days` (92) before 2026-11-01.

        Another seed gives another feed of the same shape: other event ids (drawn at random), other content.
        """
        key = f"landing-e{events}-o{orgs}-d{days}-s{seed}-{_fingerprint(PACKAGE_ROOT / 'generator')}"

        def build(folder: Path) -> None:
            progress(f"generating {events:,} events with the project's generator into {folder.name}")
            generate_events(folder, events=events, orgs=orgs, days=days, seed=seed, end=FEED_END,
                            progress=lambda message: progress(f"  {message}"))

        folder = _build_once(self.root / key, build)
        return sorted(folder.glob("*.jsonl"))

    def batch_files(self, events: int) -> list[Path]:
        """A small batch of `events` generated events from the day after the histories end (2026-11-01)."""
        key = f"batch-e{events}-o{FEED_ORGS}-s{SEED + 7}-{_fingerprint(PACKAGE_ROOT / 'generator')}"

        def build(folder: Path) -> None:
            generate_events(folder, events=events, orgs=FEED_ORGS, days=1, seed=SEED + 7,
                            end=FEED_END + timedelta(days=1))

        return sorted(_build_once(self.root / key, build).glob("*.jsonl"))

    def ingested_home_path(self, events: int) -> Path:
        """Where the landing files of `events` events, ingested by the pipeline, are cached as a home."""
        files = self.landing_files(events)
        landing_key = files[0].parent.name.rsplit("-", 1)[-1]
        return self.root / f"ingested-e{events}-{landing_key}-{_fingerprint(PACKAGE_ROOT / 'storage')}.home"

    def ingested_home(self, events: int) -> Path:
        """The landing files of `events` events ingested by the pipeline into a fresh lake."""
        files = self.landing_files(events)

        def build(home: Path) -> None:
            progress(f"ingesting {events:,} events to build {home.name}")
            paths = Paths(home).ensure()
            link_files(files, paths.landing)
            with database.writer(paths) as connection:
                ingest_landing(connection, paths.landing, paths.archive)
            shutil.rmtree(paths.archive, ignore_errors=True)

        return _build_once(self.ingested_home_path(events), build)

    def keep_ingested_home(self, events: int, home: Path) -> None:
        """Cache a home the ingestion figure just built, so the export figure need not ingest again."""
        def build(staging: Path) -> None:
            shutil.move(home, staging)
            shutil.rmtree(staging / "archive", ignore_errors=True)

        _build_once(self.ingested_home_path(events), build)

    def history_home_path(self, events: int, *, orgs: int = FEED_ORGS) -> Path:
        code = f"{synthetic.fingerprint()}{_fingerprint(PACKAGE_ROOT / 'storage' / 'schema.py')[:4]}"
        return self.root / f"history-e{events}-o{orgs}-d{FEED_DAYS}-s{SEED}-{code}.home"

    def history_home(self, events: int, *, orgs: int = FEED_ORGS) -> Path:
        """A lake of `events` events of `orgs` orgs over the 92 days before 2026-11-01, written by DuckDB SQL."""
        def build(home: Path) -> None:
            progress(f"writing a history of {events:,} events ({orgs} orgs) with DuckDB SQL into {home.name}")
            write_history(Paths(home).ensure(), events, orgs=orgs)

        return _build_once(self.history_home_path(events, orgs=orgs), build)

    def investigated_home_path(self, events: int) -> Path:
        """Where the history of `events` events with every investigation view built is cached as a home."""
        views = _fingerprint(PACKAGE_ROOT / "derived", PACKAGE_ROOT / "assets")
        return self.root / f"{self.history_home_path(events).stem}-views-{views}.home"

    def investigated_home(self, events: int) -> Path:
        """The history after one `audit-pipeline ingest` run: every investigation view built, as deployed."""
        history = self.history_home(events)

        def build(home: Path) -> None:
            progress(f"building the investigation views of the {events:,}-event history into {home.name} "
                     "(audit-pipeline ingest)")
            copy_home(history, home)
            run_cli(home, ["ingest", "--format", "json"])

        return _build_once(self.investigated_home_path(events), build)


def write_history(paths: Paths, events: int, *, orgs: int = FEED_ORGS) -> None:
    """`events` synthetic events of `orgs` orgs over the 92 days before 2026-11-01 into the lake, one transaction."""
    start = FEED_END - timedelta(days=FEED_DAYS)
    with database.writer(paths) as connection:
        connection.execute("BEGIN")
        for rows in synthetic.chunks(synthetic.EventRange(
            first=0, count=events, start=start, span=timedelta(days=FEED_DAYS), orgs=orgs, seed=SEED, seq_base=1,
        )):
            synthetic.insert_events(connection, rows)
        set_ingest_sequence(connection)
        connection.execute("COMMIT")


def run_cli(home: Path, arguments: list[str], *, lake_settings: Mapping[str, str] | None = None) -> str:
    """Run `audit-pipeline ARGUMENTS` on `home`; returns its stdout, raises with its stderr when it fails."""
    completed = subprocess.run([*cli_command(), *arguments], cwd=REPOSITORY,
                               env=home_environment(home, lake_settings), capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"audit-pipeline {' '.join(arguments)} exited {completed.returncode}: "
                           f"{completed.stderr[-3000:]}")
    return completed.stdout


def link_files(files: list[Path], folder: Path) -> None:
    """Put the files in `folder` as hard links (copies across file systems): ingestion moves what it reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        target = folder / file.name
        try:
            os.link(file, target)
        except OSError:
            shutil.copyfile(file, target)


def fresh_home(work: Path, name: str, source: Path | None = None) -> Paths:
    """A home folder under `work`: a copy of the cached home `source`, or an empty one."""
    home = work / f"{name}-{uuid.uuid4().hex[:8]}"
    if source is not None:
        return copy_home(source, home)
    return Paths(home).ensure()
