"""Totals, pages and facets answered with the daily rollup equal those counted over the events alone.

Two homes receive the same events in the same batches: one keeps the rollup up to date after each batch
(so it holds appended rows), the other never builds it and so is answered from `events` only. Hypothesis
draws filters whose period edges fall anywhere inside a day (to the microsecond, in several time zones), at
midnight, or not at all, with selections, qualifier searches and, now and then, a free-text term.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.derived.search_index import (
    DETAIL_ROLLUP_TABLE,
    INFOS,
    RETIRED_TABLES,
    SEARCH_ROLLUP_TABLE,
)
from audit_pipeline.query import LogFilter, count_events, facets, indexed_search, list_events
from audit_pipeline.query import logs as query_logs
from audit_pipeline.query.indexed_search import can_use_index
from audit_pipeline.query.paging import newest_slice_start
from audit_pipeline.query.search import parse_search
from audit_pipeline.query.sources import uses_rollup, whole_days
from audit_pipeline.query.sql import has_control_characters, has_free_text
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader, writer
from tests.conftest import ingest_now, land_records
from tests.test_query_logs import ACTIONS_BY_TYPE, QUALIFIED_WORDS, USERS, render_search

START = datetime(2026, 11, 14, tzinfo=UTC)
DAYS = 6
ORGS = ("acme", "globex", "Acme")
BATCHES = 3
PLAIN_ACTIONS = tuple(a for actions in ACTIONS_BY_TYPE.values() for a in actions)
USER_VALUES = tuple(v for user in USERS for f, v in user.items() if f != "user_role" and v)
# Words found in user fields, roles, IPs, additional_info keys and values, across fields, or nowhere, some
# with a quote or backslash (escaped in additional_info's JSON text); the last have a control character,
# which only the per-column match over `events` judges.
FREE_TEXT_WORDS = ("sso", "alice", "50%", "admin", "ADMIN", "10.0.0.1", "db8::", "note", "ünal", "ÜNAL's",
                   "login", "scan now", "%", "_", "sso}", "nowhere", 'ünal\'s "quoted', "a\\b", '"note"',
                   'note":"sso', "carol\\x", "admin\x1f10.0", "\x01")
ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7)))


def build_records(count: int, *, seed: int, prefix: str) -> list[dict[str, Any]]:
    """Events over DAYS days, a few of them exactly at or just before midnight, with awkward users."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        log_type = rng.choice(tuple(ACTIONS_BY_TYPE))
        day = START + timedelta(days=rng.randrange(DAYS))
        offset = rng.choice((timedelta(0), timedelta(microseconds=-1),
                             timedelta(microseconds=rng.randrange(86_400_000_000))))
        record: dict[str, Any] = {
            "event_id": f"{prefix}-{index}",
            "org_id": rng.choice(ORGS),
            "occurred_at": (day + offset).isoformat().replace("+00:00", "Z"),
            "log_type": log_type,
            "action": rng.choice(ACTIONS_BY_TYPE[log_type]),
            "source_ip": rng.choice(("10.0.0.1", "10.0.0.12", "2001:db8::7")),
            "additional_info": {"note": rng.choice(("sso", "plain", "50% off", "Ünal's \"quoted\" note", "a\\b"))},
        }
        if log_type != "System" or rng.random() < 0.3:
            record.update(rng.choice(USERS))
        records.append(record)
    return records


@dataclass
class Homes:
    rolled: duckdb.DuckDBPyConnection
    plain: duckdb.DuckDBPyConnection


def _ingest_batches(paths: Paths, *, with_rollup: bool, batches: list[list[dict[str, Any]]]) -> None:
    for number, batch in enumerate(batches):
        land_records(paths, batch, f"batch-{number}.jsonl")
        assert ingest_now(paths).ingested == len(batch)
        if with_rollup:
            with writer(paths) as connection:
                update_daily_rollup(connection)


def _batches() -> list[list[dict[str, Any]]]:
    return [build_records(300 if n == 0 else 40, seed=n, prefix=f"b{n}") for n in range(BATCHES)]


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homes]:
    rolled = Paths(tmp_path_factory.mktemp("rolled") / "home").ensure()
    plain = Paths(tmp_path_factory.mktemp("plain") / "home").ensure()
    _ingest_batches(rolled, with_rollup=True, batches=_batches())
    _ingest_batches(plain, with_rollup=False, batches=_batches())
    with reader(rolled) as with_rollup, reader(plain) as without:
        yield Homes(with_rollup, without)


@st.composite
def bounds(draw: st.DrawFn) -> datetime | None:
    kind = draw(st.sampled_from(("none", "inside a day", "midnight", "just before midnight")))
    if kind == "none":
        return None
    day = START + timedelta(days=draw(st.integers(-1, DAYS)))
    if kind == "inside a day":
        moment = day + timedelta(microseconds=draw(st.integers(1, 86_400_000_000 - 1)))
    else:
        moment = day if kind == "midnight" else day - timedelta(microseconds=1)
    return moment.astimezone(draw(st.sampled_from(ZONES)))


def _case_variants(values: tuple[str, ...]) -> list[str]:
    return sorted({v for value in values for v in (value, value.upper(), value.lower())})


@st.composite
def filters(draw: st.DrawFn) -> LogFilter:
    since, until = draw(bounds()), draw(bounds())
    if since is not None and until is not None and until <= since:
        since, until = until, since + timedelta(hours=draw(st.integers(0, 60)))
        if until <= since:
            until = since + timedelta(microseconds=1)
    qualified = st.sampled_from(tuple(QUALIFIED_WORDS)).flatmap(
        lambda f: st.tuples(st.just(f), st.sampled_from(QUALIFIED_WORDS[f])))
    # Now and then a free-text term: the search rollup answers it unless it has characters JSON escapes.
    free_text = draw(st.sampled_from([None] * 4 + list(FREE_TEXT_WORDS)))
    terms = draw(st.lists(qualified, max_size=2)) + ([("any", free_text)] if free_text else [])
    def some(values: tuple[str, ...] | list[str], most: int) -> tuple[str, ...]:
        """Half the time nothing selected, so that most filters still match events."""
        return tuple(draw(st.just([]) | st.lists(st.sampled_from(values), min_size=1, max_size=most, unique=True)))

    return LogFilter(
        orgs=some((*ORGS, "nope"), 2),
        since=since,
        until=until,
        actions=some(_case_variants(PLAIN_ACTIONS), 3),
        users=some(_case_variants((*USER_VALUES, "system", "nope")), 2),
        log_types=some(_case_variants(tuple(ACTIONS_BY_TYPE)), 2),
        search=render_search(tuple(draw(st.permutations(terms)))),
    )


def _answers(conn: duckdb.DuckDBPyConnection, flt: LogFilter, limit: int, offset: int, top: int) -> tuple[Any, ...]:
    page = list_events(conn, flt, limit=limit, offset=offset)
    return count_events(conn, flt), page.total, [e["event_id"] for e in page.events], facets(conn, flt, top=top)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flt=filters(), limit=st.integers(0, 30), offset=st.integers(0, 400), top=st.sampled_from((1, 3, 50)))
def test_rollup_answers_equal_counting_the_events(homes: Homes, flt: LogFilter, limit: int, offset: int,
                                                  top: int) -> None:
    rollup_expected = whole_days(flt) is not None and (not has_free_text(flt) or can_use_index(flt))
    note(f"rollup expected: {rollup_expected}")
    assert uses_rollup(homes.rolled, flt) == rollup_expected
    assert not uses_rollup(homes.plain, flt)
    answers = _answers(homes.rolled, flt, limit, offset, top)
    event("some events match" if answers[0] else "no event matches")
    assert answers == _answers(homes.plain, flt, limit, offset, top)


@pytest.mark.parametrize("offset", [0, 1, 49, 50, 51, 120, 299, 379, 380])
def test_pages_narrowed_to_hours_equal_a_plain_sort(homes: Homes, offset: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(query_logs, "NARROW_TO_HOURS_AFTER_ROWS", 0)
    for flt in (LogFilter(), LogFilter(since=START + timedelta(days=1, hours=5, microseconds=7)),
                LogFilter(orgs=("acme",), actions=("login", "Scan Now"))):
        assert uses_rollup(homes.rolled, flt)
        for limit in (1, 7, 50):
            rolled = list_events(homes.rolled, flt, limit=limit, offset=offset)
            plain = list_events(homes.plain, flt, limit=limit, offset=offset)
            assert rolled.total == plain.total
            assert [e["event_id"] for e in rolled.events] == [e["event_id"] for e in plain.events]


def test_whole_days_of_a_period() -> None:
    noon = datetime(2026, 11, 15, 12, tzinfo=UTC)
    midnight = datetime(2026, 11, 15, tzinfo=UTC)
    assert whole_days(LogFilter()) == (None, None)
    assert whole_days(LogFilter(since=noon)) == (midnight + timedelta(days=1), None)
    assert whole_days(LogFilter(since=midnight)) == (midnight, None)
    assert whole_days(LogFilter(until=noon)) == (None, midnight)
    assert whole_days(LogFilter(since=midnight, until=midnight + timedelta(days=1))) == (
        midnight, midnight + timedelta(days=1))
    assert whole_days(LogFilter(since=noon, until=noon + timedelta(hours=20))) is None
    assert whole_days(LogFilter(since=noon, until=noon + timedelta(hours=12))) is None
    in_india = datetime(2026, 11, 15, 5, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert whole_days(LogFilter(since=in_india)) == (midnight, None)
    assert whole_days(LogFilter(since=datetime(9999, 12, 31, 1, tzinfo=UTC))) is None


def test_events_ingested_after_the_rollup_are_counted_from_the_events(tmp_path_factory: pytest.TempPathFactory) -> None:
    rolled = Paths(tmp_path_factory.mktemp("stale") / "home").ensure()
    plain = Paths(tmp_path_factory.mktemp("plain-stale") / "home").ensure()
    batches = _batches()
    _ingest_batches(rolled, with_rollup=True, batches=batches[:1])
    _ingest_batches(plain, with_rollup=False, batches=batches)
    _ingest_batches(rolled, with_rollup=False, batches=batches[1:])  # the rollup now misses these
    flt = LogFilter(since=START + timedelta(days=1, hours=3), orgs=("acme", "globex"))
    with reader(rolled) as stale, reader(plain) as events_only:
        assert not uses_rollup(stale, flt)
        assert _answers(stale, flt, 20, 5, 50) == _answers(events_only, flt, 20, 5, 50)
    with writer(rolled) as connection:
        update_daily_rollup(connection)
    with reader(rolled) as current, reader(plain) as events_only:
        assert uses_rollup(current, flt)
        assert _answers(current, flt, 20, 5, 50) == _answers(events_only, flt, 20, 5, 50)
        assert count_events(current, LogFilter()) == sum(len(batch) for batch in batches)


# How the index finds a word's infos: by its trigrams' counts and postings (the default; here nearly every
# trigram is rare), by trigram signature, or by reading every text of the org (as when neither narrows).
INFO_MATCHING = {
    "trigrams": {},
    "signature": {"RARE_OCCURRENCES": -1},
    "every text": {"RARE_OCCURRENCES": -1, "READ_ALL_TEXTS_AFTER_CANDIDATES": 0},
}


@pytest.mark.parametrize("matching", INFO_MATCHING)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flt=filters(), limit=st.integers(0, 30), offset=st.integers(0, 400))
def test_each_way_of_matching_infos_gives_the_events_answers(homes: Homes, matching: str, flt: LogFilter,
                                                              limit: int, offset: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in INFO_MATCHING[matching].items():
            patch.setattr(indexed_search, name, value)
        assert _answers(homes.rolled, flt, limit, offset, 50) == _answers(homes.plain, flt, limit, offset, 50)


def test_the_detail_rollup_holds_the_search_rollup_summed_over_infos(homes: Homes) -> None:
    by_detail = "SELECT org_id, day, key_id, detail_id, sum(events) FROM {} GROUP BY ALL ORDER BY ALL"
    summed = homes.rolled.execute(by_detail.format(SEARCH_ROLLUP_TABLE)).fetchall()
    assert summed == homes.rolled.execute(by_detail.format(DETAIL_ROLLUP_TABLE)).fetchall()
    assert len(summed) > 0


def test_a_word_matching_no_info_is_summed_from_the_detail_rollup(homes: Homes) -> None:
    statements: list[str] = []

    class Recorder:
        def execute(self, query: str, params: Any = None) -> Any:
            statements.append(query)
            return homes.rolled.execute(query, params)

    for word, table in (("10.0.0.1", DETAIL_ROLLUP_TABLE), ("plain", SEARCH_ROLLUP_TABLE)):
        statements.clear()
        flt = LogFilter(search=word)
        assert count_events(Recorder(), flt) == count_events(homes.plain, flt) > 0  # type: ignore[arg-type]
        summed = [s for s in statements if s.startswith("CREATE TEMP TABLE search_counts_")]
        assert len(summed) == 1 and f"FROM {table} " in summed[0], word


@pytest.mark.parametrize("word", FREE_TEXT_WORDS)
def test_free_text_over_whole_days_is_answered_by_the_search_rollup(homes: Homes, word: str) -> None:
    for flt in (LogFilter(search=word), LogFilter(search=f'{word} "a"', orgs=("acme", "Acme"),
                                                  since=START + timedelta(days=1, hours=7))):
        indexable = not any(has_control_characters(term.text) for term in parse_search(word))
        assert uses_rollup(homes.rolled, flt) == indexable
        assert _answers(homes.rolled, flt, 30, 3, 50) == _answers(homes.plain, flt, 30, 3, 50)


def test_the_free_text_words_find_events_in_every_searched_column(homes: Homes) -> None:
    """The comparison above means something only if the words match: each column of the search text is hit."""
    for word in ("admin", "10.0.0.1", "db8::", "note", "ünal", "alice", "login"):
        assert count_events(homes.plain, LogFilter(search=word)) > 0, word
    assert count_events(homes.plain, LogFilter(search="nowhere")) == 0


# A snapshot from before the search rollup, or whose infos lack signatures (an earlier layout of the index).
OLDER_INDEXES = {
    "without the search rollup": f"DROP TABLE {SEARCH_ROLLUP_TABLE}",
    "with infos of an earlier layout": f"ALTER TABLE {INFOS.table} RENAME TO {RETIRED_TABLES[0]}",
}


@pytest.mark.parametrize("older_index", OLDER_INDEXES)
def test_a_snapshot_with_an_older_index_counts_free_text_in_the_events_until_rebuilt(
        tmp_path_factory: pytest.TempPathFactory, older_index: str) -> None:
    paths = Paths(tmp_path_factory.mktemp("older") / "home").ensure()
    _ingest_batches(paths, with_rollup=True, batches=_batches()[:1])
    with writer(paths) as connection:
        connection.execute(OLDER_INDEXES[older_index])
    with reader(paths) as older:
        assert uses_rollup(older, LogFilter(search="admin")) is False
        assert uses_rollup(older, LogFilter(search="user:alice")) is True
        assert count_events(older, LogFilter(search="admin")) > 0
    with writer(paths) as connection:
        assert update_daily_rollup(connection).mode == "rebuilt"
        tables = {row[0] for row in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert INFOS.table in tables and not tables & set(RETIRED_TABLES)
    with reader(paths) as upgraded:
        assert uses_rollup(upgraded, LogFilter(search="admin")) is True


# A margin far too small leaves pages out of the slice (read again from the whole day); 2 finds most.
@pytest.mark.parametrize(("margin", "outcome_seen"), [(0.01, False), (2.0, True)])
@pytest.mark.parametrize("search", [None, "10.0.0"])
def test_pages_read_from_the_newest_hours_first_equal_a_plain_sort(
        homes: Homes, margin: float, outcome_seen: bool, search: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """However good the guess of how many hours hold the page, the page is the same (a bad guess reads the day)."""
    guess, read_slice = query_logs.newest_slice_start, query_logs._from_newest_slice
    outcomes: list[bool] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        events = read_slice(*args, **kwargs)
        outcomes.append(events is not None)
        return events

    monkeypatch.setattr(query_logs, "newest_slice_start",
                        lambda *args, **kwargs: guess(*args, **{**kwargs, "margin": margin}))
    monkeypatch.setattr(query_logs, "_from_newest_slice", recorded)
    flt = LogFilter(search=search, since=START + timedelta(hours=7))
    assert uses_rollup(homes.rolled, flt)
    for offset in (0, 1, 3):
        for limit in (1, 2):
            rolled = list_events(homes.rolled, flt, limit=limit, offset=offset)
            plain = list_events(homes.plain, flt, limit=limit, offset=offset)
            assert [e["event_id"] for e in rolled.events] == [e["event_id"] for e in plain.events]
    if search is None:  # enough events on the newest day for a slice to be tried and to hold the pages
        assert outcome_seen in outcomes


def test_the_newest_slice_covers_the_share_of_the_bucket_a_page_needs() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    latest = start + timedelta(hours=20)
    assert newest_slice_start(start, latest, rows=1000, needed=50, margin=2.0) == latest - timedelta(hours=2)
    assert newest_slice_start(start, latest, rows=100, needed=50, margin=2.0) is None
    assert newest_slice_start(start, latest, rows=0, needed=50) is None
    assert newest_slice_start(start, start, rows=1000, needed=50) is None
