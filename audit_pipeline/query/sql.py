"""`LogFilter` -> a parameterized SQL condition over the events table.

Column names and SQL text come only from the constants here; every value from the filter reaches DuckDB as a
`?` parameter, and text matching uses `contains`, so `%`, `_`, quotes and backslashes are plain characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from audit_pipeline.derived.expressions import USER_DISPLAY_SQL
from audit_pipeline.domain.catalogue import READ_ACTIONS, READS_LOG_TYPE
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.search import SearchTerm, parse_search

Facet = Literal["action", "user", "log_type"]
FACETS: tuple[Facet, ...] = ("action", "user", "log_type")

SYSTEM_USER = "System"
# What the User column shows: the name, else the email, else the id; events without a user are the system's.
# Shared with the derived views so the facet, the page and the notebook name users alike.
DISPLAY_USER_SQL = USER_DISPLAY_SQL
USER_COLUMNS = ("user_id", "user_email", "user_name", DISPLAY_USER_SQL)
# A free-text term looks in who did what (the columns the daily rollup keys on) and in the details.
WHO_AND_WHAT_COLUMNS = ("user_id", "user_email", "user_name", "action", "log_type")
DETAIL_TEXT_COLUMNS = ("user_role", "source_ip")
ANY_TEXT_COLUMNS = (*WHO_AND_WHAT_COLUMNS, *DETAIL_TEXT_COLUMNS)
SEARCH_COLUMNS: dict[str, tuple[str, ...]] = {
    "user": USER_COLUMNS,
    "action": ("action",),
    "log_type": ("log_type",),
}
# additional_info is searched in its stored JSON text, where a value's quotes and backslashes are escaped.
INFO_TEXT_SQL = "CAST(additional_info AS VARCHAR)"


@dataclass(frozen=True)
class Sql:
    """A fragment of SQL and the values of its `?` placeholders, in order."""

    text: str
    params: tuple[object, ...] = ()


TRUE = Sql("TRUE")
FALSE = Sql("FALSE")


@dataclass(frozen=True)
class TermReach:
    """Where a search term can match at all: in who-and-what columns, and (free text only) in the role or
    source IP, and in additional_info.

    Known from the search index, it spares reading columns that cannot hold the term; by default all.
    """

    who_and_what: bool = True
    role_or_ip: bool = True
    info: bool = True

    @property
    def anywhere(self) -> bool:
        return self.who_and_what or self.role_or_ip or self.info


def all_of(parts: Iterable[Sql]) -> Sql:
    kept = [p for p in parts if p is not TRUE]
    if not kept:
        return TRUE
    return Sql(" AND ".join(f"({p.text})" for p in kept), tuple(v for p in kept for v in p.params))


def any_of(parts: Sequence[Sql]) -> Sql:
    return Sql(" OR ".join(f"({p.text})" for p in parts), tuple(v for p in parts for v in p.params))


def _in_ignoring_case(column: str, values: Sequence[str]) -> Sql:
    placeholders = ", ".join("lower(?)" for _ in values)
    return Sql(f"coalesce(lower({column}) IN ({placeholders}), FALSE)", tuple(values))


def contains_ignoring_case(column: str, text: str) -> Sql:
    return Sql(f"coalesce(contains(lower({column}), lower(?)), FALSE)", (text,))


def json_string_body(text: str) -> str:
    """`text` as it appears inside a JSON string in DuckDB's normalized JSON (UTF-8 kept, `"` and `\\` escaped)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def facet_condition(flt: LogFilter, facet: Facet) -> Sql:
    """The filter's own condition for one facet; TRUE when nothing is selected there."""
    if facet == "action":
        return _in_ignoring_case("action", flt.actions) if flt.actions else TRUE
    if facet == "log_type":
        chosen = _in_ignoring_case("log_type", flt.log_types) if flt.log_types else TRUE
        return all_of([chosen, _own_reads_left_out(flt)])
    if not flt.users:
        return TRUE
    return any_of([_in_ignoring_case(column, flt.users) for column in USER_COLUMNS])


def _own_reads_left_out(flt: LogFilter) -> Sql:
    """Not one of the viewer's own audited reads, when the filter hides them (part of the Log Type selection,
    so the Log Type pane still counts them under Audit: the count that selecting it adds)."""
    if not flt.hides_reads():
        return TRUE
    placeholders = ", ".join("?" for _ in READ_ACTIONS)
    return Sql(f"NOT coalesce(log_type = ? AND action IN ({placeholders}) AND lower(user_email) = lower(?), FALSE)",
               (READS_LOG_TYPE, *READ_ACTIONS, flt.hide_reads_of))


def has_control_characters(text: str) -> bool:
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


def term_condition(term: SearchTerm, reach: TermReach = TermReach()) -> Sql:
    if term.field != "any":
        if not reach.who_and_what:
            return FALSE
        return any_of([contains_ignoring_case(column, term.text) for column in SEARCH_COLUMNS[term.field]])
    parts = [contains_ignoring_case(column, term.text) for column in WHO_AND_WHAT_COLUMNS if reach.who_and_what]
    if reach.role_or_ip:
        parts += [contains_ignoring_case(column, term.text) for column in DETAIL_TEXT_COLUMNS]
    if reach.info:
        parts.append(contains_ignoring_case(INFO_TEXT_SQL, json_string_body(term.text)))
    return any_of(parts) if parts else FALSE


def time_range_condition(since: datetime | None, until: datetime | None) -> Sql:
    """occurred_at in [since, until); an absent bound leaves that side open."""
    parts: list[Sql] = []
    if since is not None:
        parts.append(Sql("occurred_at >= ?", (since,)))
    if until is not None:
        parts.append(Sql("occurred_at < ?", (until,)))
    return all_of(parts)


def orgs_condition(flt: LogFilter) -> Sql:
    return Sql(f"org_id IN ({', '.join('?' for _ in flt.orgs)})", flt.orgs) if flt.orgs else TRUE


def bounds_condition(flt: LogFilter) -> Sql:
    """Period and orgs: the cheap conditions, first so that zone maps on occurred_at prune early."""
    return all_of([time_range_condition(flt.since, flt.until), orgs_condition(flt)])


def search_condition(flt: LogFilter, reach: Sequence[TermReach] | None = None) -> Sql:
    """Every search term, each looking only where its `reach` (in the order of the terms) says it can match."""
    terms = parse_search(flt.search)
    reaches = reach if reach is not None else [TermReach()] * len(terms)
    return all_of(term_condition(term, term_reach) for term, term_reach in zip(terms, reaches, strict=True))


def has_free_text(flt: LogFilter) -> bool:
    """Whether a search term looks beyond user, action and log type (role, IP, additional_info...)."""
    return any(term.field == "any" for term in parse_search(flt.search))


def selections_condition(flt: LogFilter) -> Sql:
    """The Action, User and Log Type selections together."""
    return all_of(facet_condition(flt, facet) for facet in FACETS)


def filter_condition(flt: LogFilter, *, except_facet: Facet | None = None, search: Sql | None = None) -> Sql:
    """The whole filter; `except_facet` leaves that facet's own selection out (for its counts).

    `search` replaces the search's own condition with an equivalent one (see `TermReach`)."""
    facets = [facet_condition(flt, facet) for facet in FACETS if facet != except_facet]
    return all_of([bounds_condition(flt), *facets, search if search is not None else search_condition(flt)])
