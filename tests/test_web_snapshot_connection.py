"""The server reads the lake's newest committed snapshot: a commit is seen by the next request, and a reader
inside a transaction finishes on the snapshot it began with."""

from __future__ import annotations

import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import DatabaseMissingError
from audit_pipeline.web.snapshot_connection import SnapshotReader
from tests.conftest import event, ingest_now, land_records
from tests.test_web_dataset import WebHome, fresh_web_fixture  # noqa: F401 - fixture


def count(reader: SnapshotReader) -> int:
    with reader.cursor() as cursor:
        row = cursor.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_nothing_written_yet_is_reported_as_missing(paths: Paths) -> None:
    with pytest.raises(DatabaseMissingError), SnapshotReader(paths).cursor():
        pass


def test_a_new_commit_is_seen_while_a_reader_of_the_old_snapshot_finishes_on_it(paths: Paths) -> None:
    land_records(paths, [event("a1"), event("a2")], name="first.jsonl")
    ingest_now(paths)
    reader = SnapshotReader(paths)

    with reader.cursor() as old:
        old.execute("BEGIN")
        assert old.execute("SELECT count(*) FROM events").fetchone() == (2,)
        land_records(paths, [event("b1")], name="second.jsonl")
        ingest_now(paths)
        assert count(reader) == 3
        assert old.execute("SELECT count(*) FROM events").fetchone() == (2,)
        old.execute("COMMIT")
    assert count(reader) == 3
    reader.close()


def test_the_api_shows_events_committed_after_it_started(fresh_web: WebHome) -> None:
    client = fresh_web.client("alice")
    logins = {"period": "all", "action": "Login"}
    before = client.get("/api/v1/audit-logs", params=logins).json()["total"]
    land_records(fresh_web.paths, [event("late-1", occurred_at="2026-11-20T12:00:00Z")], name="late.jsonl")
    ingest_now(fresh_web.paths)
    assert client.get("/api/v1/audit-logs", params=logins).json()["total"] == before + 1
