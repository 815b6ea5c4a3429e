"""The investigation tables rebuilt from real DuckDB files, compared with counts computed from the input."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from audit_pipeline.derived.build import build_all
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.database import writer
from tests.conftest import event, ingest_now, land_records


def built(paths: Paths, records: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """Ingest the records, rebuild every derived table, and open the result read-only."""
    land_records(paths, records)
    counts = ingest_now(paths)
    assert counts.ingested == len(records), counts
    with writer(paths) as connection:
        build_all(connection)
    return database.open_reader(paths)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_audit_log_shows_who_did_it_and_the_details_an_investigator_reads(paths: Paths) -> None:
    records = [
        event("named"),
        event("email-only", user_name=None, user_email="bob@acme.test"),
        event("id-only", user_name=None, user_email=None, user_id="u-42"),
        {"event_id": "sys", "org_id": "acme", "occurred_at": "2026-11-20T10:00:00Z", "log_type": "System",
         "action": "Audit Log Export"},
        event("scan", log_type="Scan", action="Scan Now", additional_info={"scan_id": "scan-7"}),
        {"id": "camel-scan", "orgId": "acme", "date": "2026-11-20T10:01:00Z", "logType": "Scan",
         "logName": "Scan Completed", "userEmail": "bob@acme.test", "scanId": "scan-7"},
        event("role", log_type="User Management", action="Role Changed",
              additional_info={"target_user": "carol@acme.test", "old_role": "Viewer", "new_role": "Member"}),
        event("ticket", log_type="Ticketing", action="Jira Ticket Opened",
              additional_info={"ticket_id": "SEC-12", "ticketing_vendor": "Jira"}),
        {"id": "slack", "orgId": "acme", "date": "2026-11-20T10:02:00Z", "logType": "Notification",
         "logName": "Slack Alert Sent", "userName": "Alice Adams", "channel": "#security",
         "messagingVendor": "Slack"},
    ]
    connection = built(paths, records)
    rows = dict(connection.execute(
        "SELECT event_id, (user_display, additional_info_display) FROM audit_log"
    ).fetchall())
    assert rows["named"] == ("Alice Adams", "Role: Admin")
    assert rows["email-only"][0] == "bob@acme.test"
    assert rows["id-only"][0] == "u-42"
    assert rows["sys"] == ("System", None)
    assert rows["scan"][1] == "Scan ID: scan-7"
    assert rows["camel-scan"] == ("bob@acme.test", "Scan ID: scan-7")
    assert rows["role"][1] == "Role: Viewer → Member · User: carol@acme.test"
    assert rows["ticket"][1] == "Ticket: SEC-12 · Vendor: Jira"
    assert rows["slack"][1] == "Channel: #security · Via: Slack"


def test_audit_log_keeps_every_event_and_its_raw_fields(paths: Paths) -> None:
    records = [event(f"e{i}", source_ip=f"10.0.0.{i}", user_agent="curl/8") for i in range(7)]
    connection = built(paths, records)
    columns = [row[0] for row in connection.execute("DESCRIBE audit_log").fetchall()]
    assert columns[:10] == ["org_id", "ingest_seq", "event_id", "occurred_at", "user_display", "action",
                            "additional_info_display", "log_type", "outcome", "source_ip"]
    assert {"user_email", "user_agent", "additional_info", "received_at", "source_file"} <= set(columns)
    ips = connection.execute("SELECT source_ip FROM audit_log ORDER BY ingest_seq").fetchall()
    assert [ip for (ip,) in ips] == [r["source_ip"] for r in records]


def _mixed_records() -> list[dict[str, Any]]:
    users = ["alice@acme.test", "bob@acme.test", "carol@acme.test"]
    actions = [("Authentication", "Login"), ("Authentication", "Login Failed"), ("Scan", "Scan Now"),
               ("Notification", "Slack Alert Sent"), ("Policy", "Policy Updated")]
    records = []
    for i in range(60):
        log_type, action = actions[i % len(actions)]
        user = users[(i * 7) % len(users)]
        records.append(event(
            f"m{i}", org_id="acme" if i % 4 else "globex", log_type=log_type, action=action,
            user_email=user, user_name=None, occurred_at=f"2026-11-{18 + i % 3}T{(i * 5) % 24:02d}:10:00Z",
        ))
    return records


def test_audit_summary_counts_match_the_input(paths: Paths) -> None:
    records = _mixed_records()
    connection = built(paths, records)
    summary = {
        (org, dimension, value): (events, failures)
        for org, dimension, value, events, failures in connection.execute(
            "SELECT org_id, dimension, value, events, failures FROM audit_summary"
        ).fetchall()
    }
    for org in ("acme", "globex"):
        mine = [r for r in records if r["org_id"] == org]
        assert summary[(org, "total", None)] == (len(mine), sum(r["action"] == "Login Failed" for r in mine))
        expected = {
            "action": Counter(r["action"] for r in mine),
            "user": Counter(r["user_email"] for r in mine),
            "log_type": Counter(r["log_type"] for r in mine),
            "day": Counter(r["occurred_at"][:10] for r in mine),
        }
        for dimension, counts in expected.items():
            got = {value: n for (o, d, value), (n, _) in summary.items() if o == org and d == dimension}
            assert got == dict(counts), dimension


def test_audit_summary_days_are_utc_days(paths: Paths) -> None:
    connection = built(paths, [event("late", occurred_at="2026-11-20T23:30:00-05:00")])
    days = connection.execute("SELECT value FROM audit_summary WHERE dimension = 'day'").fetchall()
    assert days == [("2026-11-21",)]


def test_login_activity_per_user_and_day(paths: Paths) -> None:
    records = [
        event("a1", occurred_at="2026-11-20T08:00:00Z", source_ip="10.0.0.1"),
        event("a2", occurred_at="2026-11-20T09:00:00Z", source_ip="10.0.0.2", user_email="ALICE@acme.test"),
        event("a3", action="Login Failed", occurred_at="2026-11-20T09:05:00Z", source_ip="10.0.0.9"),
        event("a4", action="Login", outcome="failure", occurred_at="2026-11-20T09:06:00Z"),
        event("a5", action="MFA Challenge", occurred_at="2026-11-20T09:07:00Z"),
        event("a6", action="MFA Failed", occurred_at="2026-11-20T09:08:00Z"),
        event("a7", occurred_at="2026-11-21T08:00:00Z"),
        event("b1", user_email="bob@acme.test", user_name="Bob", occurred_at="2026-11-20T10:00:00Z"),
        event("x1", log_type="Scan", action="Scan Now", occurred_at="2026-11-20T10:00:00Z"),
    ]
    connection = built(paths, records)
    rows = connection.execute("""
        SELECT user_key, day, logins, failed_logins, mfa_challenges, mfa_failures, distinct_ips, ips,
               first_seen, last_seen
        FROM login_activity ORDER BY user_key, day
    """).fetchall()
    assert rows == [
        ("alice@acme.test", utc("2026-11-20T00:00:00Z").date(), 2, 2, 2, 1, 3,
         ["10.0.0.1", "10.0.0.2", "10.0.0.9"], utc("2026-11-20T08:00:00Z"), utc("2026-11-20T09:08:00Z")),
        ("alice@acme.test", utc("2026-11-21T00:00:00Z").date(), 1, 0, 0, 0, 1, ["10.0.0.1"],
         utc("2026-11-21T08:00:00Z"), utc("2026-11-21T08:00:00Z")),
        ("bob@acme.test", utc("2026-11-20T00:00:00Z").date(), 1, 0, 0, 0, 1, ["10.0.0.1"],
         utc("2026-11-20T10:00:00Z"), utc("2026-11-20T10:00:00Z")),
    ]


def scan(event_id: str, action: str, scan_id: str | None, at: str, **fields: Any) -> dict[str, Any]:
    info = {"scan_id": scan_id} if scan_id else {}
    return event(event_id, log_type="Scan", action=action, occurred_at=at, additional_info=info, **fields)


def test_scan_activity_follows_each_scan_from_trigger_to_end(paths: Paths) -> None:
    records = [
        scan("s1", "Scan Now", "scan-1", "2026-11-20T10:00:00Z", user_name="Alice Adams"),
        scan("s2", "Scan Completed", "scan-1", "2026-11-20T10:04:30Z", user_name="Alice Adams"),
        scan("s3", "Scan Scheduled", "scan-2", "2026-11-20T11:00:00Z", user_name="Bob"),
        scan("s4", "Scan Failed", "scan-2", "2026-11-20T11:00:10Z", user_name="Bob"),
        scan("s5", "Scan Now", "scan-3", "2026-11-21T09:00:00Z"),
        {"id": "s6", "orgId": "acme", "date": "2026-11-21T09:30:00Z", "logType": "Scan",
         "logName": "Scan Completed", "userEmail": "bob@acme.test", "scanId": "scan-4"},
        scan("s7", "Scan Now", None, "2026-11-21T10:00:00Z"),
    ]
    connection = built(paths, records)
    rows = connection.execute("""
        SELECT scan_id, trigger, triggered_by, status, duration_seconds, events, event_ids
        FROM scan_activity ORDER BY scan_id
    """).fetchall()
    assert rows == [
        ("scan-1", "Scan Now", "Alice Adams", "completed", 270.0, 2, ["s1", "s2"]),
        ("scan-2", "Scan Scheduled", "Bob", "failed", 10.0, 2, ["s3", "s4"]),
        ("scan-3", "Scan Now", "Alice Adams", "running", None, 1, ["s5"]),
        ("scan-4", None, None, "completed", None, 1, ["s6"]),
    ]
    daily = connection.execute("""
        SELECT day, scans_started, scans_completed, scans_failed, events_without_scan_id, scan_events,
               median_duration_seconds
        FROM scan_activity_daily ORDER BY day
    """).fetchall()
    assert daily == [
        (utc("2026-11-20T00:00:00Z").date(), 2, 1, 1, 0, 4, 140.0),
        (utc("2026-11-21T00:00:00Z").date(), 2, 1, 0, 1, 3, None),
    ]


@pytest.mark.parametrize("table", ["audit_log", "audit_summary", "login_activity", "scan_activity",
                                   "scan_activity_daily", "suspicious_activity"])
def test_an_empty_events_table_gives_empty_tables(paths: Paths, table: str) -> None:
    with writer(paths) as connection:
        reports = build_all(connection)
        assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    assert all(report.rows == 0 and report.total_events == 0 for report in reports)
