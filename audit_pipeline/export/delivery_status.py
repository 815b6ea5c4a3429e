"""The last delivered export of each config, read from the bookkeeping in the writers' database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
    if not config_ids or not paths.database.exists():
        return {}
    with database.reader(paths.database, wait_seconds=wait_seconds) as connection:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'export_deliveries'"
        ).fetchone()
        if not found or not found[0]:
            return {}
        rows = connection.execute(LAST_DELIVERED_SQL, [DELIVERED, list(config_ids)]).fetchall()
    return {
        row[0]: LastDelivery(
            export_number=int(row[3]),
            cutoff_at=row[1].astimezone(UTC),
            delivered_at=row[2].astimezone(UTC) if row[2] else None,
        )
        for row in rows
    }
