"""Every view, search and download of audit logs is itself an audit event of the viewer's org."""

from __future__ import annotations

import json
from typing import Any

from audit_pipeline.domain.events import AuditEvent
from tests.conftest import ingest_now
from tests.test_web_dataset import NOW, WebHome, fresh_web_fixture  # noqa: F401 - fixture


def read_records(home: WebHome) -> list[dict[str, Any]]:
    return [json.loads(line) for path in home.read_events() for line in path.read_text().splitlines()]


def test_each_read_leaves_one_valid_audit_event_with_the_viewer_and_filters(fresh_web: WebHome) -> None:
    page = fresh_web.browser_client("alice")
    api = fresh_web.client("alice")
    page.get("/audit-logs", headers={"User-Agent": "Browser/1.0"})
    page.get("/audit-logs", params=[("q", "scan"), ("type", "Scan")])
    api.get("/api/v1/audit-logs/download", params={"format": "csv", "period": "30d"})

    records = read_records(fresh_web)
    assert [r["action"] for r in records] == ["Audit Logs Viewed", "Audit Logs Searched", "Audit Logs Downloaded"]
    for record in records:
        event = AuditEvent.from_input(record)
        assert (event.org_id, event.log_type, event.user_email, event.user_name, event.user_role) == (
            "acme", "Audit", "alice@acme.test", "Alice Adams", "read_write")
        assert event.occurred_at == NOW
    assert records[0]["user_agent"] == "Browser/1.0"
    assert records[1]["additional_info"]["filters"] == {"period": "7d", "search": "scan", "log_types": ["Scan"]}
    assert records[2]["additional_info"]["format"] == "csv"
    assert records[2]["additional_info"]["interface"] == "api"


def test_refused_requests_leave_no_read_event(fresh_web: WebHome) -> None:
    fresh_web.client().get("/api/v1/audit-logs")
    fresh_web.client("rita").get("/api/v1/audit-logs")
    fresh_web.client("alice").get("/api/v1/audit-logs", params={"org": "globex"})
    fresh_web.client("alice").get("/api/v1/audit-logs", params={"since": "not a date"})
    assert fresh_web.read_events() == []


def test_read_events_are_ingested_like_any_other_and_then_shown(fresh_web: WebHome) -> None:
    fresh_web.client("alice").get("/api/v1/audit-logs", params={"q": "login"})
    fresh_web.client("gina").get("/api/v1/audit-logs")
    assert len(fresh_web.read_events()) == 2

    counts = ingest_now(fresh_web.paths)

    assert (counts.ingested, counts.quarantined) == (2, 0)
    assert fresh_web.read_events() == []
    shown = fresh_web.client("alice").get("/api/v1/audit-logs", params={"type": "Audit"}).json()
    assert [(e["action"], e["user_email"], e["additional_info"]["filters"]) for e in shown["events"]] == [
        ("Audit Logs Searched", "alice@acme.test", {"period": "7d", "search": "login"})]


def test_a_read_that_cannot_be_recorded_is_refused(fresh_web: WebHome) -> None:
    target = fresh_web.paths.landing / "audit-reads"
    target.write_text("not a folder")
    response = fresh_web.client("alice").get("/api/v1/audit-logs")
    assert response.status_code == 503
    assert "could not record this read" in response.json()["detail"]
    assert "events" not in response.json()
    page = fresh_web.browser_client("alice").get("/audit-logs")
    assert page.status_code == 503 and "Try again" in page.text
