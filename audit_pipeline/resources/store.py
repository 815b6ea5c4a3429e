"""The home folder and its DuckDB files, as a Dagster resource."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from audit_pipeline.settings import Paths, home_from_env
from audit_pipeline.storage import database


class AuditStore(dg.ConfigurableResource):
    """Where events live. `home` empty means AUDIT_PIPELINE_HOME (default ./.audit_pipeline)."""

    home: str = ""

    def paths(self) -> Paths:
        return Paths(Path(self.home).resolve() if self.home else home_from_env()).ensure()

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with database.writer(self.paths().database) as connection:
            yield connection

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with database.reader(self.paths().reader_database) as connection:
            yield connection
