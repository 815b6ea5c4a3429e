"""The benchmark's input data, generated once and cached under `benchmarks/.data/`, keyed by its parameters.

- landing files: NDJSON written by the project's generator (`audit_pipeline.generator.run.generate_events`),
  the input of the ingest figure;
- the ingested database: those files ingested by the pipeline, the input of the export figure;
- histories: events tables of up to ten million events written by DuckDB SQL (`benchmarks.synthetic`), the
  input of the window-export and memory figures, and with the daily rollup built by the pipeline's own
  `update_daily_rollup`, of the query figure.

A cache entry's name holds its parameters and a fingerprint of the code that makes it, so changing the
generator or the schema makes a new entry instead of reusing a stale one. Entries are built under a
temporary name and renamed when complete, so an interrupted run never leaves a half-built entry behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.generator.run import generate_events
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.ingest import ingest_landing
from benchmarks import synthetic
from benchmarks.measure import progress

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"
FEED_END = datetime(2026, 11, 1, tzinfo=UTC)
FEED_DAYS = 92
FEED_ORGS = 3
SEED = 1
PACKAGE_ROOT = Path(database.__file__).resolve().parent.parent


def _fingerprint(*sources: Path) -> str:
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
        os.replace(staging, target)
    finally:
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class Datasets:
    root: Path

    def landing_files(self, events: int) -> list[Path]:
        """NDJSON landing files with `events` events of 3 orgs over the 92 days before 2026-11-01."""
        key = f"landing-e{events}-o{FEED_ORGS}-d{FEED_DAYS}-s{SEED}-{_fingerprint(PACKAGE_ROOT / 'generator')}"

        def build(folder: Path) -> None:
            progress(f"generating {events:,} events with the project's generator into {folder.name}")
            generate_events(folder, events=events, orgs=FEED_ORGS, days=FEED_DAYS, seed=SEED, end=FEED_END,
                            progress=lambda message: progress(f"  {message}"))

        folder = _build_once(self.root / key, build)
        return sorted(folder.glob("*.jsonl"))

    def ingested_database_path(self, events: int) -> Path:
        """Where the landing files of `events` events, ingested by the pipeline, are cached."""
        files = self.landing_files(events)
        landing_key = files[0].parent.name.rsplit("-", 1)[-1]
        return self.root / f"ingested-e{events}-{landing_key}-{_fingerprint(PACKAGE_ROOT / 'storage')}.duckdb"

    def ingested_database(self, events: int) -> Path:
        """The landing files of `events` events ingested by the pipeline into a fresh database."""
        files = self.landing_files(events)

        def build(path: Path) -> None:
            progress(f"ingesting {events:,} events to build {path.name}")
            home = Paths(path.with_suffix(".home"))
            try:
                link_files(files, home.landing)
                with database.writer(path) as connection:
                    ingest_landing(connection, home.landing, home.archive)
                    connection.execute("CHECKPOINT")
            finally:
                shutil.rmtree(home.home, ignore_errors=True)

        return _build_once(self.ingested_database_path(events), build)

    def keep_ingested_database(self, events: int, database_file: Path) -> None:
        """Cache a database the ingest figure just built, so the export figure need not ingest again."""
        def build(staging: Path) -> None:
            shutil.move(database_file, staging)

        _build_once(self.ingested_database_path(events), build)

    def investigated_history(self, events: int) -> Path:
        """The history with the derived tables the Audit Logs page reads (the daily rollup), as the
        investigation assets leave the readers' snapshot."""
        history = self.history_database(events)
        key = f"{history.stem}-rollup-{_fingerprint(PACKAGE_ROOT / 'derived')}.duckdb"

        def build(path: Path) -> None:
            progress(f"building the daily rollup of the {events:,}-event history into {path.name}")
            shutil.copyfile(history, path)
            with database.writer(path) as connection:
                update_daily_rollup(connection)
                connection.execute("CHECKPOINT")

        return _build_once(self.root / key, build)

    def history_database(self, events: int, *, orgs: int = FEED_ORGS) -> Path:
        """An events table of `events` events of `orgs` orgs over the 92 days before 2026-11-01."""
        code = f"{synthetic.fingerprint()}{_fingerprint(PACKAGE_ROOT / 'storage' / 'schema.py')[:4]}"
        key = f"history-e{events}-o{orgs}-d{FEED_DAYS}-s{SEED}-{code}.duckdb"

        def build(path: Path) -> None:
            progress(f"writing a history of {events:,} events ({orgs} orgs) with DuckDB SQL into {path.name}")
            start = FEED_END - timedelta(days=FEED_DAYS)
            with database.writer(path) as connection:
                synthetic.insert_events(connection, synthetic.EventRange(
                    first=0, count=events, start=start, span=timedelta(days=FEED_DAYS), orgs=orgs, seed=SEED,
                    seq_base=1,
                ))
                connection.execute("CHECKPOINT")

        return _build_once(self.root / key, build)


def link_files(files: list[Path], folder: Path) -> None:
    """Put the files in `folder` as hard links (copies across file systems): ingestion moves what it reads."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        target = folder / file.name
        try:
            os.link(file, target)
        except OSError:
            shutil.copyfile(file, target)


def fresh_home(work: Path, name: str, database_file: Path | None = None) -> Paths:
    """An empty home folder under `work`, holding a copy of `database_file` as its writers' database."""
    home = work / f"{name}-{uuid.uuid4().hex[:8]}"
    paths = Paths(home).ensure()
    if database_file is not None:
        shutil.copyfile(database_file, paths.database)
    return paths
