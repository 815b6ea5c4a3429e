"""Files commit in groups: a failure inside a group leaves its files in the landing folder, and the rerun stores
every event exactly once."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage import commit_group, ingest, landing_files
from audit_pipeline.storage.database import reader, writer
from tests.conftest import event, ingest_now, land_records


def land_files(paths: Paths, files: int, per_file: int) -> None:
    for number in range(files):
        path = land_records(paths, [event(f"f{number}-e{n}") for n in range(per_file)], name=f"{number}.jsonl")
        os.utime(path, ns=(10**18 + number * 10**9,) * 2)


def stored_events(paths: Paths) -> list[tuple[object, ...]]:
    with reader(paths) as connection:
        return connection.execute("SELECT event_id, ingest_seq FROM events ORDER BY ingest_seq").fetchall()


def test_a_failure_in_a_group_keeps_its_files_for_the_rerun(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    land_files(paths, files=5, per_file=3)
    monkeypatch.setattr(commit_group, "GROUP_RECORDS", 6)
    real = commit_group.stage_lines
    calls = 0

    def failing_on_the_fourth_file(connection: object, lines: pa.Table, *, first: bool) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise OSError("disk went away")
        real(connection, lines, first=first)  # type: ignore[arg-type]

    monkeypatch.setattr(commit_group, "stage_lines", failing_on_the_fourth_file)
    with pytest.raises(OSError, match="disk went away"):
        ingest_now(paths)
    # Files 0 and 1 made a full group and were committed and archived; 2 and 3 were rolled back with the failure.
    assert sorted(p.name for p in paths.landing.iterdir()) == ["2.jsonl", "3.jsonl", "4.jsonl"]

    monkeypatch.setattr(commit_group, "stage_lines", real)
    counts = ingest_now(paths)
    assert (counts.files, counts.ingested, counts.duplicates) == (3, 9, 0)
    rows = stored_events(paths)
    assert [seq for _, seq in rows] == list(range(1, 16))
    assert [event_id for event_id, _ in rows] == [f"f{f}-e{n}" for f in range(5) for n in range(3)]
    assert list(paths.landing.iterdir()) == []


def test_progress_is_reported_for_each_file_once_its_group_committed(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    land_files(paths, files=4, per_file=2)
    monkeypatch.setattr(commit_group, "GROUP_RECORDS", 4)
    reports: list[tuple[str, int, bool]] = []
    with writer(paths) as connection:
        ingest.ingest_landing(
            connection, paths.landing, paths.archive,
            progress=lambda path, total: reports.append((path.name, total.ingested, path.exists())),
        )
    assert reports == [("0.jsonl", 2, False), ("1.jsonl", 4, False), ("2.jsonl", 6, False), ("3.jsonl", 8, False)]


def test_a_large_file_commits_between_its_chunks_and_is_recorded_once(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing_files, "READ_BLOCK_BYTES", 1000)
    monkeypatch.setattr(landing_files, "CHUNK_BYTES", 2000)
    monkeypatch.setattr(commit_group, "GROUP_RECORDS", 5)
    records = [event(f"e{n}") for n in range(60)] + [event("e7", action="Logout"), event("e8")]
    land_records(paths, records, name="big.jsonl")
    counts = ingest_now(paths)
    assert (counts.records, counts.ingested, counts.duplicates, counts.quarantined) == (62, 60, 1, 1)
    assert [seq for _, seq in stored_events(paths)] == list(range(1, 61))
    with reader(paths) as connection:
        assert connection.execute("SELECT file_name, records, ingested FROM ingested_files").fetchall() == [
            ("big.jsonl", 62, 60)]
        assert connection.execute("SELECT line_number, reason_code FROM quarantine").fetchall() == [
            (61, "conflicting_duplicate")]
