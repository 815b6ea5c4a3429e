"""The audit-log list: a page of events, the total, the facet counts and the full result for download.

These are the only queries the CLI, the web page and the notebook run against the lake's events, so all
three always agree. Every function takes an open DuckDB connection (see `storage.database.reader`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from audit_pipeline.derived.rollup import KEY_COLUMNS
from audit_pipeline.domain.events import CANONICAL_FIELDS, PIPELINE_FIELDS
from audit_pipeline.query.display import display_additional_info, display_user
from audit_pipeline.query.filters import LogFilter, QueryError, check_paging
from audit_pipeline.query.paging import BUCKET_MICROS, BUCKET_SQL, PageWindow, newest_slice_start, page_window
from audit_pipeline.query.sources import CountSources, count_sources, counts_sql
from audit_pipeline.query.sql import (
    DISPLAY_USER_SQL,
    FACETS,
    TRUE,
    Sql,
    all_of,
    bounds_condition,
    facet_condition,
    filter_condition,
    selections_condition,
    time_range_condition,
)

__all__ = [
    "EVENT_COLUMNS",
    "EventPage",
    "count_events",
    "display_additional_info",
    "display_user",
    "facets",
    "iter_event_batches",
    "list_events",
    "list_events_with_facets",
]

EVENT_COLUMNS = (*CANONICAL_FIELDS, *PIPELINE_FIELDS)
NEWEST_FIRST = "occurred_at DESC, ingest_seq DESC"
DAY = timedelta(days=1)
# Past this many rows to skip inside a page's days, the page is narrowed to its hours before sorting.
NARROW_TO_HOURS_AFTER_ROWS = 2_000
# DuckDB (setting late_materialization_max_rows, 50) turns a top-N of at most 50 rows into a join on rowid
# that rescans the whole table: at 10M events that costs more than the page. Sorting at least 51 rows keeps
# the plain top-N over the rows of the page's time window.
PLAIN_TOP_N_MIN_ROWS = 51
_SELECT_EVENTS = ", ".join(EVENT_COLUMNS)
_SELECT_EVENTS_AS_TEXT = ", ".join(
    "CAST(additional_info AS VARCHAR) AS additional_info" if c == "additional_info" else c for c in EVENT_COLUMNS
)


@dataclass(frozen=True)
class EventPage:
    """One page of the filtered events, newest first, and how many events the filter matches in all."""

    total: int
    events: list[dict[str, Any]]
    limit: int
    offset: int


def count_events(conn: duckdb.DuckDBPyConnection, flt: LogFilter) -> int:
    """How many events the filter matches (the page's Total)."""
    with count_sources(conn, flt) as sources:
        query = counts_sql(sources, (), selections_condition(flt))
        row = conn.execute(query.text, query.params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def list_events(conn: duckdb.DuckDBPyConnection, flt: LogFilter, *, limit: int = 50, offset: int = 0) -> EventPage:
    """The events at `offset` (at most `limit`), newest first (occurred_at, then ingest order), with the total.

    Events are dicts of the canonical fields plus received_at and ingest_seq; timestamps are aware UTC
    datetimes and additional_info is a dict. Use `total` rather than calling `count_events` again.
    """
    check_paging(limit, offset)
    with count_sources(conn, flt) as sources:
        return _list_events(conn, flt, sources, limit=limit, offset=offset)


def list_events_with_facets(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, *, limit: int = 50, offset: int = 0, top: int = 50
) -> tuple[EventPage, dict[str, dict[str, int]]]:
    """`list_events` and `facets` together, as the page shows them: a search's texts are matched once for both."""
    check_paging(limit, offset)
    _check_top(top)
    with count_sources(conn, flt) as sources:
        return _list_events(conn, flt, sources, limit=limit, offset=offset), _facets(conn, flt, sources, top)


def _list_events(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, sources: CountSources, *, limit: int, offset: int
) -> EventPage:
    counted = counts_sql(sources, (), selections_condition(flt), by_bucket=True)
    buckets = conn.execute(f"{counted.text} ORDER BY bucket DESC", counted.params).fetchall()
    total = sum(int(count) for _, count in buckets)
    if limit == 0 or offset >= total:
        return EventPage(total=total, events=[], limit=limit, offset=offset)
    where = filter_condition(flt, search=sources.search)
    window = page_window(buckets, offset=offset, limit=limit, bucket_micros=sources.bucket_micros)
    if window is not None and _worth_narrowing(sources, window):
        window = _narrowed_to_hours(conn, where, window, limit)
    elif window is not None and sources.bucket_micros > BUCKET_MICROS:
        events = _from_newest_slice(conn, flt, where, window, limit)
        if events is not None:
            return EventPage(total=total, events=events, limit=limit, offset=offset)
    if window is not None:
        where = all_of([time_range_condition(window.since, window.until), where])
    events = _page_events(conn, where, limit=limit, skip=offset if window is None else window.skip)
    return EventPage(total=total, events=events, limit=limit, offset=offset)


def _from_newest_slice(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, where: Sql, window: PageWindow, limit: int
) -> list[dict[str, Any]] | None:
    """The page read from the last hours of the window's newest day, when it lies there; None to read the day.

    A day of many matches holds a page of 50 in its last hour or so: reading only that saves scanning the
    rest of the day's events with the text conditions. The slice is a guess from the day's count, so the
    page counts only when the slice held all of its rows.
    """
    needed = window.skip + limit
    if needed > window.newest_rows:
        return None
    day_start = window.until - DAY
    scope = all_of([time_range_condition(day_start, window.until), bounds_condition(flt)])
    row = conn.execute(f"SELECT max(occurred_at) FROM events WHERE {scope.text}", scope.params).fetchone()
    if row is None or row[0] is None:
        return None
    start = newest_slice_start(day_start, row[0], rows=window.newest_rows, needed=needed)
    if start is None:
        return None
    sliced = all_of([time_range_condition(start, window.until), where])
    events = _page_events(conn, sliced, limit=limit, skip=window.skip)
    return events if len(events) == limit else None


def _page_events(conn: duckdb.DuckDBPyConnection, where: Sql, *, limit: int, skip: int) -> list[dict[str, Any]]:
    """The rows skip .. skip+limit-1 of `where`, newest first: sorted on the sort keys alone, then fetched.

    Only occurred_at, ingest_seq and the filtered columns are read for every candidate; the other columns
    (additional_info above all) only for the page's rows, found by their unique ingest_seq between the
    page's oldest and newest time and seq (zone maps skip everything else).
    """
    keys = conn.execute(
        f"SELECT occurred_at, ingest_seq FROM events WHERE {where.text} ORDER BY {NEWEST_FIRST} LIMIT ? OFFSET ?",
        (*where.params, max(limit, PLAIN_TOP_N_MIN_ROWS), skip),
    ).fetchall()[:limit]
    if not keys:
        return []
    times = [occurred_at for occurred_at, _ in keys]
    seqs = [int(seq) for _, seq in keys]
    cursor = conn.execute(
        f"SELECT {_SELECT_EVENTS} FROM events WHERE occurred_at >= ? AND occurred_at <= ? "
        f"AND ingest_seq >= ? AND ingest_seq <= ? AND list_contains(?::BIGINT[], ingest_seq) ORDER BY {NEWEST_FIRST}",
        (min(times), max(times), min(seqs), max(seqs), seqs),
    )
    return [_event_from_row(row) for row in cursor.fetchall()]


def _worth_narrowing(sources: CountSources, window: PageWindow) -> bool:
    return sources.bucket_micros > BUCKET_MICROS and window.skip > NARROW_TO_HOURS_AFTER_ROWS


def _narrowed_to_hours(conn: duckdb.DuckDBPyConnection, where: Sql, window: PageWindow, limit: int) -> PageWindow:
    """The hours of `window` that hold its rows skip .. skip+limit-1, from hour counts of those days only."""
    inside = all_of([time_range_condition(window.since, window.until), where])
    hours = conn.execute(
        f"SELECT {BUCKET_SQL} AS bucket, count(*) FROM events WHERE {inside.text} GROUP BY ALL ORDER BY bucket DESC",
        inside.params,
    ).fetchall()
    return page_window(hours, offset=window.skip, limit=limit) or window


def _event_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    event = dict(zip(EVENT_COLUMNS, row, strict=True))
    event["additional_info"] = json.loads(event["additional_info"])
    for field in ("occurred_at", "received_at"):
        event[field] = event[field].astimezone(UTC)
    return event


def facets(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, *, top: int = 50, containing: str | None = None
) -> dict[str, dict[str, int]]:
    """Event counts per action, per user (as displayed) and per log type, largest first, `top` of each.

    Like the filter pane of the page: each facet's counts apply every OTHER filter but not that facet's own
    selection, so the values not yet selected stay visible with the count they would add. The period, the
    orgs and the search always apply. Ties are ordered by value. `containing` keeps only the values holding
    that text (any case): what typing in a pane looks for beyond its most frequent values.
    """
    _check_top(top)
    with count_sources(conn, flt) as sources:
        return _facets(conn, flt, sources, top, containing)


def _check_top(top: int) -> None:
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise QueryError(f"top must be a positive integer, got {top!r}")


def _facets(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, sources: CountSources, top: int, containing: str | None = None
) -> dict[str, dict[str, int]]:
    # Counted per combination of the columns that decide every facet value and selection, then summed.
    grouped = counts_sql(sources, KEY_COLUMNS, TRUE)
    matches = {facet: facet_condition(flt, facet) for facet in FACETS}
    columns = {"action": "action", "user": "display_user", "log_type": "log_type"}
    counted = " UNION ALL ".join(
        f"SELECT '{facet}' AS facet, {columns[facet]} AS value, sum(n) AS n FROM base "
        f"WHERE {' AND '.join(f'match_{other}' for other in FACETS if other != facet)} GROUP BY ALL"
        for facet in FACETS
    )
    query = Sql(
        f"""
        WITH grouped AS ({grouped.text}),
        base AS (
            SELECT action, {DISPLAY_USER_SQL} AS display_user, log_type, n,
                   {', '.join(f'{matches[f].text} AS match_{f}' for f in FACETS)}
            FROM grouped
        ),
        counted AS ({counted})
        SELECT facet, value, n FROM counted
        WHERE ?::VARCHAR IS NULL OR contains(lower(value), lower(?::VARCHAR))
        QUALIFY row_number() OVER (PARTITION BY facet ORDER BY n DESC, value) <= ?
        ORDER BY facet, n DESC, value
        """,
        (*grouped.params, *(v for f in FACETS for v in matches[f].params), containing, containing, top),
    )
    result: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
    for facet, value, count in conn.execute(query.text, query.params).fetchall():
        result[facet][value] = int(count)
    return result


def iter_event_batches(
    conn: duckdb.DuckDBPyConnection, flt: LogFilter, *, batch_size: int = 10_000
) -> Iterator[pa.RecordBatch]:
    """Every filtered event, newest first, streamed as Arrow record batches (for downloads).

    Columns are those of `list_events`; additional_info is its JSON text and timestamps are UTC. The query
    runs on its own cursor (reading the same default database as `conn`), so the connection stays usable while
    the stream is read.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise QueryError(f"batch_size must be a positive integer, got {batch_size!r}")
    where = filter_condition(flt)
    database = conn.execute("SELECT current_database()").fetchone()
    cursor = conn.cursor()
    try:
        if database is not None:
            cursor.execute(f'USE "{database[0].replace(chr(34), chr(34) * 2)}"')
        cursor.execute("SET TimeZone = 'UTC'")
        reader = cursor.execute(
            f"SELECT {_SELECT_EVENTS_AS_TEXT} FROM events WHERE {where.text} ORDER BY {NEWEST_FIRST}",
            where.params,
        ).fetch_record_batch(batch_size)
        yield from reader
    finally:
        cursor.close()


def latest_event_time(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the newest stored event occurred (a reference "now" for periods over old data)."""
    row = conn.execute("SELECT max(occurred_at) FROM events").fetchone()
    return row[0].astimezone(UTC) if row and row[0] is not None else None
