"""The free-text index beside the daily rollup: which texts each org's events carry, per day and key.

A free-text term matches an event when it is a substring of one of the event's user fields, action or log
type (the rollup's key columns, looked up in `audit_daily_rollup_keys`), of its role or source IP, or of its
additional_info text. Role and IP, lower-cased and joined with a unit separator, are the event's *detail*;
its additional_info JSON text, lower-cased, is its *info*. Each distinct detail and info of an org is stored
once, in `audit_search_details` and `audit_search_info_texts`, and `audit_search_rollup` counts events per (org,
day, key, detail, info). Searching then means matching the few keys and details and the distinct infos (far
fewer than the events: one info stands for every login with the same details) and summing the rollup rows
that hold one of them, instead of reading every event. `audit_search_detail_rollup` holds the same counts
without the info, a fraction of the rows, for searches whose words no info holds (an IP, a role).

The infos, a million per large org, are also indexed so that most
words need few or none of their texts read: `audit_search_info_trigrams` counts each org's trigrams and
`audit_search_info_postings` lists the infos holding each rare one (`audit_pipeline.derived.trigram_postings`),
and each info carries its trigram signature (`audit_pipeline.derived.trigram_signature`). All tables are
maintained by `audit_pipeline.derived.rollup` in the same transaction as the daily rollup, from the same
grouped count, so they cover exactly the same events.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow.compute as pc

from audit_pipeline.derived.report import tables_exist
from audit_pipeline.derived.trigram_postings import trigram_update
from audit_pipeline.derived.trigram_signature import SIGNATURE_COLUMNS, text_signatures

SEARCH_ROLLUP_TABLE = "audit_search_rollup"
DETAIL_ROLLUP_TABLE = "audit_search_detail_rollup"
TRIGRAMS_TABLE = "audit_search_info_trigrams"
POSTINGS_TABLE = "audit_search_info_postings"
SEPARATOR_SQL = "chr(31)"
# Earlier layouts of the index, dropped when it is rebuilt.
RETIRED_TABLES = ("audit_search_infos",)


@dataclass(frozen=True)
class Dictionary:
    """Distinct lower-cased texts of one org's events, numbered: `id_column` in `table`, `column` in counts.

    With `signed` (the infos), each text also has its trigram signature in `SIGNATURE_COLUMNS`, and the
    texts' trigrams are counted in `TRIGRAMS_TABLE` and the rare ones posted in `POSTINGS_TABLE`."""

    table: str
    id_column: str
    column: str
    text_sql: str
    signed: bool = False


DETAILS = Dictionary(
    "audit_search_details", "detail_id", "detail_text",
    f"lower(concat_ws({SEPARATOR_SQL}, coalesce(user_role, ''), coalesce(source_ip, '')))",
)
INFOS = Dictionary("audit_search_info_texts", "info_id", "info_text", "lower(CAST(additional_info AS VARCHAR))",
                   signed=True)
DICTIONARIES = (DETAILS, INFOS)
SEARCH_TABLES = (SEARCH_ROLLUP_TABLE, DETAIL_ROLLUP_TABLE, *(dictionary.table for dictionary in DICTIONARIES),
                 TRIGRAMS_TABLE, POSTINGS_TABLE)
COUNTED_TEXT_COLUMNS_SQL = ", ".join(f"{d.text_sql} AS {d.column}" for d in DICTIONARIES)
"""The dictionaries' texts of an event, as columns of the grouped count the rollup update builds."""


def rebuild_search_index(connection: duckdb.DuckDBPyConnection, counted: str, keys: str, same_key: str) -> None:
    """Recreate the tables from `counted` (org_id, day, key columns, dictionary texts, events) and `keys`."""
    for table in RETIRED_TABLES:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.execute(f"""
        CREATE OR REPLACE TABLE {TRIGRAMS_TABLE} (org_id VARCHAR NOT NULL, trigram INTEGER NOT NULL,
                                                  occurrences BIGINT NOT NULL)
    """)
    connection.execute(f"""
        CREATE OR REPLACE TABLE {POSTINGS_TABLE} (org_id VARCHAR NOT NULL, trigram INTEGER NOT NULL,
                                                  info_id INTEGER NOT NULL)
    """)
    for dictionary in DICTIONARIES:
        signatures = [f"{column} BIGINT NOT NULL," for column in SIGNATURE_COLUMNS] if dictionary.signed else []
        connection.execute(f"""
            CREATE OR REPLACE TABLE {dictionary.table} (
                {dictionary.id_column} INTEGER NOT NULL,
                org_id VARCHAR NOT NULL,
                {' '.join(signatures)}
                text VARCHAR NOT NULL
            )
        """)
        _add_texts(connection, counted, dictionary)
    keyed = _keyed_counts(connection, counted, keys, same_key)
    connection.execute(f"CREATE OR REPLACE TABLE {SEARCH_ROLLUP_TABLE} AS {keyed}")
    connection.execute(f"CREATE OR REPLACE TABLE {DETAIL_ROLLUP_TABLE} AS {_detail_counts(SEARCH_ROLLUP_TABLE)}")
    _drop_numbered(connection, counted)


def append_search_index(connection: duckdb.DuckDBPyConnection, counted: str, keys: str, same_key: str) -> None:
    """Add the texts `counted` holds that are new to their org, then its counts as new rollup rows."""
    for dictionary in DICTIONARIES:
        _add_texts(connection, counted, dictionary)
    keyed = f"{counted}_keyed"
    connection.execute(f"CREATE OR REPLACE TEMP TABLE {keyed} AS {_keyed_counts(connection, counted, keys, same_key)}")
    try:
        connection.execute(f"INSERT INTO {SEARCH_ROLLUP_TABLE} SELECT * FROM {keyed}")
        connection.execute(f"INSERT INTO {DETAIL_ROLLUP_TABLE} {_detail_counts(keyed)}")
    finally:
        connection.execute(f"DROP TABLE IF EXISTS {keyed}")
    _drop_numbered(connection, counted)


def search_index_exists(connection: duckdb.DuckDBPyConnection) -> bool:
    return tables_exist(connection, SEARCH_TABLES)


def search_index_rows(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per table of the index (for the asset's metadata); empty before the index is built."""
    if not search_index_exists(connection):
        return {}
    counts = " UNION ALL ".join(f"SELECT '{table}', count(*) FROM {table}" for table in SEARCH_TABLES)
    return {str(table): int(rows) for table, rows in connection.execute(counts).fetchall()}


def _add_texts(connection: duckdb.DuckDBPyConnection, counted: str, dictionary: Dictionary) -> None:
    table, column = dictionary.table, dictionary.column
    # In hash order, texts alike (and so a signature's false candidates) are spread over the table rather than
    # sorted next to each other: a candidate scan that stops at its limit then stops early.
    order = "org_id, hash(text), text"
    new_texts = f"""
        SELECT (SELECT coalesce(max({dictionary.id_column}), 0) FROM {table})
               + CAST(row_number() OVER (ORDER BY {order}) AS INTEGER) AS id, org_id, text
        FROM (SELECT DISTINCT c.org_id, c.{column} AS text FROM {counted} c
              ANTI JOIN {table} t ON t.org_id = c.org_id AND t.text = c.{column})
        ORDER BY {order}
    """
    if not dictionary.signed:
        connection.execute(f"INSERT INTO {table} {new_texts}")
        return
    staged = f"{table}_new_{uuid.uuid4().hex}"
    signatures = f"{staged}_signatures"
    connection.execute(f"CREATE TEMP TABLE {staged} AS {new_texts}")
    try:
        texts = connection.execute(f"SELECT text FROM {staged}").fetch_arrow_table().column("text")
        connection.register(signatures, text_signatures(texts))
        # Both sides are read in table order, so POSITIONAL JOIN pairs each text with its own signature.
        connection.execute(f"""
            INSERT INTO {table}
            SELECT n.id, n.org_id, {', '.join(f's.{c}' for c in SIGNATURE_COLUMNS)}, n.text
            FROM {staged} n POSITIONAL JOIN {signatures} s
        """)
        _add_trigrams(connection, staged)
    finally:
        connection.unregister(signatures)
        connection.execute(f"DROP TABLE IF EXISTS {staged}")


def _add_trigrams(connection: duckdb.DuckDBPyConnection, staged: str) -> None:
    """Count the trigrams of the texts just added from `staged`, and post the rare ones, org by org."""
    added = connection.execute(f"SELECT org_id, text, id FROM {staged} ORDER BY id").fetch_arrow_table()
    for org in pc.unique(added.column("org_id")).to_pylist():
        mine = added.filter(pc.equal(added.column("org_id"), org))
        stored = dict(connection.execute(
            f"SELECT trigram, sum(occurrences)::BIGINT FROM {TRIGRAMS_TABLE} WHERE org_id = ? GROUP BY trigram", [org]
        ).fetchall())
        update = trigram_update(mine.column("text"), mine.column("id").to_numpy().astype(np.int64), stored)
        for target, rows, columns in ((TRIGRAMS_TABLE, update.counts, "trigram, occurrences"),
                                      (POSTINGS_TABLE, update.postings, "trigram, id")):
            view = f"{staged}_trigram_rows"
            connection.register(view, rows)
            try:
                connection.execute(f"INSERT INTO {target} SELECT ?, {columns} FROM {view}", [org])
            finally:
                connection.unregister(view)


def _keyed_counts(connection: duckdb.DuckDBPyConnection, counted: str, keys: str, same_key: str) -> str:
    """SQL of the rollup rows of `counted`, after numbering its texts by each dictionary into temp tables.

    One dictionary is joined at a time: joined in one statement, both meet `counted` on org_id, and inside
    the update's transaction (no statistics on the new tables) DuckDB may pair the two dictionaries with
    each other first, a product of their sizes (9 GB and 40 s at 1M events instead of half a second).
    """
    source = counted
    for dictionary in DICTIONARIES:
        numbered = f"{counted}_{dictionary.id_column}"
        connection.execute(f"""
            CREATE OR REPLACE TEMP TABLE {numbered} AS
            SELECT c.* EXCLUDE ({dictionary.column}), t.{dictionary.id_column}
            FROM {source} c JOIN {dictionary.table} t ON t.org_id = c.org_id AND t.text = c.{dictionary.column}
        """)
        source = numbered
    ids = ", ".join(f"c.{d.id_column}" for d in DICTIONARIES)
    return f"""
        SELECT c.org_id, c.day, k.key_id, {ids}, c.events
        FROM {source} c JOIN {keys} k ON {same_key}
        ORDER BY c.org_id, c.day, k.key_id
    """


def _detail_counts(search_rollup: str) -> str:
    """The search rollup's rows summed without their info: what a search matching no info needs to read."""
    return f"""
        SELECT org_id, day, key_id, detail_id, CAST(sum(events) AS BIGINT) AS events
        FROM {search_rollup} GROUP BY ALL ORDER BY org_id, day, key_id
    """


def _drop_numbered(connection: duckdb.DuckDBPyConnection, counted: str) -> None:
    for dictionary in DICTIONARIES:
        connection.execute(f"DROP TABLE IF EXISTS {counted}_{dictionary.id_column}")
