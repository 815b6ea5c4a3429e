"""The event generator: valid, reproducible, realistic records, and planted patterns the rules catch."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit_pipeline.derived import rules
from audit_pipeline.derived.build import build_all
from audit_pipeline.domain.events import AuditEvent
from audit_pipeline.generator import run
from audit_pipeline.generator.run import generate_events
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.database import writer
from tests.conftest import ingest_now

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def read_records(files: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> run.GeneratedEvents:
    return generate_events(tmp_path_factory.mktemp("out"), events=6_000, orgs=3, days=20, seed=11, end=END)


def test_every_record_is_a_valid_event_inside_the_window(generated: run.GeneratedEvents) -> None:
    records = read_records(generated.files)
    assert len(records) == generated.events == 6_000
    assert sum(generated.events_per_file) == 6_000
    events = [AuditEvent.from_input(record) for record in records]
    assert all(END - timedelta(days=20) <= e.occurred_at <= END for e in events)
    assert len({(e.org_id, e.event_id) for e in events}) == len(events)
    assert {e.org_id for e in events} == {"acme", "globex", "initech"}
    assert all(path.name.startswith("events-") and path.suffix == ".jsonl" for path in generated.files)


def test_records_look_like_real_activity(generated: run.GeneratedEvents) -> None:
    records = read_records(generated.files)
    events = [AuditEvent.from_input(record) for record in records]
    camel = [r for r in records if "logName" in r]
    assert 0.2 < len(camel) / len(records) < 0.4
    assert any("scanId" in r for r in camel) and any("memberRoles" in r for r in camel)
    actions = Counter(e.action for e in events)
    for action in ("Login", "Login Failed", "MFA Challenge", "Scan Now", "Scan Completed", "Scan Failed",
                   "Slack Alert Sent", "Jira Ticket Opened", "Role Changed", "Policy Updated", "Audit Log Export"):
        assert actions[action] > 0, action
    assert 0.03 < actions["Login Failed"] / (actions["Login"] + actions["Login Failed"]) < 0.15
    users = {(e.org_id, e.user_email) for e in events if e.user_email}
    assert 200 <= len(users) <= 320
    roles = Counter(e.user_role for e in events if e.user_role)
    assert {"Admin", "Security Lead", "Developer", "Member", "Viewer"} <= set(roles)
    starts = {e.additional_info["scan_id"]: e.occurred_at for e in events if e.action in ("Scan Now", "Scan Scheduled")}
    for e in events:
        if e.action in ("Scan Completed", "Scan Failed"):
            assert starts[e.additional_info["scan_id"]] <= e.occurred_at


def test_each_file_is_in_time_order(generated: run.GeneratedEvents) -> None:
    for path in generated.files:
        times = [AuditEvent.from_input(r).occurred_at for r in read_records([path])]
        assert times == sorted(times), path.name


def test_the_same_seed_and_end_give_identical_files(tmp_path: Path) -> None:
    first = generate_events(tmp_path / "a", events=2_000, seed=5, end=END)
    second = generate_events(tmp_path / "b", events=2_000, seed=5, end=END)
    other = generate_events(tmp_path / "c", events=2_000, seed=6, end=END)
    assert [p.name for p in first.files] == [p.name for p in second.files]
    assert [p.read_bytes() for p in first.files] == [p.read_bytes() for p in second.files]
    assert [p.read_bytes() for p in first.files] != [p.read_bytes() for p in other.files]
    assert first.planted == second.planted


@pytest.mark.parametrize("count", [1, 2, 3, 41, 1_001])
def test_exactly_the_requested_number_of_events(tmp_path: Path, count: int) -> None:
    generated = generate_events(tmp_path, events=count, orgs=2, seed=count, end=END)
    assert len(read_records(generated.files)) == count == generated.events


def test_large_outputs_are_split_into_files_that_continue_in_time(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "ROWS_PER_FILE", 700)
    messages: list[str] = []
    generated = generate_events(tmp_path, events=3_000, orgs=1, seed=3, end=END, progress=messages.append)
    assert [p.name for p in generated.files] == [f"events-acme-00{i}.jsonl" for i in range(1, 6)]
    assert generated.events_per_file == [700, 700, 700, 700, 200]
    times = [AuditEvent.from_input(r).occurred_at for r in read_records(generated.files)]
    assert times == sorted(times)
    assert len(messages) == 5 and messages[-1].startswith("wrote events-acme-005.jsonl: 200 events")
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("arguments, message", [
    ({"events": 0}, "events must be a positive number"),
    ({"orgs": -2}, "orgs must be a positive number"),
    ({"days": 0}, "days must be a positive number"),
    ({"end": datetime(2026, 11, 20)}, "end must carry a UTC offset"),
])
def test_bad_arguments_are_refused(tmp_path: Path, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate_events(tmp_path, **arguments)
    assert not list(tmp_path.iterdir())


def test_a_folder_with_generated_files_is_not_overwritten(tmp_path: Path) -> None:
    generate_events(tmp_path, events=50, end=END)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="already holds events-"):
        generate_events(tmp_path, events=80, seed=9, end=END)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_after_ingestion_every_rule_fires_on_its_planted_pattern(paths: Paths) -> None:
    generated = generate_events(paths.landing, events=8_000, orgs=3, days=14, seed=21, end=END)
    counts = ingest_now(paths)
    assert (counts.ingested, counts.quarantined, counts.duplicates) == (8_000, 0, 0)
    with writer(paths) as connection:
        build_all(connection)
    with database.open_reader(paths) as connection:
        found: dict[str, set[str]] = {
            rule: set(ids) for rule, ids in connection.execute(
                "SELECT rule, flatten(list(event_ids)) FROM suspicious_activity GROUP BY rule"
            ).fetchall()
        }
        per_org = dict(connection.execute(
            "SELECT rule, count(DISTINCT org_id) FROM suspicious_activity GROUP BY rule").fetchall())
    assert set(generated.planted) == set(rules.RULES)
    for rule, planted in generated.planted.items():
        assert set(planted) <= found[rule], rule
        assert per_org[rule] == 3, rule
    # Background activity stays below every threshold: only the planted events are findings (the one
    # exception is the audit export rule, which also reports ordinary reconfigurations as low).
    for rule in set(rules.RULES) - {rules.AUDIT_EXPORT_CHANGED}:
        assert found[rule] == set(generated.planted[rule]), rule


def test_a_window_without_a_full_weekday_plants_nothing(tmp_path: Path) -> None:
    saturday_evening = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
    generated = generate_events(tmp_path, events=500, days=1, end=saturday_evening)
    assert generated.planted == {}
    assert len(read_records(generated.files)) == 500
