"""The server's read-only view of the lake: a cursor per request on the newest committed snapshot.

The process attaches the lake once (`storage.lake`) and each request gets a cursor of its own whose default
database is the lake, so the query module's SQL reads the lake's tables exactly as over the CLI's connection.
Each cursor's transaction reads the snapshot that was newest when it began: a commit during a request is seen
by the next one, and no request ever waits for a writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import database


class SnapshotReader:
    def __init__(self, paths: Paths) -> None:
        self._paths = paths

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only cursor on the lake. Raises DatabaseMissingError while nothing was ever written."""
        with database.reader(self._paths) as connection:
            yield connection

    def close(self) -> None:
        """Nothing to release: the process's lake attachment outlives the app."""
