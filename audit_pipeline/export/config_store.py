"""Export configurations, kept in their own small DuckDB file beside the events database.

A separate file keeps Dagster's definitions load (which lists the configs to build one schedule each) away
from the writers' lock on the events database. Connections are short and retried while another process
holds the file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from audit_pipeline.export.config import (
    ExportConfig,
    ExportConfigError,
    ExportSettings,
    new_external_id,
    next_full_hour,
    validate_name,
    validate_settings,
)
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import connect_with_retry

CONTROL_DATABASE_NAME = "control.duckdb"
WAIT_SECONDS = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS export_configs (
    config_id       VARCHAR     PRIMARY KEY,
    name            VARCHAR     NOT NULL UNIQUE,
    org_id          VARCHAR     NOT NULL,
    bucket          VARCHAR     NOT NULL,
    region          VARCHAR     NOT NULL,
    prefix          VARCHAR     NOT NULL,
    frequency_hours INTEGER     NOT NULL,
    role_arn        VARCHAR     NOT NULL,
    external_id     VARCHAR     NOT NULL UNIQUE,
    gzip            BOOLEAN     NOT NULL,
    enabled         BOOLEAN     NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    first_export_at TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
)
"""
COLUMNS = ", ".join(f.name for f in fields(ExportConfig))


class ExportNotFoundError(LookupError):
    """No export configuration has that name."""


def control_database(paths: Paths) -> Path:
    return paths.home / CONTROL_DATABASE_NAME


@contextmanager
def _connect(path: Path, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect_with_retry(path, read_only=read_only, wait_seconds=WAIT_SECONDS)
    try:
        if not read_only:
            connection.execute(SCHEMA)
        yield connection
    finally:
        connection.close()


def _to_config(row: tuple[object, ...]) -> ExportConfig:
    values = dict(zip((f.name for f in fields(ExportConfig)), row, strict=True))
    for moment in ("created_at", "first_export_at"):
        values[moment] = values[moment].astimezone(UTC)  # type: ignore[attr-defined]
    return ExportConfig(**values)  # type: ignore[arg-type]


def list_configs(paths: Paths) -> list[ExportConfig]:
    """Every configuration, by name; none when nothing was ever configured."""
    path = control_database(paths)
    if not path.exists():
        return []
    with _connect(path, read_only=True) as connection:
        exists = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'export_configs'"
        ).fetchone()
        if not exists or not exists[0]:
            return []
        rows = connection.execute(f"SELECT {COLUMNS} FROM export_configs ORDER BY name").fetchall()
    return [_to_config(row) for row in rows]


def find_config(paths: Paths, name: str) -> ExportConfig | None:
    return next((config for config in list_configs(paths) if config.name == name), None)


def get_config(paths: Paths, name: str) -> ExportConfig:
    config = find_config(paths, name)
    if config is None:
        raise ExportNotFoundError(
            f"no export named {name!r}: see `audit-pipeline export list`, "
            "or create it with `export configure`"
        )
    return config


def save_config(
    paths: Paths, settings: ExportSettings, now: datetime | None = None, *, external_id: str | None = None
) -> tuple[ExportConfig, bool]:
    """Create or edit a configuration; returns it and whether it is new.

    A new one gets a fresh external id (or `external_id`, one this pipeline generated earlier when the
    connector was enabled) and its first export at the next full UTC hour. An edit keeps the
    external id, the creation time and the schedule's first run, and may not move the export to another org
    (its bookkeeping windows belong to the org's events).
    """
    settings = validate_settings(settings)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with _connect(control_database(paths), read_only=False) as connection:
        connection.execute("BEGIN")
        row = connection.execute(
            f"SELECT {COLUMNS} FROM export_configs WHERE name = ?", [settings.name]
        ).fetchone()
        existing = _to_config(row) if row else None
        if existing is not None:
            if existing.org_id != settings.org_id:
                connection.execute("ROLLBACK")
                raise ExportConfigError(
                    f"export {settings.name!r} exports org {existing.org_id!r}; an export cannot move to "
                    "another org: remove it or choose another name"
                )
            config = replace(existing, bucket=settings.bucket, region=settings.region, prefix=settings.prefix,
                             frequency_hours=settings.frequency_hours, role_arn=settings.role_arn,
                             gzip=settings.gzip)
            connection.execute(
                "UPDATE export_configs SET bucket = ?, region = ?, prefix = ?, frequency_hours = ?, "
                "role_arn = ?, gzip = ?, updated_at = ? WHERE config_id = ?",
                [config.bucket, config.region, config.prefix, config.frequency_hours, config.role_arn,
                 config.gzip, now, config.config_id],
            )
        else:
            config = ExportConfig(
                name=settings.name, org_id=settings.org_id, bucket=settings.bucket, region=settings.region,
                prefix=settings.prefix, frequency_hours=settings.frequency_hours, role_arn=settings.role_arn,
                external_id=external_id or _unused_external_id(connection), gzip=settings.gzip, enabled=True,
                created_at=now, first_export_at=next_full_hour(now), config_id=uuid.uuid4().hex,
            )
            connection.execute(
                f"INSERT INTO export_configs ({COLUMNS}, updated_at) VALUES ({', '.join('?' * 14)})",
                [*(getattr(config, f.name) for f in fields(ExportConfig)), now],
            )
        connection.execute("COMMIT")
    return config, existing is None


def _unused_external_id(connection: duckdb.DuckDBPyConnection) -> str:
    while True:
        candidate = new_external_id()
        taken = connection.execute(
            "SELECT count(*) FROM export_configs WHERE external_id = ?", [candidate]
        ).fetchone()
        if not taken or not taken[0]:
            return candidate


def set_enabled(paths: Paths, name: str, enabled: bool) -> ExportConfig:
    get_config(paths, validate_name(name))
    with _connect(control_database(paths), read_only=False) as connection:
        connection.execute(
            "UPDATE export_configs SET enabled = ?, updated_at = now() WHERE name = ?", [enabled, name]
        )
    return get_config(paths, name)


def remove_config(paths: Paths, name: str) -> ExportConfig:
    """Delete the configuration; its delivery history stays in the events database."""
    config = get_config(paths, validate_name(name))
    with _connect(control_database(paths), read_only=False) as connection:
        connection.execute("DELETE FROM export_configs WHERE config_id = ?", [config.config_id])
    return config
