"""What each export of a config holds and whether it was delivered, in the lake.

An export is planned once (its window of `ingest_seq`, its cutoff, its parts and their keys) and then
delivered; until it is marked delivered every run re-does that same plan, so a failure anywhere leads to the
same objects being written again rather than to a gap or a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import duckdb

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.layout import part_key
from audit_pipeline.storage.database import begin_guarded, rollback
from audit_pipeline.storage.high_water import newest_ingest_seq

PLANNED = "planned"
DELIVERED = "delivered"


# A cheap upper-bound estimate of one event's JSON line: its variable text plus the fixed keys and timestamps.
FIXED_LINE_BYTES = 300
LINE_BYTES_SQL = f"""
    strlen(event_id) + strlen(org_id) + strlen(log_type) + strlen(action)
    + coalesce(strlen(user_id), 0) + coalesce(strlen(user_email), 0)
    + coalesce(strlen(user_name), 0) + coalesce(strlen(user_role), 0)
    + coalesce(strlen(source_ip), 0) + coalesce(strlen(user_agent), 0)
    + strlen(additional_info::VARCHAR) + {FIXED_LINE_BYTES}
"""

PARTS_SQL = f"""
WITH window_events AS (
    SELECT ingest_seq, {LINE_BYTES_SQL} AS line_bytes
    FROM events
    WHERE org_id = ? AND ingest_seq > ? AND ingest_seq <= ?
),
placed AS (
    SELECT ingest_seq,
           (sum(line_bytes) OVER (ORDER BY ingest_seq ROWS UNBOUNDED PRECEDING) - line_bytes) // ?
               AS part_index
    FROM window_events
)
SELECT part_index, max(ingest_seq) AS last_seq, count(*) AS events
FROM placed GROUP BY part_index ORDER BY part_index
"""


@dataclass(frozen=True)
class PlannedPart:
    part_number: int
    from_seq: int  # exclusive
    to_seq: int  # inclusive
    events: int
    object_key: str


@dataclass(frozen=True)
class PlannedExport:
    """One export of a config: the org's events with from_seq < ingest_seq <= to_seq."""

    config_id: str
    config_name: str
    export_number: int
    org_id: str
    from_seq: int
    to_seq: int
    previous_cutoff_at: datetime | None
    cutoff_at: datetime
    events: int
    gzip: bool
    parts: tuple[PlannedPart, ...]
    resumed: bool = field(default=False, compare=False)  # planned by an earlier run that did not deliver it


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _load(
    connection: duckdb.DuckDBPyConnection, config_id: str, export_number: int, *, run_id: str | None = None
) -> PlannedExport:
    """The recorded export; `resumed` when `run_id` is given and another run planned it."""
    row = connection.execute(
        "SELECT config_id, config_name, export_number, org_id, from_seq, to_seq, previous_cutoff_at, "
        "cutoff_at, events, gzip, planned_run_id FROM export_deliveries WHERE config_id = ? AND export_number = ?",
        [config_id, export_number],
    ).fetchone()
    if row is None:
        raise LookupError(f"export {export_number} of config {config_id} is not recorded")
    parts = connection.execute(
        "SELECT part_number, from_seq, to_seq, events, object_key FROM export_parts "
        "WHERE config_id = ? AND export_number = ? ORDER BY part_number",
        [config_id, export_number],
    ).fetchall()
    return PlannedExport(
        config_id=row[0], config_name=row[1], export_number=int(row[2]), org_id=row[3], from_seq=int(row[4]),
        to_seq=int(row[5]), previous_cutoff_at=_utc(row[6]), cutoff_at=row[7].astimezone(UTC),
        events=int(row[8]), gzip=bool(row[9]),
        parts=tuple(PlannedPart(int(p[0]), int(p[1]), int(p[2]), int(p[3]), p[4]) for p in parts),
        resumed=run_id is not None and row[10] != run_id,
    )


def plan_or_resume(
    connection: duckdb.DuckDBPyConnection,
    config: ExportConfig,
    *,
    part_bytes: int,
    run_id: str,
    now: datetime | None = None,
) -> PlannedExport:
    """The config's undelivered export unchanged if there is one, else a new one up to the newest event."""
    begin_guarded(connection)
    try:
        pending = connection.execute(
            "SELECT export_number FROM export_deliveries WHERE config_id = ? AND status = ? "
            "ORDER BY export_number LIMIT 1",
            [config.config_id, PLANNED],
        ).fetchone()
        if pending is not None:
            # A run that meets another writer after planning plans again and finds its own plan: that
            # is one export attempt, not a retry of an earlier run's.
            plan = _under_current_prefix(
                connection, _load(connection, config.config_id, int(pending[0]), run_id=run_id), config.prefix
            )
            connection.execute("COMMIT")
            return plan
        plan = _plan_new(connection, config, part_bytes, run_id, (now or datetime.now(UTC)).astimezone(UTC))
        connection.execute("COMMIT")
        return plan
    except BaseException:
        rollback(connection)
        raise


def _under_current_prefix(
    connection: duckdb.DuckDBPyConnection, plan: PlannedExport, prefix: str
) -> PlannedExport:
    """The pending export with its keys under the config's prefix as it is now.

    Only the prefix can change a key: window, parts and cutoff stay as planned. Without this, a prefix
    corrected after an AccessDenied (the role allows the prefix the customer meant) could never be retried.
    """
    parts = tuple(
        replace(part, object_key=part_key(prefix, plan.org_id, plan.cutoff_at, plan.export_number,
                                          part.part_number, plan.gzip))
        for part in plan.parts
    )
    moved = [[p.object_key, plan.config_id, plan.export_number, p.part_number]
             for p, before in zip(parts, plan.parts, strict=True) if p.object_key != before.object_key]
    if moved:
        connection.executemany(
            "UPDATE export_parts SET object_key = ? WHERE config_id = ? AND export_number = ? AND part_number = ?",
            moved,
        )
    return replace(plan, parts=parts)


def _plan_new(
    connection: duckdb.DuckDBPyConnection, config: ExportConfig, part_bytes: int, run_id: str, now: datetime
) -> PlannedExport:
    previous = connection.execute(
        "SELECT export_number, to_seq, cutoff_at FROM export_deliveries WHERE config_id = ? "
        "ORDER BY export_number DESC LIMIT 1",
        [config.config_id],
    ).fetchone()
    export_number = int(previous[0]) + 1 if previous else 1
    from_seq = int(previous[1]) if previous else 0
    previous_cutoff = _utc(previous[2]) if previous else None
    to_seq = max(from_seq, newest_ingest_seq(connection))
    # The cutoff never goes back in time, even if the clock does, so keys keep sorting in export order.
    cutoff = max(now, previous_cutoff) if previous_cutoff else now
    groups = connection.execute(PARTS_SQL, [config.org_id, from_seq, to_seq, part_bytes]).fetchall()

    def key(part_number: int) -> str:
        return part_key(config.prefix, config.org_id, cutoff, export_number, part_number, config.gzip)

    parts: list[PlannedPart] = []
    lower = from_seq
    for index, (_, last_seq, events) in enumerate(groups, start=1):
        upper = to_seq if index == len(groups) else int(last_seq)
        parts.append(PlannedPart(index, lower, upper, int(events), key(index)))
        lower = upper
    if not parts:
        parts.append(PlannedPart(1, from_seq, to_seq, 0, key(1)))
    plan = PlannedExport(
        config_id=config.config_id, config_name=config.name, export_number=export_number,
        org_id=config.org_id,
        from_seq=from_seq, to_seq=to_seq, previous_cutoff_at=previous_cutoff, cutoff_at=cutoff,
        events=sum(p.events for p in parts), gzip=config.gzip, parts=tuple(parts),
    )
    connection.execute(
        "INSERT INTO export_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [plan.config_id, plan.config_name, plan.export_number, plan.org_id, plan.from_seq, plan.to_seq,
         plan.previous_cutoff_at, plan.cutoff_at, plan.events, plan.gzip, PLANNED, run_id],
    )
    connection.executemany(
        "INSERT INTO export_parts VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [[plan.config_id, plan.export_number, p.part_number, p.from_seq, p.to_seq, p.events, p.object_key]
         for p in parts],
    )
    return plan


@dataclass(frozen=True)
class DeliveredObject:
    key: str
    bytes: int
    sha256: str
    events: int


def mark_delivered(
    connection: duckdb.DuckDBPyConnection, plan: PlannedExport, objects: list[DeliveredObject], run_id: str
) -> None:
    begin_guarded(connection)
    try:
        for part, written in zip(plan.parts, objects, strict=True):
            connection.execute(
                "UPDATE export_parts SET bytes = ?, sha256 = ? "
                "WHERE config_id = ? AND export_number = ? AND part_number = ?",
                [written.bytes, written.sha256, plan.config_id, plan.export_number, part.part_number],
            )
        connection.execute(
            "UPDATE export_deliveries SET status = ?, delivered_run_id = ?, delivered_at = now() "
            "WHERE config_id = ? AND export_number = ? AND status = ?",
            [DELIVERED, run_id, plan.config_id, plan.export_number, PLANNED],
        )
        connection.execute("COMMIT")
    except BaseException:
        rollback(connection)
        raise


def delivery_history(connection: duckdb.DuckDBPyConnection, config_id: str) -> list[PlannedExport]:
    numbers = connection.execute(
        "SELECT export_number FROM export_deliveries WHERE config_id = ? ORDER BY export_number", [config_id]
    ).fetchall()
    return [_load(connection, config_id, int(n[0])) for n in numbers]
