"""Paging newest first through hour buckets: every page equals a plain sort of the input, at every offset."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit_pipeline.query import LogFilter, list_events
from audit_pipeline.query.paging import PageWindow, page_window
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader
from tests.conftest import event, ingest_now, land_records

HOUR = timedelta(hours=1)


def _at(hour: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + hour * HOUR


def test_window_covers_the_hours_of_the_requested_rows() -> None:
    # Newest hour first: rows 0-2 in hour 10, 3-4 in hour 8, 5-8 in hour 5. The window also says how many rows
    # its newest hour holds.
    buckets = [(10, 3), (8, 2), (5, 4)]
    assert page_window(buckets, offset=0, limit=2) == PageWindow(_at(10), _at(11), 0, 3)
    assert page_window(buckets, offset=0, limit=3) == PageWindow(_at(10), _at(11), 0, 3)
    assert page_window(buckets, offset=2, limit=2) == PageWindow(_at(8), _at(11), 2, 3)
    assert page_window(buckets, offset=3, limit=2) == PageWindow(_at(8), _at(9), 0, 2)
    assert page_window(buckets, offset=4, limit=50) == PageWindow(_at(5), _at(9), 1, 2)
    assert page_window(buckets, offset=9, limit=1) is None


def test_window_before_1970_and_out_of_range() -> None:
    assert page_window([(0, 1), (-1, 1)], offset=1, limit=1) == PageWindow(_at(-1), _at(0), 0, 1)
    assert page_window([(10**12, 1)], offset=0, limit=1) is None


@given(counts=st.lists(st.integers(1, 5), min_size=1, max_size=12), offset=st.integers(0, 70),
       limit=st.integers(1, 20))
def test_window_holds_exactly_the_rows_asked_for(counts: list[int], offset: int, limit: int) -> None:
    buckets = [(100 - 3 * i, n) for i, n in enumerate(counts)]
    rows = [hour for hour, n in buckets for _ in range(n)]  # one entry per row, newest first
    window = page_window(buckets, offset=offset, limit=limit)
    if offset >= len(rows):
        assert window is None
        return
    assert window is not None
    inside = [h for h in rows if window.since <= _at(h) < window.until]
    assert inside[window.skip:window.skip + limit] == rows[offset:offset + limit]


def _records() -> list[dict[str, Any]]:
    rng = random.Random(3)
    times = [
        "1969-12-31T23:59:59Z", "1969-12-31T23:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T22:59:59.999999Z",
        *["2026-11-20T10:00:00Z"] * 7, "2026-11-20T10:59:59.999999Z", "2026-11-20T11:00:00Z",
        "2026-11-20T09:59:59Z", "2026-11-20T12:30:00+02:00",
    ]
    times += [f"2026-11-{rng.randrange(1, 28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
              for _ in range(60)]
    rng.shuffle(times)
    return [event(f"p{index:03d}", occurred_at=stamp) for index, stamp in enumerate(times)]


def test_every_page_equals_a_plain_sort(paths: Paths) -> None:
    records = _records()
    land_records(paths, records)
    ingest_now(paths)
    order = sorted(range(len(records)), key=lambda i: (datetime.fromisoformat(records[i]["occurred_at"]), i),
                   reverse=True)
    expected = [records[i]["event_id"] for i in order]
    with reader(paths) as conn:
        for limit in (1, 2, 5, 7, 50):
            for offset in range(len(records) + 1):
                page = list_events(conn, LogFilter(), limit=limit, offset=offset)
                assert page.total == len(records)
                assert [e["event_id"] for e in page.events] == expected[offset:offset + limit], (limit, offset)
