"""The server-rendered page: what it shows, how it escapes, its headers, empty states and error pages."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from fastapi.testclient import TestClient
from markupsafe import escape

from audit_pipeline.derived.build import build_all
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.web.app import create_app
from tests.test_web_dataset import (
    NOW,
    TRICKY_NOTE,
    WebHome,
    add_users,
    counts_by,
    display_user,
    expected,
    fresh_web_fixture,  # noqa: F401 - fixture
    web_fixture,  # noqa: F401 - fixture
)


def rows_of(page: str) -> list[str]:
    """The User column of each row of the events table, as shown."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [html.unescape(m) for m in re.findall(
        r'<td class="user">.*?<span class="cell-text">(.*?)</span>', body, re.S)]


def total_of(page: str) -> int:
    match = re.search(r'id="total" data-total="(\d+)"', page)
    assert match, "no total on the page"
    return int(match.group(1))


def test_the_page_shows_the_total_and_the_newest_rows(web: WebHome) -> None:
    page = web.browser_client("alice").get("/audit-logs", params={"size": 25}).text
    want = expected(since=NOW - timedelta(days=7))
    assert total_of(page) == len(want)
    assert rows_of(page) == [display_user(r) for r in want[:25]]


def test_the_filter_pane_shows_counts_under_the_current_filters(web: WebHome) -> None:
    page = web.browser_client("alice").get("/audit-logs", params=[("period", "30d"), ("type", "Scan")]).text
    in_period = expected(since=NOW - timedelta(days=30))
    scans = [r for r in in_period if r["log_type"] == "Scan"]
    shown = {(facet, html.unescape(value)): int(count.replace(",", "")) for facet, value, count in re.findall(
        r'name="(action|user|type)" value="([^"]*)"[^>]*>\s*<span class="value">[^<]*</span>\s*'
        r'<span class="count">([\d,]+)</span>', page)}
    assert {v: n for (f, v), n in shown.items() if f == "type"} == counts_by(in_period, lambda r: r["log_type"])
    assert {v: n for (f, v), n in shown.items() if f == "action"} == counts_by(scans, lambda r: r["action"])
    assert {v: n for (f, v), n in shown.items() if f == "user"} == counts_by(scans, display_user)
    assert re.search(r'name="type" value="Scan" checked', page)


def test_values_are_escaped_never_injected(web: WebHome) -> None:
    search = '<script>alert("q")</script>'
    page = web.browser_client("alice").get("/audit-logs", params={"q": "O'Brien", "period": "all"}).text
    assert "<script>alert(" not in page
    assert str(escape(json.dumps({"note": TRICKY_NOTE}, ensure_ascii=False))) in page
    assert "Dan O&#39;Brien" in page
    searched = web.browser_client("alice").get("/audit-logs", params={"q": search}).text
    assert search not in searched
    assert 'value="&lt;script&gt;alert(&#34;q&#34;)&lt;/script&gt;"' in searched
    assert total_of(searched) == 0


def test_paging_and_download_links_keep_the_filters(web: WebHome) -> None:
    page = web.browser_client("alice").get(
        "/audit-logs", params=[("period", "all"), ("q", "acme.test"), ("user", "Alice Adams"), ("size", "25")]).text
    next_link = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', page).group(1))  # type: ignore[union-attr]
    query = parse_qsl(urlsplit(next_link).query)
    assert ("q", "acme.test") in query and ("user", "Alice Adams") in query and ("page", "2") in query
    assert ("size", "25") in query and ("period", "all") in query
    csv_link = html.unescape(re.search(r'<a href="([^"]+)" download', page).group(1))  # type: ignore[union-attr]
    assert csv_link.startswith("/audit-logs/download?")
    assert ("q", "acme.test") in parse_qsl(urlsplit(csv_link).query)

    second = web.browser_client("alice").get(next_link).text
    want = expected(since=None, where=lambda r: r["user_email"] == "alice@acme.test")
    assert total_of(second) == len(want)
    assert len(rows_of(second)) == min(25, len(want) - 25)


def test_responses_carry_security_headers_and_are_not_cached(web: WebHome) -> None:
    response = web.browser_client("alice").get("/audit-logs")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert " on" + "click=" not in response.text and "<script>" not in response.text
    static = web.client().get("/static/app.js")
    assert static.status_code == 200 and static.headers.get("cache-control") != "no-store"


def test_bad_filters_on_the_page_get_an_html_error_page(web: WebHome) -> None:
    client = web.browser_client("alice")
    inverted = client.get("/audit-logs", params={"since": "2026-11-20", "until": "2026-11-01"})
    assert inverted.status_code == 400
    assert inverted.headers["content-type"].startswith("text/html")
    assert "must be after since" in inverted.text
    too_long = client.get("/audit-logs", params={"q": "<b>" * 200})
    assert too_long.status_code == 422
    assert "at most 500 characters" in too_long.text
    assert "<b><b>" not in too_long.text
    bad_page = client.get("/audit-logs", params={"page": "0"})
    assert bad_page.status_code == 422


def test_a_page_past_the_end_offers_the_first_page(web: WebHome) -> None:
    page = web.browser_client("alice").get("/audit-logs", params={"page": 999}).text
    assert "No events on this page" in page
    assert total_of(page) == len(expected())


def test_before_any_ingestion_the_page_says_no_events_yet(paths: Paths) -> None:
    tokens = add_users(paths)
    client = TestClient(create_app(paths, clock=lambda: NOW))
    client.post("/sign-in", data={"token": tokens["alice"]})
    response = client.get("/audit-logs")
    assert response.status_code == 200
    assert "No events yet" in response.text
    suspicious = client.get("/audit-logs/suspicious")
    assert suspicious.status_code == 200 and "Not computed yet" in suspicious.text


def test_suspicious_activity_is_one_click_away_and_limited_to_the_org(fresh_web: WebHome) -> None:
    paths = fresh_web.paths
    with writer(paths) as connection:
        build_all(connection)
        findings = connection.execute(
            "SELECT org_id, rule, event_count FROM suspicious_activity WHERE org_id = 'acme'").fetchall()
    client = fresh_web.browser_client("alice")
    assert 'href="/audit-logs/suspicious"' in client.get("/audit-logs").text

    api = fresh_web.client("alice").get("/api/v1/suspicious-activity", params={"period": "all"}).json()
    assert api["available"] is True
    assert sorted((f["rule"], f["event_count"]) for f in api["findings"]) == sorted(
        (rule, count) for _, rule, count in findings)
    page = client.get("/audit-logs/suspicious", params={"period": "all"})
    assert page.status_code == 200
    assert page.text.count("<tr>") == len(findings) + 1
    gina = fresh_web.client("gina").get("/api/v1/suspicious-activity", params={"period": "all"}).json()
    assert all(f["org_id"] == "globex" for f in gina["findings"])


HOLD_A_WRITE_OPEN = """
import sys
from pathlib import Path
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
connection = database.open_writer(Paths(Path(sys.argv[1])))
connection.execute("BEGIN")
connection.execute("INSERT INTO quarantine SELECT * FROM quarantine")
connection.execute("CREATE TABLE held AS SELECT * FROM events")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def test_the_page_answers_while_another_process_has_a_write_open(web: WebHome) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_A_WRITE_OPEN, str(web.paths.home)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        page = web.browser_client("alice").get("/audit-logs")
        api = web.client("alice").get("/api/v1/audit-logs/download", params={"format": "ndjson"})
    finally:
        holder.communicate("done\n", timeout=30)
    assert page.status_code == 200 and total_of(page.text) == len(expected())
    assert api.status_code == 200 and len(api.text.splitlines()) == len(expected())
