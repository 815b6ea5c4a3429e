"""The free-text index beside the daily rollup: which search text each org's events carry, per day and key.

A free-text term matches an event when it is a substring of one of the event's user fields, action or log
type (the rollup's key columns, looked up in `audit_daily_rollup_keys`) or of its role, source IP or
additional_info text. Those last three, lower-cased and joined with a unit separator, make the event's
*search text*; each distinct search text of an org is stored once in `audit_search_texts` under a `text_id`,
and `audit_search_rollup` counts events per (org, day, key, text). Searching then means matching the few
keys and the distinct texts (far fewer than the events: one text stands for every login from the same IP
with the same details) and summing the rollup rows that hold one of them, instead of reading every event.

The texts are stored uncompressed: a substring scan over them is what a search waits for, and decompressing
FSST strings doubled it. Both tables are maintained by `audit_pipeline.derived.rollup` in the same
transaction as the daily rollup, from the same grouped count, so they cover exactly the same events.
"""

from __future__ import annotations

import duckdb

SEARCH_ROLLUP_TABLE = "audit_search_rollup"
SEARCH_TEXTS_TABLE = "audit_search_texts"
SEPARATOR_SQL = "chr(31)"
SEARCH_TEXT_SQL = (
    f"lower(concat_ws({SEPARATOR_SQL}, coalesce(user_role, ''), coalesce(source_ip, ''), "
    "CAST(additional_info AS VARCHAR)))"
)
"""An event's search text: its role, source IP and additional_info text, lower-cased, unit-separated."""

CREATE_TEXTS_SQL = f"""
CREATE OR REPLACE TABLE {SEARCH_TEXTS_TABLE} (
    text_id INTEGER NOT NULL,
    org_id  VARCHAR NOT NULL,
    text    VARCHAR NOT NULL USING COMPRESSION uncompressed
)
"""
_NUMBERED_TEXTS = "CAST(row_number() OVER (ORDER BY org_id, text) AS INTEGER)"


def rebuild_search_index(connection: duckdb.DuckDBPyConnection, counted: str, keys: str, same_key: str) -> None:
    """Recreate both tables from `counted` (org_id, day, key columns, search_text, events) and `keys`."""
    connection.execute(CREATE_TEXTS_SQL)
    connection.execute(f"""
        INSERT INTO {SEARCH_TEXTS_TABLE}
        SELECT {_NUMBERED_TEXTS}, org_id, text
        FROM (SELECT DISTINCT org_id, search_text AS text FROM {counted}) ORDER BY org_id, text
    """)
    connection.execute(f"CREATE OR REPLACE TABLE {SEARCH_ROLLUP_TABLE} AS {_keyed_counts(counted, keys, same_key)}")


def append_search_index(connection: duckdb.DuckDBPyConnection, counted: str, keys: str, same_key: str) -> None:
    """Add the texts `counted` holds that are new to their org, then its counts as new rollup rows."""
    connection.execute(f"""
        INSERT INTO {SEARCH_TEXTS_TABLE}
        SELECT (SELECT coalesce(max(text_id), 0) FROM {SEARCH_TEXTS_TABLE}) + {_NUMBERED_TEXTS}, org_id, text
        FROM (SELECT DISTINCT c.org_id, c.search_text AS text FROM {counted} c
              ANTI JOIN {SEARCH_TEXTS_TABLE} t ON t.org_id = c.org_id AND t.text = c.search_text)
        ORDER BY org_id, text
    """)
    connection.execute(f"INSERT INTO {SEARCH_ROLLUP_TABLE} {_keyed_counts(counted, keys, same_key)}")


def search_index_exists(connection: duckdb.DuckDBPyConnection) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name IN (?, ?)",
        [SEARCH_ROLLUP_TABLE, SEARCH_TEXTS_TABLE],
    ).fetchone()
    return row is not None and row[0] == 2


def _keyed_counts(counted: str, keys: str, same_key: str) -> str:
    return f"""
        SELECT c.org_id, c.day, k.key_id, t.text_id, c.events
        FROM {counted} c
        JOIN {keys} k ON {same_key}
        JOIN {SEARCH_TEXTS_TABLE} t ON t.org_id = c.org_id AND t.text = c.search_text
        ORDER BY c.org_id, c.day, k.key_id, t.text_id
    """
