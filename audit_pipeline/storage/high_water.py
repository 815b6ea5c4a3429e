"""The highest `ingest_seq` stored, kept by ingestion in the one-row `ingest_sequence` table."""

from __future__ import annotations

import duckdb


def newest_ingest_seq(connection: duckdb.DuckDBPyConnection) -> int:
    """The highest ingest_seq in `events`, 0 when there is none.

    Every commit group sets `ingest_sequence` to the last ingest_seq it stored in the same transaction, so the
    row equals the column's maximum in every snapshot, and reading it costs nothing whatever the history.
    """
    row = connection.execute("SELECT last_seq FROM ingest_sequence").fetchone()
    return int(row[0]) if row else 0
