"""The search bar's terms answered from the search rollup's keys, details and infos instead of from events.

Each condition means exactly what `audit_pipeline.query.sql.term_condition` means for an event: a term's
who-and-what columns (user fields, action, log type) are matched in the rollup's keys table with the same
SQL; its role and IP in the org's distinct details, which hold both lower-cased and joined by a unit
separator; its additional_info in the org's distinct infos, the lower-cased JSON text, where a term is
searched in its JSON-escaped form as in the events. The infos' texts read are narrowed first: a term with
a trigram no info holds needs none, one with a rare trigram only the infos posted under it, and otherwise
only those whose trigram signature holds the term's, when few. Terms with a control character (which could
match across the separator) are left to the events table, where each column is matched on its own.
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
    POSTINGS_TABLE,
    SEARCH_ROLLUP_TABLE,
    TRIGRAMS_TABLE,
    Dictionary,
)
from audit_pipeline.derived.trigram_postings import RARE_OCCURRENCES, pattern_trigrams
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

    `setup` first collects, per free-text term, the details and infos holding it (reading only the infos its
    trigrams or signature leave) and whether some key holds it, then sums the search-rollup rows of `scope` that
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
        words = _read_words(conn, terms)
        found = {dictionary: _collect(conn, flt, words.patterns[dictionary], dictionary, name)
                 for dictionary, name in matches.items()}
        reaches = [TermReach(who_and_what=in_keys, role_or_ip=number in found[DETAILS], info=number in found[INFOS])
                   for number, in_keys in enumerate(words.in_keys)]
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


@dataclass(frozen=True)
class _Words:
    """Per dictionary, each free-text term's pattern (by term number); per term, whether some key holds it."""

    patterns: dict[Dictionary, dict[int, str]]
    in_keys: list[bool]


def _read_words(conn: duckdb.DuckDBPyConnection, terms: tuple[SearchTerm, ...]) -> _Words:
    """In one statement: the free-text terms as each dictionary holds them (lower-cased by DuckDB, and
    JSON-escaped for the infos, whose additional_info text escapes a value's quotes and backslashes), and
    for every term whether some key meets it."""
    free_text = [number for number, term in enumerate(terms) if term.field == "any"]
    written: dict[Dictionary, Callable[[str], str]] = {DETAILS: str, INFOS: json_string_body}
    lists = [f"[{', '.join('lower(?)' for _ in free_text)}]" for _ in written] if free_text else []
    on_keys = [_on_keys(term) for term in terms]
    some_key = [f"EXISTS (SELECT 1 FROM {KEYS_TABLE} WHERE {condition.text})" for condition in on_keys]
    params = [write(terms[number].text) for write in written.values() for number in free_text] if free_text else []
    row = conn.execute(f"SELECT {', '.join([*lists, *some_key])}",
                       (*params, *(value for condition in on_keys for value in condition.params))).fetchone()
    if row is None:
        raise RuntimeError("a SELECT without FROM returned no row")
    patterns = {dictionary: dict(zip(free_text, row[index], strict=True)) if free_text else {}
                for index, dictionary in enumerate(written)}
    return _Words(patterns, [bool(value) for value in row[len(lists):]])


def _collect(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, patterns: dict[int, str], dictionary: Dictionary,
    matches: str,
) -> set[int]:
    """Fill `matches` (term, id) with the org's dictionary entries holding each term's pattern.

    Returns the numbers of the terms some entry holds (each term's rows are added by their own statement,
    whose count says so).
    """
    orgs = [Sql(f"org_id IN ({', '.join('?' for _ in flt.orgs)})", flt.orgs)] if flt.orgs else []
    found: set[int] = set()
    created = False
    for number, pattern in patterns.items():
        select = _entries_holding(conn, dictionary, number, pattern, orgs)
        if select is None:
            continue
        statement = f"INSERT INTO {matches} " if created else f"CREATE TEMP TABLE {matches} AS "
        row = conn.execute(statement + select.text, select.params).fetchone()
        created = True
        if row is not None and row[0]:
            found.add(number)
    if not created:
        conn.execute(f"CREATE TEMP TABLE {matches} (term INTEGER, id INTEGER)")
    return found


def _entries_holding(
    conn: duckdb.DuckDBPyConnection, dictionary: Dictionary, number: int, pattern: str, orgs: list[Sql]
) -> Sql | None:
    """`SELECT number AS term, id` of the org's entries whose text contains `pattern`; None when none can.

    In a signed dictionary, the texts read are narrowed first by the pattern's trigrams: a trigram no text
    holds means no match at all, and a rare one names the few texts holding it. Failing that, the rows
    whose trigram signature holds the pattern's are listed (reading only the signatures), unless there are
    so many that fetching their texts would cost as much as reading every text.
    """
    if dictionary.signed:
        narrowed = _rows_by_trigrams(conn, pattern, orgs)
        if narrowed is None:
            narrowed = _rows_by_signature(conn, dictionary, pattern, orgs)
    else:
        narrowed = None
    select = f"SELECT {number} AS term, {dictionary.id_column} AS id FROM {dictionary.table} WHERE "
    if narrowed is not None:
        if not narrowed:
            return None
        return Sql(f"{select}rowid IN (SELECT unnest(?::BIGINT[])) AND contains(text, ?)", (narrowed, pattern))
    where = all_of([*orgs, Sql("contains(text, ?)", (pattern,))])
    return Sql(select + where.text, where.params)


def _rows_by_trigrams(conn: duckdb.DuckDBPyConnection, pattern: str, orgs: list[Sql]) -> list[int] | None:
    """The rows of the only texts that can hold `pattern` by its trigrams (empty: none can); None if unknown."""
    trigrams = pattern_trigrams(pattern)
    if not trigrams:
        return None
    scope = all_of([*orgs, Sql("trigram IN (SELECT unnest(?::INTEGER[]))", (trigrams,))])
    row = conn.execute(
        f"SELECT count(*), min(total), arg_min(trigram, total) FROM (SELECT trigram, sum(occurrences) AS total "
        f"FROM {TRIGRAMS_TABLE} WHERE {scope.text} GROUP BY trigram)",
        scope.params,
    ).fetchone()
    if row is None or row[0] < len(trigrams):
        return []
    if row[1] > RARE_OCCURRENCES:
        return None
    posted = all_of([*orgs, Sql("trigram = ?", (row[2],))])
    # Postings name texts by id; their row ids are found reading the id column alone.
    rows = conn.execute(
        f"SELECT list(rowid) FROM {INFOS.table} WHERE {INFOS.id_column} IN "
        f"(SELECT {INFOS.id_column} FROM {POSTINGS_TABLE} WHERE {posted.text})",
        posted.params,
    ).fetchone()
    return list(rows[0] or []) if rows is not None else []


def _rows_by_signature(
    conn: duckdb.DuckDBPyConnection, dictionary: Dictionary, pattern: str, orgs: list[Sql]
) -> list[int] | None:
    """The rows whose signature holds the pattern's, when at most READ_ALL_TEXTS_AFTER_CANDIDATES; else None."""
    words = [Sql(f"({column} & ?) = ?", (word, word))
             for column, word in zip(SIGNATURE_COLUMNS, pattern_signature(pattern), strict=True) if word]
    if not words:
        return None
    candidates = all_of([*orgs, *words])
    row = conn.execute(
        f"SELECT list(rowid) FROM (SELECT rowid FROM {dictionary.table} WHERE {candidates.text} LIMIT ?)",
        (*candidates.params, READ_ALL_TEXTS_AFTER_CANDIDATES + 1),
    ).fetchone()
    rows = list(row[0] or []) if row is not None else []
    return rows if len(rows) <= READ_ALL_TEXTS_AFTER_CANDIDATES else None


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
