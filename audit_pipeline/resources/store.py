"""The home folder and the lake it names, as a Dagster resource."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import dagster as dg
import duckdb

from audit_pipeline.settings import Paths, home_from_env
from audit_pipeline.storage import database

T = TypeVar("T")


class AuditStore(dg.ConfigurableResource):
    """Where events live. `home` empty means AUDIT_PIPELINE_HOME (default ./.audit_pipeline)."""

    home: str = ""

    def paths(self) -> Paths:
        return Paths(Path(self.home).resolve() if self.home else home_from_env()).ensure()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with database.writer(self.paths()) as connection:
            yield connection

    def write(self, body: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run `body` on a writer's cursor in this process's turn to write (`database.write_turn`), again from
        its start whenever it meets another writer's commit."""
        paths = self.paths()

        def attempt() -> T:
            with database.write_turn(paths.lake)(), database.writer(paths) as connection:
                return body(connection)

        return database.retrying(attempt, what="write")

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with database.reader(self.paths()) as connection:
            yield connection
