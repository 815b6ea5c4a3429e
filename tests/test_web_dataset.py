"""The events, users and running app that the web tests share, with expected answers computed in Python.

Expected counts here never go through `audit_pipeline.query`: they filter the input records directly, so the
API, the page and the browser are checked against an independent answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from audit_pipeline.access import add_user
from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.web.app import create_app
from tests.conftest import event, ingest_now, land_records

NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
AGES = (timedelta(minutes=10), timedelta(minutes=40), timedelta(hours=3), timedelta(hours=20),
        timedelta(days=2), timedelta(days=6), timedelta(days=12), timedelta(days=29), timedelta(days=45),
        timedelta(days=85), timedelta(days=120))
PEOPLE = (
    {"user_email": "alice@acme.test", "user_name": "Alice Adams", "user_role": "Admin"},
    {"user_email": "bob@acme.test", "user_name": "Bob Brown", "user_role": "Developer"},
    {"user_email": "carol@acme.test", "user_role": "Viewer"},
)
ACTIONS = (("Authentication", "Login"), ("Authentication", "Login Failed"), ("Scan", "Scan Now"),
           ("Scan", "Scan Completed"), ("Notification", "Slack Alert Sent"), ("Ticketing", "Jira Ticket Opened"),
           ("User Management", "Role Changed"))
TRICKY_NOTE = "say \"hi\" 100% of_the <script>alert('x')</script> time'); DROP TABLE events;--"
FORMULA_AGENT = "=HYPERLINK(\"http://evil.test\")"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_records() -> list[dict[str, Any]]:
    """Acme events across every period, a few tricky ones, and one other org's events that acme must not see."""
    records: list[dict[str, Any]] = []
    for i in range(154):
        log_type, action = ACTIONS[i % len(ACTIONS)]
        person = PEOPLE[i % len(PEOPLE)]
        occurred = NOW - AGES[i % len(AGES)] - timedelta(seconds=i)
        info = {"scan_id": f"SCAN-{i:03d}"} if log_type == "Scan" else {}
        fields = {"user_name": None, **person}
        records.append(event(f"acme-{i:03d}", occurred_at=_stamp(occurred), log_type=log_type, action=action,
                             additional_info=info, **fields))
    records.append(event("acme-tricky", occurred_at=_stamp(NOW - timedelta(hours=1)), action="Login",
                         user_email="dan@acme.test", user_name="Dan O'Brien", user_role="Admin",
                         additional_info={"note": TRICKY_NOTE}, user_agent=FORMULA_AGENT))
    records.append(event("acme-system", occurred_at=_stamp(NOW - timedelta(hours=2)), log_type="System",
                         action="Maintenance", user_email=None, user_name=None, user_role=None))
    for i in range(20):
        records.append(event(f"globex-{i:02d}", org_id="globex", occurred_at=_stamp(NOW - timedelta(hours=i)),
                             user_email="gina@globex.test", user_name="Gina Green", action="Login"))
    for record in records:
        record.setdefault("additional_info", {})
    return records


RECORDS = build_records()


def moment(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["occurred_at"].replace("Z", "+00:00"))


def display_user(record: dict[str, Any]) -> str:
    return record.get("user_name") or record.get("user_email") or record.get("user_id") or "System"


def expected(
    *,
    org: str = "acme",
    since: datetime | None = NOW - timedelta(days=7),
    until: datetime | None = None,
    where: Callable[[dict[str, Any]], bool] = lambda r: True,
) -> list[dict[str, Any]]:
    """The input records a view should show, newest first."""
    chosen = [r for r in RECORDS if r["org_id"] == org and (since is None or moment(r) >= since)
              and (until is None or moment(r) < until) and where(r)]
    return sorted(chosen, key=moment, reverse=True)


def expected_ids(**kwargs: Any) -> list[str]:
    return [r["event_id"] for r in expected(**kwargs)]


def counts_by(records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> dict[str, int]:
    return dict(Counter(key(r) for r in records))


@dataclass
class WebHome:
    paths: Paths
    app: FastAPI
    tokens: dict[str, str]

    def client(self, who: str | None = None) -> TestClient:
        """A client that sends `who`'s token as a Bearer header (or nothing)."""
        client = TestClient(self.app)
        if who is not None:
            client.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return client

    def browser_client(self, who: str) -> TestClient:
        """A client signed in through the sign-in form, holding only the session cookie."""
        client = TestClient(self.app)
        response = client.post("/sign-in", data={"token": self.tokens[who], "next": "/audit-logs"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        return client

    def read_events(self) -> list[Path]:
        folder = self.paths.landing / "audit-reads"
        return sorted(folder.iterdir()) if folder.exists() else []


USERS = {
    "alice": ("alice@acme.test", "acme", "read_write", "Alice Adams"),
    "rita": ("rita@acme.test", "acme", "read_only", "Rita Reader"),
    "gina": ("gina@globex.test", "globex", "read_write", "Gina Green"),
}


def add_users(paths: Paths) -> dict[str, str]:
    return {who: add_user(paths, email, org, role, name).token
            for who, (email, org, role, name) in USERS.items()}


def populated_home(paths: Paths) -> WebHome:
    """The records ingested, with the daily rollup and search index built as the pipeline builds them."""
    land_records(paths, RECORDS)
    counts = ingest_now(paths)
    assert counts.ingested == len(RECORDS) and counts.quarantined == 0
    with writer(paths) as connection:
        update_daily_rollup(connection)
    return WebHome(paths, create_app(paths, clock=lambda: NOW), add_users(paths))


@pytest.fixture(scope="module", name="web")
def web_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHome]:
    """One populated home per test module, for tests that only read (their read events are never ingested)."""
    yield populated_home(Paths(tmp_path_factory.mktemp("web") / "home").ensure())


@pytest.fixture(name="fresh_web")
def fresh_web_fixture(paths: Paths) -> Iterator[WebHome]:
    """A populated home of this test's own, for tests that change users or ingest more events."""
    yield populated_home(paths)


def test_the_dataset_covers_every_period_and_filter_the_web_tests_use() -> None:
    acme_all = expected(since=None)
    assert {len(expected(since=NOW - age)) for age in (timedelta(hours=1), timedelta(days=1))} != {0}
    assert len(expected(since=NOW - timedelta(days=90))) < len(acme_all)
    assert {r["log_type"] for r in acme_all} >= {t for t, _ in ACTIONS} | {"System"}
    assert len({display_user(r) for r in acme_all}) == 5
    assert all(r["org_id"] == "acme" for r in acme_all)
