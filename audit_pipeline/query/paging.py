"""Finding a page of the newest-first list without sorting every matching event.

DuckDB's top-N over a long period reads every matching row, and an OFFSET deep into the list even more. The
total is counted per hour or per day instead (hardly dearer than a plain count, and read from the daily
rollup where it applies); from those counts the hours or days that hold the requested rows are known, so the
page query only reads those (zone maps on occurred_at skip the rest) and its OFFSET only skips the rows of the
newer ones it still reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from audit_pipeline.derived.expressions import HOUR_MICROS, epoch_bucket_sql

BUCKET_MICROS = HOUR_MICROS
# A page inside one day of many matches is read from the day's newest hours first (see `newest_slice_start`).
SLICE_MARGIN = 2.0
MAX_SLICE_SHARE = 0.5
BUCKET_SQL = epoch_bucket_sql(BUCKET_MICROS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PageWindow:
    """The page lies in occurred_at [since, until), after skipping `skip` rows of that range newest first."""

    since: datetime
    until: datetime
    skip: int
    # How many rows the window's newest bucket holds (the page lies in it alone when skip + limit <= this).
    newest_rows: int = 0


def page_window(
    buckets: Sequence[tuple[int, int]], *, offset: int, limit: int, bucket_micros: int = BUCKET_MICROS
) -> PageWindow | None:
    """The time range holding rows offset .. offset+limit-1 of the list, from (bucket, count) newest first.

    A bucket is a number of `bucket_micros`-long periods since 1970 (hours unless told otherwise).
    None when there is no such row, or when an hour lies outside what Python datetimes can represent.
    """
    newer = 0
    first: int | None = None
    skip = 0
    newest_rows = 0
    last: int | None = None
    for bucket, count in buckets:
        if first is None and newer + count > offset:
            first, skip, newest_rows = bucket, offset - newer, count
        newer += count
        last = bucket
        if first is not None and newer >= offset + limit:
            break
    if first is None or last is None:
        return None
    try:
        return PageWindow(
            since=_bucket_start(last, bucket_micros), until=_bucket_start(first + 1, bucket_micros), skip=skip,
            newest_rows=newest_rows,
        )
    except OverflowError:
        return None


def _bucket_start(bucket: int, bucket_micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=bucket * bucket_micros)


def newest_slice_start(
    bucket_start: datetime, latest: datetime, *, rows: int, needed: int, margin: float = SLICE_MARGIN
) -> datetime | None:
    """Where to start reading a bucket newest first so that `needed` of its `rows` rows are likely inside.

    Assumes the rows are spread evenly between the bucket's start and its `latest` row and reads `margin`
    times the share needed; None when that is (nearly) the whole bucket anyway. Only a guess: the caller
    checks that the slice held enough rows and reads the whole bucket when it did not.
    """
    if rows <= 0 or latest <= bucket_start:
        return None
    share = min(1.0, margin * needed / rows)
    if share > MAX_SLICE_SHARE:
        return None
    return latest - (latest - bucket_start) * share
