"""What the page and the API read from the lake's newest snapshot, through a cursor of `SnapshotReader`.

These reads never wait for a writer. Before the first ingestion (no lake yet, or a lake that only holds users
and settings) the view is empty ("no events yet"), not an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, USER_KEY_SQL
from audit_pipeline.derived.rules import SEVERITIES
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.logs import facets, list_events, list_events_with_facets
from audit_pipeline.storage.database import DatabaseMissingError
from audit_pipeline.storage.high_water import newest_ingest_seq
from audit_pipeline.web.snapshot_connection import SnapshotReader

SUSPICIOUS_ACTIVITY_TABLE = "suspicious_activity"
FINDING_COLUMNS = ("org_id", "rule", "severity", "user", "first_at", "last_at", "event_count", "event_ids",
                   "reason")


@dataclass(frozen=True)
class ListView:
    """A page of events with its total and facet counts; `has_events` is False before the first ingestion."""

    has_events: bool
    total: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Findings:
    """The suspicious-activity findings of one org; `available` is False until that table is built."""

    available: bool
    rows: list[dict[str, Any]] = field(default_factory=list)


def load_list_view(
    snapshots: SnapshotReader, flt: LogFilter, *, limit: int, offset: int, facet_top: int | None
) -> ListView:
    try:
        with snapshots.cursor() as connection:
            if newest_ingest_seq(connection) == 0:
                return ListView(has_events=False)
            if facet_top:
                page, counts = list_events_with_facets(connection, flt, limit=limit, offset=offset, top=facet_top)
            else:
                page, counts = list_events(connection, flt, limit=limit, offset=offset), {}
    except DatabaseMissingError:
        return ListView(has_events=False)
    return ListView(has_events=True, total=page.total, events=page.events, facets=counts)


def load_facets(
    snapshots: SnapshotReader, flt: LogFilter, *, top: int, containing: str | None = None
) -> dict[str, dict[str, int]]:
    try:
        with snapshots.cursor() as connection:
            if not _has_table(connection, "events"):
                return {}
            return facets(connection, flt, top=top, containing=containing)
    except DatabaseMissingError:
        return {}


def load_findings(snapshots: SnapshotReader, org_id: str, *, since: datetime | None, limit: int) -> Findings:
    """The org's findings, most severe first, then most recent; `since` keeps those still active after it."""
    try:
        with snapshots.cursor() as connection:
            if not _has_table(connection, SUSPICIOUS_ACTIVITY_TABLE):
                return Findings(available=False)
            # Each finding's user as the User pane shows it (by name when known), from its own events.
            cursor = connection.execute(
                f"""
                SELECT {", ".join(f'f."{c}"' for c in FINDING_COLUMNS)},
                       (SELECT {USER_DISPLAY_SQL} FROM events
                        WHERE events.org_id = f.org_id AND occurred_at >= f.first_at AND occurred_at <= f.last_at
                          AND {USER_KEY_SQL} = f."user"
                        GROUP BY ALL ORDER BY count(*) DESC, 1 LIMIT 1) AS display_user
                FROM {SUSPICIOUS_ACTIVITY_TABLE} f
                WHERE f.org_id = ? AND (?::TIMESTAMPTZ IS NULL OR f.last_at >= ?::TIMESTAMPTZ)
                ORDER BY coalesce(list_position(?::VARCHAR[], f.severity), 99), f.last_at DESC, f.rule, f."user"
                LIMIT ?
                """,
                [org_id, since, since, list(SEVERITIES), limit],
            )
            rows = [dict(zip((*FINDING_COLUMNS, "display_user"), row, strict=True)) for row in cursor.fetchall()]
    except DatabaseMissingError:
        return Findings(available=False)
    return Findings(available=True, rows=rows)


def _has_table(connection: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()", [name]
    ).fetchone()
    if row and row[0]:
        return True
    row = connection.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()", [name]
    ).fetchone()
    return bool(row and row[0])
