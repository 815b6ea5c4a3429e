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
BUCKET_SQL = epoch_bucket_sql(BUCKET_MICROS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PageWindow:
    """The page lies in occurred_at [since, until), after skipping `skip` rows of that range newest first."""

    since: datetime
    until: datetime
    skip: int


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
    last: int | None = None
    for bucket, count in buckets:
        if first is None and newer + count > offset:
            first, skip = bucket, offset - newer
        newer += count
        last = bucket
        if first is not None and newer >= offset + limit:
            break
    if first is None or last is None:
        return None
    try:
        return PageWindow(
            since=_bucket_start(last, bucket_micros), until=_bucket_start(first + 1, bucket_micros), skip=skip
        )
    except OverflowError:
        return None


def _bucket_start(bucket: int, bucket_micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=bucket * bucket_micros)
