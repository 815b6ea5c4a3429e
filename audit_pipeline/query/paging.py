"""Finding a page of the newest-first list without sorting every matching event.

DuckDB's top-N over a long period reads every matching row, and an OFFSET deep into the list even more. The
total is counted per hour instead (hardly dearer than a plain count); from those counts the hours that hold
the requested rows are known, so the page query only reads those hours (zone maps on occurred_at skip the
rest) and its OFFSET only skips the rows of the newer hours it still reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BUCKET_MICROS = 3_600_000_000
# Floor division of the epoch (DuckDB's `//` truncates towards zero, which would merge the hours around 1970).
BUCKET_SQL = (
    f"(epoch_us(occurred_at) - ((epoch_us(occurred_at) % {BUCKET_MICROS}) + {BUCKET_MICROS}) % {BUCKET_MICROS})"
    f" // {BUCKET_MICROS}"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PageWindow:
    """The page lies in occurred_at [since, until), after skipping `skip` rows of that range newest first."""

    since: datetime
    until: datetime
    skip: int


def page_window(buckets: Sequence[tuple[int, int]], *, offset: int, limit: int) -> PageWindow | None:
    """The time range holding rows offset .. offset+limit-1 of the list, from (hour, count) newest first.

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
        return PageWindow(since=_bucket_start(last), until=_bucket_start(first + 1), skip=skip)
    except OverflowError:
        return None


def _bucket_start(bucket: int) -> datetime:
    return _EPOCH + timedelta(microseconds=bucket * BUCKET_MICROS)
