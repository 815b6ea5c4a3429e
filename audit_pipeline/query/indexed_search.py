"""The search bar's terms answered from the search rollup's `key_id` and `text_id` instead of from events.

Each condition means exactly what `audit_pipeline.query.sql.term_condition` means for an event: a term's
key columns (user fields, action, log type) are matched in the rollup's keys table with the same SQL, and
its role, IP and additional_info in the org's distinct search texts, which hold those columns lower-cased
and joined by a unit separator. The texts hold additional_info as its JSON text, so a term is searched
there in its JSON-escaped form; terms whose escaped form differs from the term (quotes, backslashes,
control characters such as the separator) are left to the events table, where each column is matched on
its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from audit_pipeline.derived.rollup import KEY_COLUMNS, KEYS_TABLE
from audit_pipeline.derived.search_index import SEARCH_ROLLUP_TABLE, SEARCH_TEXTS_TABLE
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.search import SearchTerm, parse_search
from audit_pipeline.query.sql import (
    ANY_TEXT_COLUMNS,
    Sql,
    all_of,
    any_of,
    contains_ignoring_case,
    is_plain_term,
    term_condition,
)

KEY_TEXT_COLUMNS = tuple(column for column in ANY_TEXT_COLUMNS if column in KEY_COLUMNS)


def can_use_index(flt: LogFilter) -> bool:
    """Whether every free-text term of the search can be answered from the search texts."""
    return all(_indexable(term) for term in parse_search(flt.search))


@dataclass(frozen=True)
class IndexedCounts:
    """The search rollup's counts of a search, per org, day and key, gathered into the temp table `table`.

    `setup` first collects, per free-text term, the texts holding it (one scan of the org's texts per term),
    then sums the search-rollup rows of `scope` that meet every term into `table`, which has the daily
    rollup's columns, so the page's total, day counts and facets all read those few rows; `teardown` drops
    both temp tables.
    """

    table: str
    setup: tuple[Sql, ...]
    teardown: tuple[str, ...]


def indexed_counts(flt: LogFilter, scope: Sql) -> IndexedCounts:
    """Counts of the search-rollup rows meeting `scope` (days, orgs) and the filter's search."""
    run = uuid.uuid4().hex
    matches, table = f"search_text_matches_{run}", f"search_counts_{run}"
    terms = parse_search(flt.search)
    free_text = [term for term in terms if term.field == "any"]
    orgs = [Sql(f"org_id IN ({', '.join('?' for _ in flt.orgs)})", flt.orgs)] if flt.orgs else []
    collected = [all_of([*orgs, Sql("contains(text, lower(?))", (term.text,))]) for term in free_text]
    collect = Sql(
        f"CREATE TEMP TABLE {matches} AS "
        + " UNION ALL ".join(f"SELECT {number} AS term, text_id FROM {SEARCH_TEXTS_TABLE} WHERE {where.text}"
                             for number, where in enumerate(collected)),
        tuple(value for where in collected for value in where.params),
    ) if free_text else Sql(f"CREATE TEMP TABLE {matches} (term INTEGER, text_id INTEGER)")
    conditions = []
    numbers = iter(range(len(free_text)))
    for term in terms:
        if term.field != "any":
            conditions.append(_keys_matching(term_condition(term)))
            continue
        on_keys = any_of([contains_ignoring_case(column, term.text) for column in KEY_TEXT_COLUMNS])
        in_texts = Sql(f"text_id IN (SELECT text_id FROM {matches} WHERE term = {next(numbers)})")
        conditions.append(any_of([_keys_matching(on_keys), in_texts]))
    where = all_of([scope, *conditions])
    sum_rows = Sql(
        f"CREATE TEMP TABLE {table} AS SELECT org_id, day, key_id, sum(events) AS events "
        f"FROM {SEARCH_ROLLUP_TABLE} WHERE {where.text} GROUP BY ALL",
        where.params,
    )
    return IndexedCounts(table, (collect, sum_rows), (f"DROP TABLE IF EXISTS {table}",
                                                      f"DROP TABLE IF EXISTS {matches}"))


def _indexable(term: SearchTerm) -> bool:
    return term.field != "any" or is_plain_term(term.text)


def _keys_matching(condition: Sql) -> Sql:
    return Sql(f"key_id IN (SELECT key_id FROM {KEYS_TABLE} WHERE {condition.text})", condition.params)
