"""The last delivered export of each config, read from the bookkeeping in the lake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit_pipeline.export.bookkeeping import DELIVERED
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

# An export holds the database only while it plans and writes its files; a reader waits that out.
WAIT_SECONDS = 30.0

LAST_DELIVERED_SQL = """
SELECT config_id, arg_max(cutoff_at, export_number), arg_max(delivered_at, export_number), max(export_number)
FROM export_deliveries
WHERE status = ? AND config_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY config_id
"""


@dataclass(frozen=True)
class LastDelivery:
    export_number: int
    cutoff_at: datetime
    delivered_at: datetime | None


def last_deliveries(
    paths: Paths, config_ids: Sequence[str], *, wait_seconds: float = WAIT_SECONDS
) -> dict[str, LastDelivery]:
    """By config id; configs never delivered are absent. Raises DatabaseBusyError if a writer stays."""
    if not config_ids:
        return {}
    try:
        with database.reader(paths) as connection:
            rows = connection.execute(LAST_DELIVERED_SQL, [DELIVERED, list(config_ids)]).fetchall()
    except database.DatabaseMissingError:
        return {}
    return {
        row[0]: LastDelivery(
            export_number=int(row[3]),
            cutoff_at=row[1].astimezone(UTC),
            delivered_at=row[2].astimezone(UTC) if row[2] else None,
        )
        for row in rows
    }


@dataclass(frozen=True)
class DeliveredPart:
    part_number: int
    from_seq: int
    to_seq: int
    events: int
    object_key: str
    bytes: int | None
    sha256: str | None
    events_in_store: int


@dataclass(frozen=True)
class DeliveredExport:
    export_number: int
    from_seq: int
    to_seq: int
    previous_cutoff_at: datetime | None
    cutoff_at: datetime
    events: int
    events_in_store: int
    parts: tuple[DeliveredPart, ...]


EXPORT_COLUMNS = "export_number, from_seq, to_seq, previous_cutoff_at, cutoff_at, events"
WINDOW_COUNT_SQL = "SELECT count(*) FROM events WHERE org_id = ? AND ingest_seq > ? AND ingest_seq <= ?"


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment else None


def delivered_exports(
    paths: Paths, config_id: str, org_id: str, *, run_id: str | None, wait_seconds: float = WAIT_SECONDS
) -> tuple[DeliveredExport | None, DeliveredExport | None]:
    """The export that run delivered (the newest delivered one if it delivered none) and the one before."""
    try:
        with database.reader(paths) as connection:
            return _delivered_exports(connection, config_id, org_id, run_id)
    except database.DatabaseMissingError:
        return None, None


def _delivered_exports(
    connection: Any, config_id: str, org_id: str, run_id: str | None
) -> tuple[DeliveredExport | None, DeliveredExport | None]:
    row = connection.execute(
        f"SELECT {EXPORT_COLUMNS} FROM export_deliveries WHERE config_id = ? AND status = ? "
        "ORDER BY delivered_run_id IS NOT DISTINCT FROM ? DESC, export_number DESC LIMIT 1",
        [config_id, DELIVERED, run_id],
    ).fetchone()
    if row is None:
        return None, None
    previous = connection.execute(
        f"SELECT {EXPORT_COLUMNS} FROM export_deliveries WHERE config_id = ? AND export_number = ?",
        [config_id, int(row[0]) - 1],
    ).fetchone()
    return (_export(connection, config_id, org_id, row),
            _export(connection, config_id, org_id, previous) if previous else None)


def _export(connection: Any, config_id: str, org_id: str, row: tuple[Any, ...]) -> DeliveredExport:
    parts = connection.execute(
        "SELECT part_number, from_seq, to_seq, events, object_key, bytes, sha256 FROM export_parts "
        "WHERE config_id = ? AND export_number = ? ORDER BY part_number",
        [config_id, row[0]],
    ).fetchall()

    def stored(lower: int, upper: int) -> int:
        found = connection.execute(WINDOW_COUNT_SQL, [org_id, lower, upper]).fetchone()
        return int(found[0]) if found else 0

    return DeliveredExport(
        export_number=int(row[0]), from_seq=int(row[1]), to_seq=int(row[2]), previous_cutoff_at=_utc(row[3]),
        cutoff_at=row[4].astimezone(UTC), events=int(row[5]), events_in_store=stored(int(row[1]), int(row[2])),
        parts=tuple(
            DeliveredPart(int(p[0]), int(p[1]), int(p[2]), int(p[3]), p[4],
                          int(p[5]) if p[5] is not None else None, p[6], stored(int(p[1]), int(p[2])))
            for p in parts
        ),
    )
