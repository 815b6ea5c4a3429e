"""Filter input: periods, time parsing and the checks every reader shares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from audit_pipeline.query import PERIODS, LogFilter, QueryError, parse_time, period_bounds
from audit_pipeline.query.filters import MAX_SEARCH_CHARS, check_paging

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "length"),
    [("1h", timedelta(hours=1)), ("24h", timedelta(days=1)), ("7d", timedelta(days=7)),
     ("30d", timedelta(days=30)), ("90d", timedelta(days=90))],
)
def test_a_period_ends_now_and_stays_open(period: str, length: timedelta) -> None:
    assert period_bounds(period, NOW) == (NOW - length, None)


def test_all_has_no_bounds_and_every_period_is_known() -> None:
    assert period_bounds("all", NOW) == (None, None)
    for period in PERIODS:
        period_bounds(period, NOW)


def test_period_bounds_are_utc_whatever_the_zone_of_now() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    since, _ = period_bounds("1h", paris)
    assert since == NOW - timedelta(hours=1)
    assert since is not None and since.utcoffset() == timedelta(0)


@pytest.mark.parametrize("period", ["2h", "", "ALL", "30 d", "1y"])
def test_unknown_period_is_a_value_error(period: str) -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_bounds(period, NOW)
    with pytest.raises(QueryError):
        period_bounds(period, NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(QueryError, match="time zone"):
        period_bounds("1h", datetime(2026, 11, 20, 12, 30))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20t10:00:00z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20 10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T12:00:00+02:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5Z", datetime(2026, 11, 20, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-20T10:00:00.123456789-00:30", datetime(2026, 11, 20, 10, 30, 0, 123456, tzinfo=UTC)),
        (" 2026-11-20 ", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_a_date_as_end_means_the_next_midnight() -> None:
    assert parse_time("2026-11-20", end=True) == datetime(2026, 11, 21, tzinfo=UTC)
    assert parse_time("2026-12-31", end=True) == datetime(2027, 1, 1, tzinfo=UTC)
    assert parse_time("2026-11-20T10:00:00Z", end=True) == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["yesterday", "2026-11-20T10:00:00", "2026-11-20T10:00Z", "2026-13-01", "2026-02-30",
     "2026-11-20T25:00:00Z", "20261120", "", "2026-11-20T10:00:00+0200"],
)
def test_parse_time_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(QueryError, match=r"not a (valid )?(time|date)"):
        parse_time(text)


def test_filter_keeps_bounds_in_utc_and_drops_blank_values() -> None:
    plus_two = timezone(timedelta(hours=2))
    flt = LogFilter(orgs=["acme", " ", "acme"], since=datetime(2026, 11, 20, 12, tzinfo=plus_two),  # type: ignore[arg-type]
                    actions=("Login", ""), search="   ")
    assert flt.orgs == ("acme",)
    assert flt.actions == ("Login",)
    assert flt.since == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert flt.search is None
    assert LogFilter().is_empty() and not flt.is_empty()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": NOW, "until": NOW}, "must be after since"),
        ({"since": NOW, "until": NOW - timedelta(seconds=1)}, "must be after since"),
        ({"since": datetime(2026, 11, 20)}, "time zone"),
        ({"until": "2026-11-20"}, "must be a datetime"),
        ({"search": "x" * (MAX_SEARCH_CHARS + 1)}, "limit is 500"),
        ({"search": 42}, "search must be a string"),
        ({"actions": "Login"}, "sequence of strings"),
        ({"users": (None,)}, "values must be strings"),
        ({"log_types": tuple(f"t{i}" for i in range(201))}, "at most 200"),
    ],
)
def test_bad_filters_are_refused_when_built(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        LogFilter(**kwargs)  # type: ignore[arg-type]


def test_search_at_the_limit_is_accepted() -> None:
    assert LogFilter(search="x" * MAX_SEARCH_CHARS).search == "x" * MAX_SEARCH_CHARS


@pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (0, -1), (10_001, 0), (True, 0), (1.5, 0), (10, "2")])
def test_bad_paging_is_refused(limit: object, offset: object) -> None:
    with pytest.raises(QueryError):
        check_paging(limit, offset)  # type: ignore[arg-type]
