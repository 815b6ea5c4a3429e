"""Reading the quarantine back: what was refused, where it came from, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

PREVIEW_CHARS = 300


@dataclass(frozen=True)
class QuarantinedRecord:
    quarantined_at: datetime
    source_file: str
    line_number: int
    reason_code: str
    reason: str
    raw_preview: str
    raw_bytes: int


def reason_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = connection.execute(
        "SELECT reason_code, count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    return {str(code): int(count) for code, count in rows}


def recent(
    connection: duckdb.DuckDBPyConnection, *, reason_code: str | None = None, limit: int = 20
) -> list[QuarantinedRecord]:
    """The newest quarantined records, optionally of one reason; raw text cut to a preview."""
    rows = connection.execute(
        """
        SELECT quarantined_at, source_file, line_number, reason_code, reason, left(raw_text, ?), raw_bytes
        FROM quarantine_readable
        WHERE ? IS NULL OR reason_code = ?
        ORDER BY quarantined_at DESC, source_file, line_number
        LIMIT ?
        """,
        [PREVIEW_CHARS, reason_code, reason_code, limit],
    ).fetchall()
    return [QuarantinedRecord(*row) for row in rows]
