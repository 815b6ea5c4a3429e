"""The highest `ingest_seq` stored, read from the events table's tail rather than from the whole column."""

from __future__ import annotations

import duckdb


def newest_ingest_seq(connection: duckdb.DuckDBPyConnection) -> int:
    """The highest ingest_seq in `events`, 0 when there is none.

    Events are appended in ingest_seq order and every finished ingestion run records its last one in
    `ingest_batches`, so the maximum lies at or above that mark: zone maps then skip every row group below
    it (1 ms instead of a scan of the column, 20-150 ms at 10M events). A run that stopped before recording
    its batch only makes the tail read longer, never the answer wrong.
    """
    floor_row = connection.execute("SELECT coalesce(max(last_seq), 0) FROM ingest_batches").fetchone()
    floor = int(floor_row[0]) if floor_row else 0
    row = connection.execute(
        "SELECT coalesce(max(ingest_seq), 0) FROM events WHERE ingest_seq >= ?", [floor]
    ).fetchone()
    return int(row[0]) if row else 0
