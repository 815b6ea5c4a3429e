"""One long-lived read-only attachment of the readers' snapshot, shared by all requests, renewed when it changes.

Opening a DuckDB file costs tens of milliseconds and throws away its cache, so the server keeps the snapshot
attached to an in-memory database and hands each request its own cursor. Writers replace the snapshot with
`os.replace`, which gives it a new inode: the next request sees the new file signature and attaches the new
snapshot, while requests still reading the old one finish on it; it is closed when the last of them ends.

The snapshot is attached rather than opened directly because DuckDB caches open databases by path: a new
`connect` to the same path would return the old file while any cursor on it is still alive. Each cursor makes
the attached snapshot its default database (`USE`), so the query module's SQL reads the snapshot's own tables,
exactly as over the CLI's read-only connection (rowid included, which views over them would not have).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from audit_pipeline.storage.database import DatabaseMissingError

SNAPSHOT_ALIAS = "snapshot"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _Generation:
    """One attached snapshot file and how many requests are reading it."""

    signature: tuple[int, ...]
    database: duckdb.DuckDBPyConnection
    readers: int = 0
    retired: bool = False


class SnapshotReader:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._current: _Generation | None = None

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the newest snapshot, the default database of the cursor (its tables under their own names).

        Raises DatabaseMissingError while no snapshot has been published yet.
        """
        with self._lock:
            generation = self._newest()
            generation.readers += 1
            cursor = generation.database.cursor()
        try:
            cursor.execute(f"USE {SNAPSHOT_ALIAS}")
            yield cursor
        finally:
            with self._lock:
                cursor.close()
                generation.readers -= 1
                self._close_if_done(generation)

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._retire(self._current)
                self._current = None

    def _newest(self) -> _Generation:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            if self._current is not None:
                self._retire(self._current)
                self._current = None
            raise DatabaseMissingError(f"{self._path} does not exist yet: ingest some events first") from None
        signature = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if self._current is None or self._current.signature != signature:
            fresh = _Generation(signature, self._attach())
            if self._current is not None:
                self._retire(self._current)
            self._current = fresh
        return self._current

    def _attach(self) -> duckdb.DuckDBPyConnection:
        database = duckdb.connect()
        try:
            database.execute("SET GLOBAL TimeZone = 'UTC'")
            database.execute(f"ATTACH {_sql_literal(os.fspath(self._path))} AS {SNAPSHOT_ALIAS} (READ_ONLY)")
        except BaseException:
            database.close()
            raise
        return database

    def _retire(self, generation: _Generation) -> None:
        generation.retired = True
        self._close_if_done(generation)

    @staticmethod
    def _close_if_done(generation: _Generation) -> None:
        if generation.retired and generation.readers == 0:
            generation.database.close()
