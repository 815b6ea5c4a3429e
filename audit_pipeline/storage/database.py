"""Opening the DuckDB files: the schema, lock-aware retries, and the readers' snapshot.

DuckDB lets one process hold a file for writing and then refuses every other process, readers included.
Writers therefore open the database briefly and retry while another writer holds it; readers never open
the writers' file at all but a snapshot that each write job publishes (`publish_reader_snapshot`).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from audit_pipeline.storage.schema import migrate

LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")
DEFAULT_WAIT_SECONDS = 120.0


class DatabaseBusyError(RuntimeError):
    """Another process kept the database for longer than we were willing to wait."""


class DatabaseMissingError(RuntimeError):
    """The reader snapshot does not exist yet: nothing has been ingested."""


def _is_lock_error(error: duckdb.Error) -> bool:
    return any(marker in str(error) for marker in LOCK_MARKERS)


def connect_with_retry(path: Path, *, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file in UTC, waiting (with backoff) while another process holds its lock."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
            connection.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on stdout during long statements, which would corrupt --format json.
            connection.execute("SET enable_progress_bar = false")
            return connection
        except duckdb.IOException as error:
            if not _is_lock_error(error) or time.monotonic() >= deadline:
                if _is_lock_error(error):
                    raise DatabaseBusyError(
                        f"{path} stayed locked by another process for {wait_seconds:.0f}s"
                    ) from error
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def writer(path: Path, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to an up-to-date schema, held only for the `with` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = connect_with_retry(path, read_only=False, wait_seconds=wait_seconds)
    try:
        migrate(connection)
        yield connection
    finally:
        connection.close()


@contextmanager
def reader(path: Path, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits out a writer instead of failing."""
    if not path.exists():
        raise DatabaseMissingError(f"{path} does not exist yet: ingest some events first")
    connection = connect_with_retry(path, read_only=True, wait_seconds=wait_seconds)
    try:
        yield connection
    finally:
        connection.close()


def publish_reader_snapshot(connection: duckdb.DuckDBPyConnection, source: Path, target: Path) -> int:
    """Copy the writers' file to the readers' path atomically; returns the bytes copied.

    Runs while the caller still holds `source` open for writing, so no other writer changes it mid-copy.
    A reader that has the previous snapshot open keeps reading that one (the rename swaps the directory
    entry, not the open file), so readers never see a half-written file and never meet a lock.
    """
    connection.execute("CHECKPOINT")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return target.stat().st_size
