"""Which configs' failure streaks were announced, kept in the lake beside the configs."""

from __future__ import annotations

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

WAIT_SECONDS = 60.0


def is_announced(paths: Paths, name: str) -> bool:
    try:
        with database.reader(paths) as connection:
            row = connection.execute(
                "SELECT count(*) FROM export_alert_streaks WHERE config_name = ?", [name]
            ).fetchone()
    except database.DatabaseMissingError:
        return False
    return bool(row and row[0])


def mark_announced(paths: Paths, name: str, run_id: str) -> None:
    def write(connection: duckdb.DuckDBPyConnection) -> None:
        announced = connection.execute(
            "SELECT count(*) FROM export_alert_streaks WHERE config_name = ?", [name]
        ).fetchone()
        if not announced or not announced[0]:
            connection.execute(
                "INSERT INTO export_alert_streaks (config_name, first_run_id, announced_at) VALUES (?, ?, now())",
                [name, run_id],
            )

    database.write_transaction(paths, write, wait_seconds=WAIT_SECONDS, what="alert state")


def clear(paths: Paths, name: str) -> None:
    database.write_transaction(paths, lambda connection: connection.execute(
        "DELETE FROM export_alert_streaks WHERE config_name = ?", [name]
    ), wait_seconds=WAIT_SECONDS, what="alert state")
