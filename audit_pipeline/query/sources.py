"""Where the audit-log list counts events: whole UTC days from the daily rollup, the rest from `events`.

A count over a period splits into the whole UTC days inside it, read from `audit_daily_rollup` (events per
org, day and key, a key being one action, log type and user), and the partial days at its edges, counted in
`events`. Both branches apply the same conditions, written over the key columns that both have, so their sum
equals a count over `events` alone. Everything is counted in `events` when the rollup cannot answer exactly:
a period holding no whole day, a snapshot without the rollup, or events ingested after the rollup's last
update. A free-text term looks at columns the daily rollup does not keep: its whole days are counted in the
search rollup beside it (`audit_pipeline.derived.search_index`), unless a term has characters that only a
per-column match in `events` can judge (see `audit_pipeline.query.indexed_search`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from audit_pipeline.derived.expressions import DAY_MICROS, UTC_DAY_NUMBER_SQL
from audit_pipeline.derived.rollup import DAY_ORIGIN_SQL, KEY_COLUMNS, KEYS_TABLE, ROLLUP_TABLE, read_coverage
from audit_pipeline.derived.search_index import search_index_exists
from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.indexed_search import can_use_index, indexed_counts
from audit_pipeline.query.paging import BUCKET_MICROS, BUCKET_SQL
from audit_pipeline.query.sql import (
    TRUE,
    Sql,
    all_of,
    has_free_text,
    orgs_condition,
    search_condition,
    time_range_condition,
)

EVENTS_TABLE = "events"
ROLLUP_DAY_NUMBER_SQL = f"(day - {DAY_ORIGIN_SQL})"
DAY = timedelta(days=1)


@dataclass(frozen=True)
class EventsBranch:
    """Events counted one by one: those of `scope`, bucketed by the `bucket` SQL."""

    scope: Sql
    bucket: str

    def counts(self, columns: Sequence[str], condition: Sql, *, by_bucket: bool) -> Sql:
        selected = [*columns, *([f"{self.bucket} AS bucket"] if by_bucket else []), "count(*) AS n"]
        where = all_of([self.scope, condition])
        return Sql(f"SELECT {', '.join(selected)} FROM {EVENTS_TABLE} WHERE {where.text} GROUP BY ALL", where.params)


@dataclass(frozen=True)
class GroupedBranch:
    """Events already counted per bucket and key into the temp table `table` (see `_grouped_once`)."""

    table: str

    def counts(self, columns: Sequence[str], condition: Sql, *, by_bucket: bool) -> Sql:
        selected = [*columns, *(["bucket"] if by_bucket else []), "sum(n) AS n"]
        return Sql(f"SELECT {', '.join(selected)} FROM {self.table} WHERE {condition.text} GROUP BY ALL",
                   condition.params)


@dataclass(frozen=True)
class RollupBranch:
    """Events counted by a rollup `table`: its rows of `rows` (days, orgs, ...) whose key meets `keys`, by day.

    The table is the daily rollup, or for a free-text search the search rollup's counts of that search,
    gathered by `indexed_counts` into a temp table of the same columns.
    """

    rows: Sql
    keys: Sql
    table: str = ROLLUP_TABLE

    def counts(self, columns: Sequence[str], condition: Sql, *, by_bucket: bool) -> Sql:
        wanted_keys = all_of([self.keys, condition])
        if wanted_keys is not TRUE:
            wanted_keys = Sql(f"key_id IN (SELECT key_id FROM {KEYS_TABLE} WHERE {wanted_keys.text})",
                              wanted_keys.params)
        where = all_of([self.rows, wanted_keys])
        bucket = [f"{ROLLUP_DAY_NUMBER_SQL} AS bucket"] if by_bucket else []
        if not columns:
            selected = [*bucket, "sum(events) AS n"]
            return Sql(f"SELECT {', '.join(selected)} FROM {self.table} WHERE {where.text} GROUP BY ALL",
                       where.params)
        # Sum per integer key first, then look up the few distinct keys' values.
        summed = f"SELECT {', '.join(['key_id', *bucket])}, sum(events) AS n FROM {self.table} " \
                 f"WHERE {where.text} GROUP BY ALL"
        selected = [*columns, *(["bucket"] if by_bucket else []), "n"]
        return Sql(f"SELECT {', '.join(selected)} FROM ({summed}) JOIN {KEYS_TABLE} USING (key_id)", where.params)


@dataclass(frozen=True)
class CountSources:
    """Branches whose counts add up to the filter's count over `events`, bucketed by `bucket_micros`.

    `search` is the search's condition for queries over `events` while these sources are open: the same
    as `search_condition(flt)`, but looking only where the search index says each term can be found.
    """

    branches: tuple[EventsBranch | GroupedBranch | RollupBranch, ...]
    bucket_micros: int
    search: Sql

    @property
    def uses_rollup(self) -> bool:
        return any(isinstance(branch, RollupBranch) for branch in self.branches)


@contextmanager
def count_sources(conn: duckdb.DuckDBPyConnection, flt: LogFilter) -> Iterator[CountSources]:
    """How to count the events of the filter's period, orgs and search (its selections are up to the caller).

    A free-text search answered from the search rollup first gathers its counts into temp tables on `conn`;
    they are dropped when the block ends, so use the sources inside it only.
    """
    free_text = has_free_text(flt)
    days = None if free_text and not can_use_index(flt) else whole_days(flt)
    if days is None or not rollup_is_current(conn) or (free_text and not search_index_exists(conn)):
        search = search_condition(flt)
        scope = all_of([time_range_condition(flt.since, flt.until), orgs_condition(flt), search])
        with _grouped_once(conn, [EventsBranch(scope, BUCKET_SQL)], free_text) as branches:
            yield CountSources(branches, BUCKET_MICROS, search)
        return
    first, end = days
    whole = all_of([_day_range(first, end), orgs_condition(flt)])
    if not free_text:
        search = search_condition(flt)
        yield CountSources((RollupBranch(whole, search), *_edge_days(flt, first, end, search)), DAY_MICROS, search)
        return
    indexed = indexed_counts(flt, whole)
    try:
        search = search_condition(flt, indexed.setup(conn))
        rollup = RollupBranch(TRUE, TRUE, indexed.table)
        with _grouped_once(conn, _edge_days(flt, first, end, search), free_text) as edges:
            yield CountSources((rollup, *edges), DAY_MICROS, search)
    finally:
        conn.execute(indexed.teardown)


@contextmanager
def _grouped_once(
    conn: duckdb.DuckDBPyConnection, branches: Sequence[EventsBranch], free_text: bool
) -> Iterator[tuple[EventsBranch | GroupedBranch, ...]]:
    """With free text, each branch's events counted once per bucket and key into a temp table.

    A page asks for its day or hour counts and for its facets; without this, each statement would match
    the text in every event of the period again. The table holds one row per bucket and key that has a
    match, so it stays small however many events match. It is dropped when the block ends.
    """
    if not free_text:
        yield tuple(branches)
        return
    names: list[str] = []
    try:
        grouped: list[EventsBranch | GroupedBranch] = []
        for branch in branches:
            names.append(f"search_events_{uuid.uuid4().hex}")
            counted = branch.counts(KEY_COLUMNS, TRUE, by_bucket=True)
            conn.execute(f"CREATE TEMP TABLE {names[-1]} AS {counted.text}", counted.params)
            grouped.append(GroupedBranch(names[-1]))
        yield tuple(grouped)
    finally:
        if names:
            conn.execute("; ".join(f"DROP TABLE IF EXISTS {name}" for name in names))


def uses_rollup(conn: duckdb.DuckDBPyConnection, flt: LogFilter) -> bool:
    """Whether the filter's counts are read from a rollup (for the whole days of its period)."""
    with count_sources(conn, flt) as sources:
        return sources.uses_rollup


def _edge_days(flt: LogFilter, first: datetime | None, end: datetime | None, search: Sql) -> list[EventsBranch]:
    """The partial days before the first whole day and after the last one, counted in `events`."""
    branches = []
    for since, until in ((flt.since, first), (end, flt.until)):
        if since is not None and until is not None and since < until:
            scope = all_of([time_range_condition(since, until), orgs_condition(flt), search])
            branches.append(EventsBranch(scope, UTC_DAY_NUMBER_SQL))
    return branches


def whole_days(flt: LogFilter) -> tuple[datetime | None, datetime | None] | None:
    """The midnights (UTC) bounding the whole days inside [since, until); None when there is no whole day.

    An open bound stays open: every day after `since` counts as whole when there is no `until`.
    """
    try:
        first = None if flt.since is None else _midnight_on_or_after(flt.since)
        end = None if flt.until is None else _midnight_on_or_before(flt.until)
    except OverflowError:
        return None
    if first is not None and end is not None and first >= end:
        return None
    return first, end


def rollup_is_current(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the rollup exists and has counted every stored event (events are only ever appended)."""
    coverage = read_coverage(conn)
    if coverage is None:
        return False
    row = conn.execute(
        f"SELECT count(*) FROM {EVENTS_TABLE} WHERE ingest_seq > ?", [coverage.last_ingest_seq]
    ).fetchone()
    return row is not None and row[0] == 0


def counts_sql(sources: CountSources, columns: Sequence[str], condition: Sql, *, by_bucket: bool = False) -> Sql:
    """`SELECT columns..., [bucket,] n`: how many events in scope that meet `condition` have those values.

    `columns` and `condition` may use only the rollup's key columns (action, log_type, user_id, user_email,
    user_name), which `events` has too. Without columns or buckets the result is one row whose `n` may be NULL.
    """
    parts = [branch.counts(columns, condition, by_bucket=by_bucket) for branch in sources.branches]
    outer = [*columns, *(["bucket"] if by_bucket else []), "CAST(sum(n) AS BIGINT) AS n"]
    return Sql(
        f"SELECT {', '.join(outer)} FROM ({' UNION ALL '.join(p.text for p in parts)}) GROUP BY ALL",
        tuple(value for part in parts for value in part.params),
    )


def _day_range(first: datetime | None, end: datetime | None) -> Sql:
    parts: list[Sql] = []
    if first is not None:
        parts.append(Sql("day >= ?", (first.date(),)))
    if end is not None:
        parts.append(Sql("day < ?", (end.date(),)))
    return all_of(parts)


def _midnight_on_or_before(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def _midnight_on_or_after(moment: datetime) -> datetime:
    midnight = _midnight_on_or_before(moment)
    return midnight if midnight == moment else midnight + DAY
