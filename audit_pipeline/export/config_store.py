"""Export configurations, in the lake's `export_configs` table.

Dagster's definitions load lists them (one schedule each) through a read-only cursor, which never waits for a
writer; changes are short transactions, run again when they meet another writer.
"""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime

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
from audit_pipeline.storage import database

WAIT_SECONDS = 60.0

COLUMNS = ", ".join(f.name for f in fields(ExportConfig))


class ExportNotFoundError(LookupError):
    """No export configuration has that name."""


def _to_config(row: tuple[object, ...]) -> ExportConfig:
    values = dict(zip((f.name for f in fields(ExportConfig)), row, strict=True))
    for moment in ("created_at", "first_export_at"):
        values[moment] = values[moment].astimezone(UTC)  # type: ignore[attr-defined]
    return ExportConfig(**values)  # type: ignore[arg-type]


def list_configs(paths: Paths) -> list[ExportConfig]:
    """Every configuration, by name; none when nothing was ever configured."""
    try:
        with database.reader(paths) as connection:
            rows = connection.execute(f"SELECT {COLUMNS} FROM export_configs ORDER BY name").fetchall()
    except database.DatabaseMissingError:
        return []
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

    def write(connection: duckdb.DuckDBPyConnection) -> tuple[ExportConfig, bool]:
        row = connection.execute(
            f"SELECT {COLUMNS} FROM export_configs WHERE name = ?", [settings.name]
        ).fetchone()
        existing = _to_config(row) if row else None
        if existing is not None:
            if existing.org_id != settings.org_id:
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
        return config, existing is None

    return database.write_transaction(paths, write, wait_seconds=WAIT_SECONDS, what="export configuration")


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
    database.write_transaction(paths, lambda connection: connection.execute(
        "UPDATE export_configs SET enabled = ?, updated_at = now() WHERE name = ?", [enabled, name]
    ), wait_seconds=WAIT_SECONDS, what="export configuration")
    return get_config(paths, name)


def remove_config(paths: Paths, name: str) -> ExportConfig:
    """Delete the configuration; its delivery history stays in the lake."""
    config = get_config(paths, validate_name(name))
    database.write_transaction(paths, lambda connection: connection.execute(
        "DELETE FROM export_configs WHERE config_id = ?", [config.config_id]
    ), wait_seconds=WAIT_SECONDS, what="export configuration")
    return config
