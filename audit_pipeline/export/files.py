"""Writing an export's part files in a local staging folder with DuckDB's own JSON writer.

Each line is one event: the canonical fields, `received_at` and `schema_version`, timestamps RFC 3339 UTC
with `Z`, `additional_info` as a JSON object. DuckDB streams the rows from the table to the file, so memory
stays bounded whatever the export's size.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from audit_pipeline.domain.events import SCHEMA_VERSION, SYSTEM_LOG_TYPE
from audit_pipeline.export.bookkeeping import PlannedExport, PlannedPart
from audit_pipeline.hashing import file_sha256
from audit_pipeline.storage.sql_text import rfc3339_utc

EXPORT_EVENT_ACTION = "Audit Log Export"
EXPORT_EVENT_NAMESPACE = uuid.UUID("9b3c1d52-52a4-4c52-9f0e-2b1f9d6f7a10")

EVENT_LINE_COLUMNS = f"""
    event_id, org_id, {rfc3339_utc("occurred_at")} AS occurred_at, log_type, action,
    user_id, user_email, user_name, user_role, source_ip, user_agent, outcome, additional_info,
    {rfc3339_utc("received_at")} AS received_at, $schema_version AS schema_version
"""
WINDOW_SQL = f"""
    SELECT {EVENT_LINE_COLUMNS}
    FROM events
    WHERE org_id = $org_id AND ingest_seq > $from_seq AND ingest_seq <= $to_seq
    ORDER BY ingest_seq
"""
EXPORT_EVENT_SQL = f"""
    SELECT {EVENT_LINE_COLUMNS}
    FROM (SELECT $event_id AS event_id, $org_id AS org_id, $cutoff::TIMESTAMPTZ AS occurred_at,
                 $log_type AS log_type, $action AS action,
                 NULL::VARCHAR AS user_id, NULL::VARCHAR AS user_email, NULL::VARCHAR AS user_name,
                 NULL::VARCHAR AS user_role, NULL::VARCHAR AS source_ip, NULL::VARCHAR AS user_agent,
                 'success' AS outcome, $info::JSON AS additional_info, $cutoff::TIMESTAMPTZ AS received_at)
"""


@dataclass(frozen=True)
class WrittenPart:
    part: PlannedPart
    path: Path
    bytes: int
    sha256: str


def staging_folder(staging_root: Path, plan: PlannedExport) -> Path:
    return staging_root / plan.config_id / f"{plan.export_number:08d}"


def export_event_id(plan: PlannedExport) -> str:
    """The same id on every retry of the export, different for every export."""
    return f"audit-log-export-{uuid.uuid5(EXPORT_EVENT_NAMESPACE, f'{plan.config_id}/{plan.export_number}')}"


def export_event_info(plan: PlannedExport) -> dict[str, object]:
    return {
        "export_config": plan.config_name,
        "export_number": plan.export_number,
        "window": {
            "from_seq": plan.from_seq,
            "to_seq": plan.to_seq,
            "previous_cutoff": plan.previous_cutoff_at.isoformat().replace("+00:00", "Z")
            if plan.previous_cutoff_at else None,
            "cutoff": plan.cutoff_at.isoformat().replace("+00:00", "Z"),
        },
        "events_exported": 0,
    }


def _copy_options(gzip: bool) -> str:
    return "(FORMAT json, COMPRESSION gzip)" if gzip else "(FORMAT json)"


def write_parts(
    connection: duckdb.DuckDBPyConnection, plan: PlannedExport, staging_root: Path
) -> list[WrittenPart]:
    """Write every part of the plan afresh; the same plan always gives the same bytes."""
    folder = staging_folder(staging_root, plan)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    written: list[WrittenPart] = []
    for part in plan.parts:
        target = folder / part.object_key.rsplit("/", 1)[-1]
        if plan.events == 0:
            connection.execute(
                f"COPY ({EXPORT_EVENT_SQL}) TO $target {_copy_options(plan.gzip)}",
                {"schema_version": SCHEMA_VERSION, "event_id": export_event_id(plan), "org_id": plan.org_id,
                 "cutoff": plan.cutoff_at, "log_type": SYSTEM_LOG_TYPE, "action": EXPORT_EVENT_ACTION,
                 "info": json.dumps(export_event_info(plan)), "target": str(target)},
            )
        else:
            connection.execute(
                f"COPY ({WINDOW_SQL}) TO $target {_copy_options(plan.gzip)}",
                {"schema_version": SCHEMA_VERSION, "org_id": plan.org_id, "from_seq": part.from_seq,
                 "to_seq": part.to_seq, "target": str(target)},
            )
        written.append(WrittenPart(part, target, target.stat().st_size, file_sha256(target)))
    return written


def remove_staging(staging_root: Path, plan: PlannedExport) -> None:
    shutil.rmtree(staging_folder(staging_root, plan), ignore_errors=True)
