"""Which configs' failure streaks were announced, kept in the control database beside the configs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from audit_pipeline.export.config_store import control_database
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import connect_with_retry

WAIT_SECONDS = 60.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS export_alert_streaks (
    config_name  VARCHAR     PRIMARY KEY,
    first_run_id VARCHAR     NOT NULL,
    announced_at TIMESTAMPTZ NOT NULL
)
"""


@contextmanager
def _connect(paths: Paths) -> Iterator[duckdb.DuckDBPyConnection]:
    paths.home.mkdir(parents=True, exist_ok=True)
    connection = connect_with_retry(control_database(paths), read_only=False, wait_seconds=WAIT_SECONDS)
    try:
        connection.execute(SCHEMA)
        yield connection
    finally:
        connection.close()


def is_announced(paths: Paths, name: str) -> bool:
    with _connect(paths) as connection:
        row = connection.execute(
            "SELECT count(*) FROM export_alert_streaks WHERE config_name = ?", [name]
        ).fetchone()
    return bool(row and row[0])


def mark_announced(paths: Paths, name: str, run_id: str) -> None:
    with _connect(paths) as connection:
        connection.execute(
            "INSERT INTO export_alert_streaks VALUES (?, ?, now()) ON CONFLICT DO NOTHING", [name, run_id]
        )


def clear(paths: Paths, name: str) -> None:
    with _connect(paths) as connection:
        connection.execute("DELETE FROM export_alert_streaks WHERE config_name = ?", [name])
