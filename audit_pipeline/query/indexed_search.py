"""The search bar's terms answered from the search rollup's keys, details and infos instead of from events.

Each condition means exactly what `audit_pipeline.query.sql.term_condition` means for an event: a term's
who-and-what columns (user fields, action, log type) are matched in the rollup's keys table with the same
SQL; its role and IP in the org's distinct details, which hold both lower-cased and joined by a unit
separator; its additional_info in the org's distinct infos, the lower-cased JSON text, where a term is
searched in its JSON-escaped form as in the events (reading only the infos whose trigram signature holds the
term's). Terms with a control character (which could match
across the separator) are left to the events table, where each column is matched on its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from audit_pipeline.derived.rollup import KEYS_TABLE
from audit_pipeline.derived.search_index import (
    DETAIL_ROLLUP_TABLE,
    DETAILS,
    DICTIONARIES,
    INFOS,
    SEARCH_ROLLUP_TABLE,
    Dictionary,
)
from audit_pipeline.derived.trigram_signature import SIGNATURE_COLUMNS, pattern_signature
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.search import SearchTerm, parse_search
from audit_pipeline.query.sql import (
    WHO_AND_WHAT_COLUMNS,
    Sql,
    TermReach,
    all_of,
    any_of,
    contains_ignoring_case,
    has_control_characters,
    json_string_body,
    term_condition,
)

# Fetching a row reads the stored vector (2,048 rows) around it: past this many candidates, which lie spread
# over the table, reading every text of the org costs about as much. The candidate scan stops there too.
READ_ALL_TEXTS_AFTER_CANDIDATES = 64


def can_use_index(flt: LogFilter) -> bool:
    """Whether every free-text term of the search can be answered from the search index.

    A control character (the details' separator among them) could match across a detail's role and IP.
    """
    return all(term.field != "any" or not has_control_characters(term.text) for term in parse_search(flt.search))


@dataclass(frozen=True)
class IndexedCounts:
    """The search rollup's counts of a search, per org, day and key, gathered into the temp table `table`.

    `setup` first collects, per free-text term, the details and infos holding it (one scan of the org's
    dictionaries per term) and whether some key holds it, then sums the search-rollup rows of `scope` that
    meet every term into `table`, which has the daily rollup's columns, so the page's total, day counts and
    facets all read those few rows. It returns each term's reach, which keeps the events queries of the same
    page from reading columns that cannot hold the term. `teardown` drops the temp tables.
    """

    table: str
    setup: Callable[[duckdb.DuckDBPyConnection], list[TermReach]]
    teardown: str


def indexed_counts(flt: LogFilter, scope: Sql) -> IndexedCounts:
    """Counts of the search-rollup rows meeting `scope` (days, orgs) and the filter's search."""
    run = uuid.uuid4().hex
    table = f"search_counts_{run}"
    matches = {dictionary: f"search_{dictionary.id_column}_matches_{run}" for dictionary in DICTIONARIES}

    def setup(conn: duckdb.DuckDBPyConnection) -> list[TermReach]:
        terms = parse_search(flt.search)
        for dictionary, name in matches.items():
            _collect(conn, flt, terms, dictionary, name)
        reaches = _reaches(conn, terms, matches)
        # Without an info to match, the rollup summed over infos gives the same counts from far fewer rows.
        rollup = SEARCH_ROLLUP_TABLE if any(reach.info for reach in reaches) else DETAIL_ROLLUP_TABLE
        if not all(reach.anywhere for reach in reaches):
            conn.execute(f"CREATE TEMP TABLE {table} AS SELECT org_id, day, key_id, events FROM {rollup} LIMIT 0")
            return reaches
        conditions = [_rollup_condition(term, reach, number, matches)
                      for number, (term, reach) in enumerate(zip(terms, reaches, strict=True))]
        where = all_of([scope, *conditions])
        conn.execute(
            f"CREATE TEMP TABLE {table} AS SELECT org_id, day, key_id, sum(events) AS events "
            f"FROM {rollup} WHERE {where.text} GROUP BY ALL",
            where.params,
        )
        return reaches

    drops = "; ".join(f"DROP TABLE IF EXISTS {name}" for name in (table, *matches.values()))
    return IndexedCounts(table, setup, drops)


def _collect(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, terms: tuple[SearchTerm, ...], dictionary: Dictionary,
    matches: str,
) -> None:
    """Fill `matches` (term, id): for the n-th term, if free text, the org's dictionary entries holding it."""
    free_text = [(number, term) for number, term in enumerate(terms) if term.field == "any"]
    orgs = [Sql(f"org_id IN ({', '.join('?' for _ in flt.orgs)})", flt.orgs)] if flt.orgs else []
    patterns = _patterns(conn, [term for _, term in free_text], dictionary) if free_text else []
    selects = [select for (number, _), pattern in zip(free_text, patterns, strict=True)
               if (select := _entries_holding(conn, dictionary, number, pattern, orgs)) is not None]
    if not selects:
        conn.execute(f"CREATE TEMP TABLE {matches} (term INTEGER, id INTEGER)")
        return
    conn.execute(f"CREATE TEMP TABLE {matches} AS {' UNION ALL '.join(select.text for select in selects)}",
                 tuple(value for select in selects for value in select.params))


def _patterns(conn: duckdb.DuckDBPyConnection, terms: list[SearchTerm], dictionary: Dictionary) -> list[str]:
    """The terms as the dictionary's texts hold them: lower-cased by DuckDB, JSON-escaped for the infos.

    The infos hold additional_info's JSON text, where a quote or backslash in a value is escaped.
    """
    written = json_string_body if dictionary is INFOS else str
    row = conn.execute(f"SELECT [{', '.join('lower(?)' for _ in terms)}]",
                       tuple(written(term.text) for term in terms)).fetchone()
    if row is None:
        raise RuntimeError("a SELECT without FROM returned no row")
    return [str(pattern) for pattern in row[0]]


def _entries_holding(
    conn: duckdb.DuckDBPyConnection, dictionary: Dictionary, number: int, pattern: str, orgs: list[Sql]
) -> Sql | None:
    """`SELECT number AS term, id` of the org's entries whose text contains `pattern`; None when none can.

    In a signed dictionary, the rows whose trigram signature holds the pattern's are found first (reading
    only the signature words the pattern sets), and only their texts are read, unless there are so many
    that reading them one by one would cost as much as reading every text.
    """
    select = f"SELECT {number} AS term, {dictionary.id_column} AS id FROM {dictionary.table} WHERE "
    signature = pattern_signature(pattern) if dictionary.signed else (0,) * len(SIGNATURE_COLUMNS)
    words = [Sql(f"({column} & ?) = ?", (word, word))
             for column, word in zip(SIGNATURE_COLUMNS, signature, strict=True) if word]
    if words:
        candidates = all_of([*orgs, *words])
        row = conn.execute(
            f"SELECT list(rowid) FROM (SELECT rowid FROM {dictionary.table} WHERE {candidates.text} LIMIT ?)",
            (*candidates.params, READ_ALL_TEXTS_AFTER_CANDIDATES + 1),
        ).fetchone()
        rows = row[0] if row is not None and row[0] is not None else []
        if not rows:
            return None
        if len(rows) <= READ_ALL_TEXTS_AFTER_CANDIDATES:
            return Sql(f"{select}rowid IN (SELECT unnest(?::BIGINT[])) AND contains(text, ?)", (rows, pattern))
    where = all_of([*orgs, Sql("contains(text, ?)", (pattern,))])
    return Sql(select + where.text, where.params)


def _reaches(
    conn: duckdb.DuckDBPyConnection, terms: tuple[SearchTerm, ...], matches: dict[Dictionary, str]
) -> list[TermReach]:
    """Per term, in one statement: whether some key, some detail and some info hold it."""
    found = [f"(SELECT list(DISTINCT term) FROM {matches[dictionary]})" for dictionary in (DETAILS, INFOS)]
    on_keys = [_on_keys(term) for term in terms]
    some_key = [f"EXISTS (SELECT 1 FROM {KEYS_TABLE} WHERE {condition.text})" for condition in on_keys]
    row = conn.execute(f"SELECT {', '.join([*found, *some_key])}",
                       tuple(value for condition in on_keys for value in condition.params)).fetchone()
    if row is None:
        raise RuntimeError("a SELECT without FROM returned no row")
    in_details, in_infos = set(row[0] or ()), set(row[1] or ())
    return [TermReach(who_and_what=bool(row[2 + number]), role_or_ip=number in in_details, info=number in in_infos)
            for number in range(len(terms))]


def _on_keys(term: SearchTerm) -> Sql:
    if term.field != "any":
        return term_condition(term)
    return any_of([contains_ignoring_case(column, term.text) for column in WHO_AND_WHAT_COLUMNS])


def _rollup_condition(term: SearchTerm, reach: TermReach, number: int, matches: dict[Dictionary, str]) -> Sql:
    either = [_keys_matching(_on_keys(term))] if reach.who_and_what else []
    for dictionary, found in ((DETAILS, reach.role_or_ip), (INFOS, reach.info)):
        if found:
            either.append(Sql(
                f"{dictionary.id_column} IN (SELECT id FROM {matches[dictionary]} WHERE term = {number})"
            ))
    return any_of(either)


def _keys_matching(condition: Sql) -> Sql:
    return Sql(f"key_id IN (SELECT key_id FROM {KEYS_TABLE} WHERE {condition.text})", condition.params)
