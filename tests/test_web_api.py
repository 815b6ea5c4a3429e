"""The JSON API: every filter against independent counts, paging, facets, downloads and bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from audit_pipeline.settings import Paths
from audit_pipeline.web.app import create_app
from tests.test_web_dataset import (
    FORMULA_AGENT,
    NOW,
    PEOPLE,
    TRICKY_NOTE,
    WebHome,
    add_users,
    counts_by,
    display_user,
    expected,
    expected_ids,
    web_fixture,  # noqa: F401 - fixture
)

EVENTS = "/api/v1/audit-logs"


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["event_id"] for e in response.json()["events"]]


def listing(web: WebHome, params: dict[str, Any] | list[tuple[str, str]]) -> dict[str, Any]:
    response = web.client("alice").get(EVENTS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("period,age", [
    ("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30)), ("90d", timedelta(days=90)), ("all", None),
])
def test_each_period_shows_exactly_the_events_since_its_start(web: WebHome, period: str, age: Any) -> None:
    body = listing(web, {"period": period, "limit": 1000})
    want = expected_ids(since=NOW - age if age else None)
    assert body["total"] == len(want)
    assert [e["event_id"] for e in body["events"]] == want


def test_the_default_period_is_seven_days(web: WebHome) -> None:
    body = listing(web, {"limit": 1000})
    assert body["range"]["period"] == "7d"
    assert body["total"] == len(expected(since=NOW - timedelta(days=7)))


def test_a_custom_range_includes_since_and_excludes_until(web: WebHome) -> None:
    since, until = NOW - timedelta(days=30), NOW - timedelta(days=2)
    body = listing(web, {"since": "2026-10-22T00:00:00Z", "until": "2026-11-19T00:00:00+00:00", "limit": 1000})
    assert body["range"]["period"] == "custom"
    assert [e["event_id"] for e in body["events"]] == expected_ids(since=since, until=until)


def test_a_date_as_until_includes_that_whole_day(web: WebHome) -> None:
    body = listing(web, {"period": "custom", "since": "2026-11-18", "until": "2026-11-19", "limit": 1000})
    assert [e["event_id"] for e in body["events"]] == expected_ids(
        since=NOW - timedelta(days=3), until=NOW - timedelta(days=1))


def test_actions_are_multi_select(web: WebHome) -> None:
    body = listing(web, [("action", "Login"), ("action", "Scan Now"), ("period", "all"), ("limit", "1000")])
    want = expected_ids(since=None, where=lambda r: r["action"] in ("Login", "Scan Now"))
    assert body["total"] == len(want) and [e["event_id"] for e in body["events"]] == want


def test_users_match_by_email_or_by_name(web: WebHome) -> None:
    by_email = listing(web, [("user", "bob@acme.test"), ("period", "all"), ("limit", "1000")])
    by_name = listing(web, [("user", "Bob Brown"), ("user", "carol@acme.test"), ("period", "all"),
                            ("limit", "1000")])
    assert by_email["total"] == len(expected(since=None, where=lambda r: r["user_email"] == "bob@acme.test"))
    assert by_name["total"] == len(expected(
        since=None, where=lambda r: r["user_email"] in ("bob@acme.test", "carol@acme.test")))


def test_log_types_are_multi_select(web: WebHome) -> None:
    body = listing(web, [("type", "Scan"), ("type", "System"), ("limit", "1000")])
    assert [e["event_id"] for e in body["events"]] == expected_ids(
        where=lambda r: r["log_type"] in ("Scan", "System"))


def test_free_text_search_finds_a_scan_id_inside_additional_info(web: WebHome) -> None:
    body = listing(web, {"q": "scan-002", "period": "all"})
    assert [e["event_id"] for e in body["events"]] == expected_ids(
        since=None, where=lambda r: r["additional_info"].get("scan_id") == "SCAN-002")


def test_search_qualifiers_limit_a_word_to_one_column(web: WebHome) -> None:
    body = listing(web, {"q": 'user:bob action:"scan now"', "period": "all", "limit": 1000})
    assert [e["event_id"] for e in body["events"]] == expected_ids(
        since=None, where=lambda r: r["user_email"] == "bob@acme.test" and r["action"] == "Scan Now")
    typed = listing(web, {"q": "type:ticket", "limit": 1000})
    assert typed["total"] == len(expected(where=lambda r: r["log_type"] == "Ticketing"))


def test_filters_combine(web: WebHome) -> None:
    params = [("period", "30d"), ("type", "Authentication"), ("user", "Alice Adams"), ("q", "failed"),
              ("limit", "1000")]
    want = expected_ids(since=NOW - timedelta(days=30), where=lambda r: r["log_type"] == "Authentication"
                        and r["user_email"] == "alice@acme.test" and r["action"] == "Login Failed")
    assert want and [e["event_id"] for e in listing(web, params)["events"]] == want


def test_pages_follow_each_other_newest_first(web: WebHome) -> None:
    want = expected_ids(since=None)
    pages = [listing(web, {"period": "all", "limit": 17, "offset": offset})
             for offset in range(0, len(want) + 17, 17)]
    assert all(page["total"] == len(want) for page in pages)
    assert [e["event_id"] for page in pages for e in page["events"]] == want


def test_events_carry_display_columns(web: WebHome) -> None:
    body = listing(web, {"q": "SCAN-002", "period": "all"})
    [shown] = body["events"]
    assert shown["display_user"] == display_user(next(r for r in expected(since=None)
                                                       if r["event_id"] == shown["event_id"]))
    assert "Scan ID: SCAN-002" in shown["display_additional_info"]
    assert shown["occurred_at"].endswith("Z")


def test_facets_count_under_the_other_filters(web: WebHome) -> None:
    response = web.client("alice").get(f"{EVENTS}/facets", params=[("action", "Login"), ("period", "30d")])
    assert response.status_code == 200
    body = response.json()
    in_period = expected(since=NOW - timedelta(days=30))
    logins = [r for r in in_period if r["action"] == "Login"]
    assert body["action"] == counts_by(in_period, lambda r: r["action"])
    assert body["user"] == counts_by(logins, display_user)
    assert body["log_type"] == counts_by(logins, lambda r: r["log_type"])


def test_only_the_users_own_org_is_ever_shown(web: WebHome) -> None:
    acme = listing(web, {"period": "all", "limit": 1000})
    assert {e["org_id"] for e in acme["events"]} == {"acme"}
    gina = web.client("gina").get(EVENTS, params={"period": "all", "limit": 1000}).json()
    assert gina["total"] == len(expected(org="globex", since=None))
    assert web.client("alice").get(EVENTS, params={"org": "acme"}).status_code == 200


def test_asking_for_another_org_is_refused(web: WebHome) -> None:
    response = web.client("alice").get(EVENTS, params={"org": "globex"})
    assert response.status_code == 403
    assert "acme" in response.json()["detail"]
    assert web.client("alice").get(f"{EVENTS}/download", params={"org": "globex"}).status_code == 403


@pytest.mark.parametrize("text", [
    'hi"', "100%", "of_the", "<script>alert('x')</script>", "');", "%", "_", "\\", "O'Brien",
])
def test_search_text_is_matched_literally(web: WebHome, text: str) -> None:
    def contains(record: dict[str, Any]) -> bool:
        info = record["additional_info"]
        values = [*info.keys(), *info.values(), *(record.get(f) for f in (
            "user_email", "user_name", "user_role", "action", "log_type", "source_ip"))]
        return any(text.lower() in str(value or "").lower() for value in values)

    body = listing(web, {"q": text, "period": "all"})
    assert [e["event_id"] for e in body["events"]] == expected_ids(since=None, where=contains)


def test_a_quoted_phrase_with_sql_in_it_is_one_literal_term(web: WebHome) -> None:
    body = listing(web, {"q": '"time\'); DROP TABLE events;--"', "period": "all"})
    assert [e["event_id"] for e in body["events"]] == ["acme-tricky"]
    assert listing(web, {"period": "all"})["total"] == len(expected(since=None))


def test_filter_values_with_sql_and_markup_match_nothing_and_break_nothing(web: WebHome) -> None:
    for value in ("' OR 1=1 --", "<b>Login</b>", "%", "Login'; DELETE FROM events;--"):
        body = listing(web, [("action", value), ("user", value), ("type", value)])
        assert body["total"] == 0
    assert listing(web, {"period": "all"})["total"] == len(expected(since=None))


@pytest.mark.parametrize("params,status,message", [
    ({"since": "yesterday"}, 400, "is not a time"),
    ({"since": "2026-02-30"}, 400, "not a valid date"),
    ({"since": "2026-11-20T10:00:00"}, 400, "with an offset"),
    ({"since": "2026-11-20", "until": "2026-11-19"}, 400, "must be after since"),
    ({"period": "7d", "since": "2026-11-01"}, 400, "cannot be combined"),
    ({"period": "custom"}, 400, "needs since"),
    ({"period": "2w"}, 422, "Input should be"),
    ({"q": "x" * 501}, 422, "at most 500 characters"),
    ({"action": "x" * 2000}, 400, "longer than"),
    ({"limit": "-1"}, 422, "greater than or equal"),
    ({"limit": "many"}, 422, "valid integer"),
])
def test_bad_input_gets_a_clear_client_error(web: WebHome, params: dict[str, str], status: int,
                                              message: str) -> None:
    response = web.client("alice").get(EVENTS, params=params)
    assert response.status_code == status
    assert message in response.text


def test_csv_download_holds_every_event_of_the_view(web: WebHome) -> None:
    response = web.client("alice").get(f"{EVENTS}/download", params={"format": "csv", "period": "all",
                                                                      "type": "Scan"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["event_id"] for r in rows] == expected_ids(since=None, where=lambda r: r["log_type"] == "Scan")
    assert json.loads(rows[0]["additional_info"])["scan_id"].startswith("SCAN-")


def test_csv_cells_that_would_run_as_spreadsheet_formulas_are_defused(web: WebHome) -> None:
    response = web.client("alice").get(f"{EVENTS}/download", params={"format": "csv", "q": "dan@acme.test"})
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["user_agent"] == "'" + FORMULA_AGENT
    assert row["user_name"] == "Dan O'Brien"


def test_ndjson_download_carries_the_exact_values(web: WebHome) -> None:
    response = web.client("alice").get(f"{EVENTS}/download", params={"format": "ndjson", "period": "all"})
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["event_id"] for line in lines] == expected_ids(since=None)
    tricky = next(line for line in lines if line["event_id"] == "acme-tricky")
    assert tricky["additional_info"] == {"note": TRICKY_NOTE}
    assert tricky["user_agent"] == FORMULA_AGENT
    assert tricky["occurred_at"] == "2026-11-20T23:00:00.000000Z"


def test_an_empty_view_downloads_as_a_header_only_csv(web: WebHome) -> None:
    response = web.client("alice").get(f"{EVENTS}/download", params={"format": "csv", "q": "no such text"})
    assert response.status_code == 200
    assert response.text.splitlines() == [response.text.splitlines()[0]]
    assert response.text.startswith('"event_id"')


def test_before_any_ingestion_the_api_answers_with_nothing(paths: Paths) -> None:
    tokens = add_users(paths)
    client = TestClient(create_app(paths, clock=lambda: NOW))
    client.headers["Authorization"] = f"Bearer {tokens['alice']}"
    body = client.get(EVENTS).json()
    assert (body["total"], body["events"]) == (0, [])
    assert client.get(f"{EVENTS}/facets").json() == {"action": {}, "user": {}, "log_type": {}}
    assert client.get("/api/v1/suspicious-activity").json() == {"available": False, "findings": []}
    assert client.get(f"{EVENTS}/download", params={"format": "ndjson"}).text == ""


def test_people_in_the_dataset_are_distinct() -> None:
    assert len({p["user_email"] for p in PEOPLE}) == len(PEOPLE)
