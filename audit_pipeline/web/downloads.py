"""The current view as a streamed CSV or NDJSON file, newest first, in batches straight from DuckDB.

Each Arrow batch from `iter_event_batches` is turned into lines by DuckDB itself (no Python loop per event).
Timestamps are RFC 3339 UTC. In CSV, a text cell that a spreadsheet would run as a formula (leading `=`,
`+`, `-`, `@`, tab or carriage return) gets a leading apostrophe; NDJSON always carries the exact values.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
from fastapi import Request
from fastapi.responses import StreamingResponse

from audit_pipeline.access import User
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.logs import EVENT_COLUMNS, iter_event_batches
from audit_pipeline.storage.database import DatabaseMissingError
from audit_pipeline.web.context import web_context
from audit_pipeline.web.params import ViewRequest
from audit_pipeline.web.read_audit import LOGS_DOWNLOADED
from audit_pipeline.web.reads import record_read
from audit_pipeline.web.snapshot_connection import SnapshotReader

DownloadFormat = Literal["csv", "ndjson"]
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
BATCH_ROWS = 10_000

_TIMESTAMP_COLUMNS = ("occurred_at", "received_at")
_RFC3339_FORMAT = "'%Y-%m-%dT%H:%M:%S.%fZ'"
_FORMULA_START = r"'^[=+\-@\t\r]'"


def _ndjson_sql() -> str:
    fields = []
    for column in EVENT_COLUMNS:
        if column in _TIMESTAMP_COLUMNS:
            fields.append(f"{column} := strftime({column}, {_RFC3339_FORMAT})")
        elif column == "additional_info":
            fields.append(f"{column} := {column}::JSON")
        else:
            fields.append(f"{column} := {column}")
    return f"SELECT to_json(struct_pack({', '.join(fields)}))::VARCHAR AS line FROM batch"


def _csv_sql() -> str:
    cells = []
    for column in EVENT_COLUMNS:
        if column in _TIMESTAMP_COLUMNS:
            cells.append(f"strftime({column}, {_RFC3339_FORMAT}) AS {column}")
        elif column == "ingest_seq":
            cells.append(column)
        else:
            cells.append(f"CASE WHEN regexp_matches({column}::VARCHAR, {_FORMULA_START}) "
                         f"THEN '''' || {column}::VARCHAR ELSE {column}::VARCHAR END AS {column}")
    return f"SELECT {', '.join(cells)} FROM batch"


NDJSON_SQL = _ndjson_sql()
CSV_SQL = _csv_sql()


def download_name(org_id: str, fmt: DownloadFormat, now: datetime) -> str:
    safe_org = re.sub(r"[^A-Za-z0-9_.-]+", "_", org_id)[:64] or "org"
    return f"audit-logs-{safe_org}-{now:%Y%m%dT%H%M%SZ}.{'csv' if fmt == 'csv' else 'ndjson'}"


def stream_events(snapshots: SnapshotReader, flt: LogFilter, fmt: DownloadFormat) -> Iterator[bytes]:
    """The filtered events as encoded chunks; an empty result (or no snapshot yet) is a header-only CSV."""
    formatter = duckdb.connect()
    try:
        formatter.execute("SET TimeZone = 'UTC'")
        if fmt == "csv":
            yield _csv_header()
        try:
            with snapshots.cursor() as connection:
                for batch in iter_event_batches(connection, flt, batch_size=BATCH_ROWS):
                    yield _encode(formatter, batch, fmt)
        except DatabaseMissingError:
            return
    finally:
        formatter.close()


def _csv_header() -> bytes:
    return (",".join(f'"{column}"' for column in EVENT_COLUMNS) + "\n").encode("utf-8")


def _encode(formatter: duckdb.DuckDBPyConnection, batch: pa.RecordBatch, fmt: DownloadFormat) -> bytes:
    formatter.register("batch", batch)
    try:
        if fmt == "ndjson":
            lines = formatter.execute(NDJSON_SQL).fetch_arrow_table().column("line").to_pylist()
            return ("\n".join(lines) + "\n").encode("utf-8")
        table = formatter.execute(CSV_SQL).fetch_arrow_table()
        sink = io.BytesIO()
        pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))
        return sink.getvalue()
    finally:
        formatter.unregister("batch")


def download_response(
    request: Request, user: User, view: ViewRequest, fmt: DownloadFormat, interface: str
) -> StreamingResponse:
    """The whole view as a streamed file; the download is audited before the first byte is sent."""
    context = web_context(request)
    now = context.clock()
    # The page's download holds what the page lists; the API's, like the API, every event.
    flt = view.log_filter(user.org_id, now, hide_reads_of=user.email if interface == "web" else None)
    record_read(request, user, LOGS_DOWNLOADED, {
        "view": "audit_logs", "interface": interface, "filters": view.as_record(), "format": fmt,
    })
    filename = download_name(user.org_id, fmt, now.astimezone(UTC))
    return StreamingResponse(
        stream_events(context.snapshots, flt, fmt), media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
