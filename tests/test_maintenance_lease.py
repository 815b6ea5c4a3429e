"""Maintenance and writers that overlap it: an ingestion group whose transaction is open while maintenance
flushes and merges must still see every stored event when it looks for duplicates, and a writer that starts
while maintenance holds the lease waits for it instead of reading a lake in the middle of compaction."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage import commit_group, database, maintenance
from audit_pipeline.storage.ingest import ingest_landing
from tests.conftest import event, ingest_now, land_records
from tests.postgres_server import postgres_catalog, postgres_server  # noqa: F401 - fixtures

BATCHES = 6
PER_BATCH = 150


def _history(paths: Paths) -> list[str]:
    """Several small commits: many small files for the merge and inlined rows for the flush."""
    ids = []
    for batch in range(BATCHES):
        records = [event(f"old-{batch}-{n}", occurred_at=f"2026-11-{10 + batch // 3:02d}T10:00:00Z")
                   for n in range(PER_BATCH if batch % 2 == 0 else 30)]
        ids += [r["event_id"] for r in records]
        land_records(paths, records, name=f"history-{batch}.jsonl")
        ingest_now(paths)
    return ids


def _stored_ids(paths: Paths) -> list[str]:
    with database.reader(paths) as connection:
        return [row[0] for row in connection.execute("SELECT event_id FROM events").fetchall()]


@pytest.fixture(params=("sqlite", "postgres"))
def lake_paths(request: pytest.FixtureRequest, paths: Paths) -> Paths:
    if request.param == "postgres":
        request.getfixturevalue("postgres_catalog")
    return paths


def test_an_ingestion_open_across_maintenance_still_finds_every_duplicate(
    lake_paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = lake_paths
    history = _history(paths)
    resent = [event(i, occurred_at=f"2026-11-{10 + int(i.split('-')[1]) // 3:02d}T10:00:00Z") for i in history]
    landing = tmp_path / "late"
    landing.mkdir()
    records = resent + [event(f"new-{n}") for n in range(40)]
    (landing / "late.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    in_transaction = threading.Event()
    maintained = threading.Event()
    real_store = commit_group.store_staged
    attempts = 0

    def store_after_maintenance(*args: Any, **kwargs: Any) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            in_transaction.set()  # the group's transaction has begun and read the lake
            assert maintained.wait(120)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(commit_group, "store_staged", store_after_maintenance)
    outcome: dict[str, Any] = {}

    def writer() -> None:
        try:
            with database.writer(paths) as connection:
                outcome["counts"] = ingest_landing(connection, landing, tmp_path / "late-archive")
        except BaseException as error:
            outcome["error"] = error
            in_transaction.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert in_transaction.wait(120)
        report = maintenance.maintain(paths, now=datetime.now(UTC))
    finally:
        maintained.set()
        thread.join(120)
    assert "error" not in outcome, outcome
    # Maintenance really changed the files under the open transaction.
    assert report.events_files_after < report.events_files_before, report
    counts = outcome["counts"]
    assert (counts.ingested, counts.duplicates, counts.quarantined) == (40, len(history), 0)
    assert attempts >= 2, "the group that was open across maintenance runs again"
    stored = _stored_ids(paths)
    assert len(stored) == len(set(stored)) == len(history) + 40


def test_a_writer_waits_while_maintenance_holds_the_lease(paths: Paths) -> None:
    land_records(paths, [event("a")])
    ingest_now(paths)
    until = datetime.now(UTC) + timedelta(seconds=2)
    with database.writer(paths) as connection:
        connection.execute("UPDATE lake_lease SET holder = 'maintenance', held_until = ?", [until])
    land_records(paths, [event("b")], name="b.jsonl")
    started = datetime.now(UTC)
    counts = ingest_now(paths)
    assert counts.ingested == 1
    assert datetime.now(UTC) >= until > started
    with pytest.raises(database.MaintenanceInProgressError), database.writer(paths) as connection:
        connection.execute("UPDATE lake_lease SET held_until = ?", [datetime.now(UTC) + timedelta(hours=1)])
        database.begin_guarded(connection)
