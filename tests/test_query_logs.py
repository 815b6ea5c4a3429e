"""The query layer against a real ingested DuckDB file, checked with counts computed in Python from the input.

The data set mixes orgs, users (some only an id, some only an email, one with an empty name, system events
without a user), actions in several letter cases, times with ties and events in the future, and text full
of quotes, `%`, `_`, backslashes, `;`, SQL and non-ASCII characters. Hypothesis draws filter combinations;
for each one the totals, the page order and the facet counts must equal what plain Python computes.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_pipeline.query import (
    PERIODS,
    LogFilter,
    QueryError,
    count_events,
    display_additional_info,
    display_user,
    facets,
    iter_event_batches,
    list_events,
    period_bounds,
)
from audit_pipeline.query.logs import EVENT_COLUMNS
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader
from tests.conftest import ingest_now, land_records

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORGS = ("acme", "globex", "initech", "Acme")
USERS: tuple[dict[str, str], ...] = (
    {"user_id": "u-1", "user_email": "alice@acme.test", "user_name": "Alice Adams", "user_role": "Admin"},
    {"user_email": "bob@globex.test", "user_name": "Bob O'Brien", "user_role": "Member"},
    {"user_id": "u-3", "user_name": "ÉLODIE Ünal", "user_role": "Viewer"},
    {"user_id": "svc_backup%1"},
    {"user_email": "carol\\x@initech.test", "user_name": ""},
    {"user_name": "日本 太郎", "user_email": "taro@initech.test", "user_role": "Admin"},
    {"user_name": "Robert'); DROP TABLE events;--", "user_id": "u-7"},
    {"user_name": "alice adams", "user_id": "u-8", "user_role": "Member"},
    {"user_id": "System"},
)
ACTIONS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "Authentication": ("Login", "LOGIN", "Logout", "Login Failed"),
    "Scan": ("Scan Now", "scan now", "Scan Completed"),
    "Ticketing": ("Jira Ticket Opened",),
    "Notification": ("Slack Alert Sent",),
    "Custom_Type%": ("Do 'this'; now", "100%_done"),
    "System": ("Audit Log Export",),
}
NOTES = (
    "50% off", "a_b", "a\\b", 'say "hi"', "it's", "x; DROP TABLE events; --", "naïve café", "日本語",
    "emoji 🙂", "tab\there", "line\nbreak", "100%_done", "plain",
)
SEARCH_WORDS = (
    "alice", "ALICE", "adams", "o'brien", "'", "%", "_", "\\", ";", "50%", "a_b", "a\\b", "drop table",
    "日本", "élodie", "ÉLODIE", "café", "jira-42", "jira-421", "scan", "login", "10.0.", "admin", 'hi"',
    "it's", "🙂", "deep value", "nomatch-xyz", "s-1", "--", "100%_done", "count", "42", "true", "break",
    "'; drop table events; --", "Mozilla",
)
# Details the Additional Info column shows, with awkward values: empty, lists, objects, long text.
DISPLAYED_DETAILS: dict[str, tuple[Any, ...]] = {
    "target_user": ("carol@acme.test", ""),
    "ticketing_vendor": ("Jira",),
    "channel": ("#sec-alerts", ["#a", "#b"]),
    "policy_name": ("No 'public' repos", {"k": "v", "n": [1, 2]}),
    "enabled": (True, False),
    "exported_events": (0, 1234),
    "message": ("m" * 250, "emoji 🙂 " * 30),
    "login_type": ("SSO", "password"),
    "mfa_method": (["totp", None], []),
    "failure_reason": ("bad password", "x_y"),
}
QUALIFIED_WORDS = {
    "user": ("alice", "@initech", "system", "u-", "carol\\x", "%", "taro", "o'brien"),
    "action": ("scan", "login", "'this'", "ticket", "%_", "now"),
    "log_type": ("auth", "%", "_", "scan", "sys", "type%"),
}
QUALIFIER_PREFIX = {"any": "", "user": "user:", "action": "action:", "log_type": "type:"}


def _info(rng: random.Random) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if rng.random() < 0.4:
        info["scan_id"] = f"S-{rng.randrange(1, 30)}"
    if rng.random() < 0.3:
        info["ticket_id"] = rng.choice(("JIRA-42", "JIRA-421", "JIRA-7"))
    if rng.random() < 0.5:
        info["note"] = rng.choice(NOTES)
    if rng.random() < 0.15:
        info["member_roles"] = rng.sample(["Admin", "Viewer", "Owner"], 2)
    if rng.random() < 0.1:
        info["count"] = rng.choice((42, 7))
    if rng.random() < 0.1:
        info["flag"] = rng.random() < 0.5
    if rng.random() < 0.1:
        info["nested"] = {"k": "deep value"}
    if rng.random() < 0.1:
        info["new_role"] = rng.choice(("Admin", "Member"))
        if rng.random() < 0.5:
            info["old_role"] = "Viewer"
    for key, values in DISPLAYED_DETAILS.items():
        if rng.random() < 0.06:
            info[key] = rng.choice(values)
    return info


def build_records(count: int = 420, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    previous = NOW
    for index in range(count):
        log_type = rng.choice(tuple(ACTIONS_BY_TYPE))
        if index % 10 == 3:
            occurred = previous  # ties on occurred_at: ingest order decides
        elif index % 50 == 7:
            occurred = NOW + timedelta(minutes=rng.randrange(1, 120))
        else:
            occurred = NOW - timedelta(seconds=rng.randrange(0, 120 * 86400))
        previous = occurred
        record: dict[str, Any] = {
            "event_id": f"ev-{index:04d}",
            "org_id": rng.choice(ORGS),
            "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "log_type": log_type,
            "action": rng.choice(ACTIONS_BY_TYPE[log_type]),
            "source_ip": f"10.0.{rng.randrange(4)}.{rng.randrange(9)}" if rng.random() < 0.8 else None,
            "user_agent": "Mozilla/5.0" if rng.random() < 0.3 else None,
            "additional_info": _info(rng),
        }
        if log_type != "System" or rng.random() < 0.3:
            record.update(rng.choice(USERS))
        records.append({k: v for k, v in record.items() if v is not None})
    return records


@dataclass(frozen=True)
class Stored:
    """An input record as the oracle sees it."""

    seq: int
    record: dict[str, Any]
    occurred_at: datetime

    def get(self, field: str) -> str | None:
        value = self.record.get(field)
        return value if isinstance(value, str) else None

    @property
    def shown_user(self) -> str:
        for field in ("user_name", "user_email", "user_id"):
            if self.get(field):
                return str(self.get(field))
        return "System"


def _info_pieces(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _info_pieces(item)
    elif isinstance(value, list):
        for item in value:
            yield from _info_pieces(item)
    elif isinstance(value, str):
        yield value
    else:
        yield json.dumps(value)


def _term_matches(stored: Stored, field: str, text: str) -> bool:
    needle = text.lower()
    if field == "user":
        pieces = [stored.get("user_id"), stored.get("user_email"), stored.get("user_name"), stored.shown_user]
    elif field == "action":
        pieces = [stored.get("action")]
    elif field == "log_type":
        pieces = [stored.get("log_type")]
    else:
        pieces = [stored.get(f) for f in ("user_id", "user_email", "user_name", "user_role", "action",
                                           "log_type", "source_ip")]
        pieces += list(_info_pieces(stored.record.get("additional_info", {})))
    return any(p is not None and needle in p.lower() for p in pieces)


@dataclass(frozen=True)
class Query:
    """A filter as the oracle understands it: search terms are kept structured, not as text."""

    orgs: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    actions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    log_types: tuple[str, ...] = ()
    terms: tuple[tuple[str, str], ...] = ()

    def to_filter(self) -> LogFilter:
        return LogFilter(orgs=self.orgs, since=self.since, until=self.until, actions=self.actions,
                         users=self.users, log_types=self.log_types, search=render_search(self.terms))

    def matches(self, stored: Stored, *, ignore: str | None = None) -> bool:
        if self.orgs and stored.record["org_id"] not in self.orgs:
            return False
        if self.since is not None and stored.occurred_at < self.since:
            return False
        if self.until is not None and stored.occurred_at >= self.until:
            return False
        if ignore != "action" and self.actions and stored.record["action"].lower() not in _lowered(self.actions):
            return False
        if ignore != "log_type" and self.log_types and \
                stored.record["log_type"].lower() not in _lowered(self.log_types):
            return False
        if ignore != "user" and self.users:
            candidates = {(stored.get(f) or "").lower() for f in ("user_id", "user_email", "user_name")}
            candidates.add(stored.shown_user.lower())
            if not candidates & _lowered(self.users):
                return False
        return all(_term_matches(stored, field, text) for field, text in self.terms)


def _lowered(values: tuple[str, ...]) -> set[str]:
    return {v.lower() for v in values}


def render_search(terms: tuple[tuple[str, str], ...]) -> str | None:
    if not terms:
        return None
    parts = []
    for field, text in terms:
        value = f'"{text}"' if any(ch.isspace() for ch in text) else text
        parts.append(QUALIFIER_PREFIX[field] + value)
    return " ".join(parts)


def expected_ids(stored: list[Stored], query: Query) -> list[str]:
    hits = [s for s in stored if query.matches(s)]
    hits.sort(key=lambda s: (s.occurred_at, s.seq), reverse=True)
    return [s.record["event_id"] for s in hits]


def expected_facets(stored: list[Stored], query: Query, top: int) -> dict[str, dict[str, int]]:
    keys = {"action": lambda s: s.record["action"], "user": lambda s: s.shown_user,
            "log_type": lambda s: s.record["log_type"]}
    result = {}
    for facet, key in keys.items():
        counts = Counter(key(s) for s in stored if query.matches(s, ignore=facet))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
        result[facet] = dict(ranked)
    return result


@dataclass
class DataSet:
    conn: duckdb.DuckDBPyConnection
    stored: list[Stored]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataSet]:
    paths = Paths(tmp_path_factory.mktemp("query") / "home").ensure()
    records = build_records()
    land_records(paths, records)
    counts = ingest_now(paths)
    assert (counts.ingested, counts.quarantined) == (len(records), 0)
    stored = [
        Stored(seq=line, record=record, occurred_at=datetime.fromisoformat(record["occurred_at"]))
        for line, record in enumerate(records, start=1)
    ]
    with reader(paths) as conn:
        seqs = [row[0] for row in conn.execute("SELECT event_id FROM events ORDER BY ingest_seq").fetchall()]
        assert seqs == [r["event_id"] for r in records], "ingest_seq follows the line order of one file"
        yield DataSet(conn, stored)


def _case_variants(values: tuple[str, ...]) -> list[str]:
    return sorted({v for value in values for v in (value, value.upper(), value.lower())})


ALL_ACTIONS = tuple(a for actions in ACTIONS_BY_TYPE.values() for a in actions)
USER_VALUES = tuple(v for user in USERS for f, v in user.items() if f != "user_role" and v)
# Stored event times are among the bounds, so inclusive since / exclusive until is exercised.
TIME_CANDIDATES = (
    NOW, NOW - timedelta(days=1), NOW - timedelta(days=30), NOW - timedelta(days=200), NOW + timedelta(hours=1),
    *(datetime.fromisoformat(r["occurred_at"]) for r in build_records()[::37]),
)


@st.composite
def queries(draw: st.DrawFn) -> Query:
    window = draw(st.sampled_from(("none", "period", "range")))
    since = until = None
    if window == "period":
        since, until = period_bounds(draw(st.sampled_from(PERIODS)), NOW)
    elif window == "range":
        bounds = st.none() | st.sampled_from(TIME_CANDIDATES)
        since, until = draw(bounds), draw(bounds)
        if since is not None and until is not None and until <= since:
            since, until = until, since
            if since == until:
                until = since + timedelta(seconds=1)
    term = st.tuples(st.just("any"), st.sampled_from(SEARCH_WORDS))
    qualified = st.sampled_from(tuple(QUALIFIED_WORDS)).flatmap(
        lambda f: st.tuples(st.just(f), st.sampled_from(QUALIFIED_WORDS[f])))
    return Query(
        orgs=tuple(draw(st.lists(st.sampled_from((*ORGS, "nope")), max_size=2, unique=True))),
        since=since,
        until=until,
        actions=tuple(draw(st.lists(st.sampled_from(_case_variants(ALL_ACTIONS)), max_size=3, unique=True))),
        users=tuple(draw(st.lists(st.sampled_from(_case_variants((*USER_VALUES, "system", "nope"))),
                                  max_size=3, unique=True))),
        log_types=tuple(draw(st.lists(st.sampled_from(_case_variants(tuple(ACTIONS_BY_TYPE))),
                                      max_size=2, unique=True))),
        terms=tuple(draw(st.lists(term | qualified, max_size=3))),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=queries(), limit=st.integers(0, 25), offset_share=st.floats(0, 1.1), top=st.sampled_from((1, 3, 50)))
def test_totals_pages_and_facets_equal_python_counts(
    data: DataSet, query: Query, limit: int, offset_share: float, top: int
) -> None:
    expected = expected_ids(data.stored, query)
    flt = query.to_filter()
    offset = int(len(expected) * offset_share)

    assert count_events(data.conn, flt) == len(expected)
    page = list_events(data.conn, flt, limit=limit, offset=offset)
    assert (page.total, page.limit, page.offset) == (len(expected), limit, offset)
    assert [e["event_id"] for e in page.events] == expected[offset:offset + limit]

    got = facets(data.conn, flt, top=top)
    want = expected_facets(data.stored, query, top)
    assert {k: list(v.items()) for k, v in got.items()} == {k: list(v.items()) for k, v in want.items()}


MATRIX = [
    Query(),
    Query(orgs=("acme",)),
    Query(orgs=("Acme",)),
    Query(orgs=("acme", "initech"), actions=("login",)),
    Query(actions=("LOGIN",), users=("ALICE@ACME.TEST",)),
    Query(users=("alice adams",)),
    Query(users=("system",)),
    Query(log_types=("custom_type%",)),
    Query(since=NOW - timedelta(days=7)),
    Query(until=NOW - timedelta(days=7)),
    Query(since=NOW),
    *[Query(terms=(("any", word),)) for word in SEARCH_WORDS],
    *[Query(terms=((field, word),)) for field, words in QUALIFIED_WORDS.items() for word in words],
    Query(terms=(("any", "scan"), ("any", "admin"), ("user", "alice"))),
    Query(terms=(("action", "scan now"),)),
    Query(terms=(("any", "50% off"),)),
]


@pytest.mark.parametrize("query", MATRIX, ids=lambda q: repr(q)[:80])
def test_filter_matrix_equals_python_counts(data: DataSet, query: Query) -> None:
    expected = expected_ids(data.stored, query)
    page = list_events(data.conn, query.to_filter(), limit=10_000)
    assert page.total == len(expected)
    assert [e["event_id"] for e in page.events] == expected
    assert facets(data.conn, query.to_filter()) == expected_facets(data.stored, query, 50)


@pytest.mark.parametrize(("word", "meant"), [("%", "%"), ("_", "_"), ("\\", "\\"), ("'", "'"), (";", ";")])
def test_wildcard_and_quote_characters_match_only_themselves(data: DataSet, word: str, meant: str) -> None:
    count = count_events(data.conn, LogFilter(search=word))
    literal = sum(_term_matches(s, "any", meant) for s in data.stored)
    assert count == literal
    assert 0 < count < len(data.stored)


def test_sql_in_the_search_is_text(data: DataSet) -> None:
    for phrase in ("; DROP TABLE events; --", "'); DROP TABLE events;--"):
        hits = count_events(data.conn, LogFilter(search=f'"{phrase}"'))
        assert hits == sum(_term_matches(s, "any", phrase) for s in data.stored) > 0
    assert count_events(data.conn, LogFilter(search="x' OR '1'='1")) == 0
    assert count_events(data.conn, LogFilter()) == len(data.stored)


def test_an_unbalanced_quote_is_an_ordinary_character(data: DataSet) -> None:
    hits = count_events(data.conn, LogFilter(search='"hi'))
    assert hits == sum(_term_matches(s, "any", '"hi') for s in data.stored) > 0
    assert count_events(data.conn, LogFilter(search='action:"scan')) == 0


def test_search_is_case_insensitive_beyond_ascii(data: DataSet) -> None:
    lower = count_events(data.conn, LogFilter(search="élodie ünal"))
    assert lower == count_events(data.conn, LogFilter(search="ÉLODIE ÜNAL")) > 0


def test_events_come_back_as_they_went_in(data: DataSet) -> None:
    page = list_events(data.conn, LogFilter(), limit=10_000)
    by_id = {s.record["event_id"]: s for s in data.stored}
    for event in page.events:
        stored = by_id[event["event_id"]]
        assert event["occurred_at"] == stored.occurred_at and event["occurred_at"].tzinfo is UTC
        assert event["received_at"].tzinfo is UTC
        assert event["additional_info"] == stored.record["additional_info"]
        for field in ("org_id", "log_type", "action", "user_id", "user_email", "user_name", "user_role",
                      "source_ip", "user_agent"):
            assert event[field] == stored.record.get(field), field
        assert event["ingest_seq"] == stored.seq
        assert display_user(event) == stored.shown_user


def test_periods_are_open_ended_so_future_stamps_show(data: DataSet) -> None:
    since, until = period_bounds("1h", NOW)
    future = [s for s in data.stored if s.occurred_at > NOW]
    assert future
    assert count_events(data.conn, LogFilter(since=since, until=until)) == sum(
        s.occurred_at >= NOW - timedelta(hours=1) for s in data.stored)


def test_bounds_in_another_zone_mean_the_same_instant(data: DataSet) -> None:
    plus_five = NOW.astimezone(timezone(timedelta(hours=5))) - timedelta(days=3)
    utc = (NOW - timedelta(days=3)).astimezone(UTC)
    assert count_events(data.conn, LogFilter(since=plus_five)) == count_events(data.conn, LogFilter(since=utc))


def test_facets_keep_other_values_of_the_selected_facet_visible(data: DataSet) -> None:
    flt = LogFilter(actions=("Login",))
    counts = facets(data.conn, flt)
    unfiltered = facets(data.conn, LogFilter())
    assert counts["action"] == unfiltered["action"]
    logins = [s for s in data.stored if s.record["action"].lower() == "login"]
    assert sum(counts["log_type"].values()) == len(logins) == count_events(data.conn, flt)
    assert sum(counts["user"].values()) == len(logins)


def test_facets_top_limits_each_facet(data: DataSet) -> None:
    counts = facets(data.conn, LogFilter(), top=2)
    assert all(len(values) == 2 for values in counts.values())
    with pytest.raises(QueryError):
        facets(data.conn, LogFilter(), top=0)


def test_paging_past_the_end_is_empty_with_the_total(data: DataSet) -> None:
    page = list_events(data.conn, LogFilter(), limit=10, offset=10_000)
    assert (page.total, page.events) == (len(data.stored), [])
    assert list_events(data.conn, LogFilter(), limit=0).events == []
    with pytest.raises(QueryError, match="limit"):
        list_events(data.conn, LogFilter(), limit=-1)
    with pytest.raises(QueryError, match="offset"):
        list_events(data.conn, LogFilter(), offset=-5)


def test_batches_stream_the_whole_result_newest_first(data: DataSet) -> None:
    query = Query(orgs=("acme", "globex"), terms=(("any", "a"),))
    batches = list(iter_event_batches(data.conn, query.to_filter(), batch_size=7))
    table = pa.Table.from_batches(batches)
    assert len(batches) > 3 and all(b.num_rows <= 7 for b in batches)
    assert table.column("event_id").to_pylist() == expected_ids(data.stored, query)
    assert table.schema.field("occurred_at").type == pa.timestamp("us", tz="UTC")
    infos = [json.loads(text) for text in table.column("additional_info").to_pylist()]
    by_id = {s.record["event_id"]: s.record["additional_info"] for s in data.stored}
    assert infos == [by_id[i] for i in table.column("event_id").to_pylist()]
    assert count_events(data.conn, LogFilter()) == len(data.stored), "the connection stays usable"
    with pytest.raises(QueryError):
        next(iter_event_batches(data.conn, LogFilter(), batch_size=0))


def test_batches_of_an_empty_result(data: DataSet) -> None:
    batches = list(iter_event_batches(data.conn, LogFilter(search="nomatch-xyz")))
    assert sum(b.num_rows for b in batches) == 0


def test_display_columns() -> None:
    event = {
        "user_name": "", "user_email": "a@x.test", "user_id": "u-1", "user_role": "Admin",
        "additional_info": {"note": "n", "ticket_id": "JIRA-1", "scan_id": "S-1", "login_type": "SSO",
                            "flag": True, "member_roles": ["Viewer", "Member"], "old_role": "Admin"},
    }
    assert display_user(event) == "a@x.test"
    assert display_user({"user_id": "u-1"}) == "u-1"
    assert display_user({"user_name": None}) == "System"
    assert display_additional_info(event) == (
        "Role: Admin → Viewer, Member · Scan ID: S-1 · Ticket: JIRA-1 · Login type: SSO"
    )
    assert display_additional_info({"user_role": "Admin", "additional_info": {"note": "n"}}) == "Role: Admin"
    assert display_additional_info({"additional_info": '{"scan_id": "S-9"}'}) == "Scan ID: S-9"
    assert display_additional_info({}) == ""


def test_display_columns_agree_with_the_audit_log_view(data: DataSet) -> None:
    from audit_pipeline.derived.expressions import USER_DISPLAY_SQL, info_display_sql

    rows = data.conn.execute(
        f"SELECT {', '.join(EVENT_COLUMNS)}, {USER_DISPLAY_SQL}, {info_display_sql()} "
        "FROM events ORDER BY ingest_seq"
    ).fetchall()
    shown = 0
    for row in rows:
        event = dict(zip(EVENT_COLUMNS, row, strict=False))
        event["additional_info"] = json.loads(event["additional_info"])
        sql_user, sql_info = row[len(EVENT_COLUMNS):]
        assert display_user(event) == sql_user
        assert display_additional_info(event) == (sql_info or ""), event["additional_info"]
        shown += bool(sql_info)
    assert shown > len(rows) // 2
