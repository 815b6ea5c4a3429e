"""Several files in one run: the next file is read while the current one is stored, and nothing may depend on it."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage import landing_files
from audit_pipeline.storage.database import reader
from audit_pipeline.storage.landing_files import LandingFile, read_ahead
from tests.conftest import event, ingest_now, land_records


def stored(paths: Paths, sql: str) -> list[tuple[object, ...]]:
    with reader(paths) as connection:
        return connection.execute(sql).fetchall()


def land_in_order(paths: Paths, files: dict[str, list[dict[str, object]]]) -> None:
    """Land the files so that ingestion takes them in the given order (oldest modification time first)."""
    for age, (name, records) in enumerate(reversed(files.items()), start=1):
        path = land_records(paths, records, name=name)
        os.utime(path, ns=(path.stat().st_mtime_ns - age * 10**9,) * 2)


def test_a_copy_landed_in_the_same_run_is_skipped(paths: Paths) -> None:
    content = "\n".join(json.dumps(event(f"c{n}")) for n in range(5)) + "\n"
    for name in ("first.jsonl", "copy.jsonl", "copy-again.jsonl"):
        (paths.landing / name).write_text(content)
    counts = ingest_now(paths)
    assert (counts.files, counts.files_skipped, counts.ingested, counts.duplicates) == (1, 2, 5, 0)
    assert stored(paths, "SELECT count(*) FROM events") == [(5,)]
    assert list(paths.landing.iterdir()) == []


def test_later_files_of_a_run_are_checked_against_the_earlier_ones(paths: Paths) -> None:
    land_in_order(paths, {
        "1.jsonl": [event("a"), event("b")],
        "2.jsonl": [event("c"), event("a"), event("b", action="Logout")],
        "3.jsonl": [event("d"), event("c")],
    })
    counts = ingest_now(paths)
    assert (counts.files, counts.ingested, counts.duplicates, counts.quarantined) == (3, 4, 2, 1)
    rows = stored(paths, "SELECT ingest_seq, event_id, source_file, source_line FROM events ORDER BY ingest_seq")
    assert rows == [(1, "a", "1.jsonl", 1), (2, "b", "1.jsonl", 2), (3, "c", "2.jsonl", 1), (4, "d", "3.jsonl", 1)]
    assert stored(paths, "SELECT source_file, line_number, reason_code, reason FROM quarantine") == [
        ("2.jsonl", 3, "conflicting_duplicate",
         "event_id b of org acme was already received (ingest_seq 2) with different content; "
         "this copy was not stored as an event"),
    ]


def test_lines_split_into_chunks_keep_their_numbers_and_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(landing_files, "READ_BLOCK_BYTES", 700)
    lines = [json.dumps(event(f"e{n}")).encode() for n in range(50)] + [b"\xff\xfe not utf-8", b"", b"  "]
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    chunks = list(read_ahead(LandingFile(path).batches(chunk_bytes=1000)))
    assert len(chunks) > 3
    numbers = [n for chunk in chunks for n in chunk.column("line_no").to_pylist()]
    raws = [r for chunk in chunks for r in chunk.column("raw").to_pylist()]
    assert numbers == list(range(1, len(lines) + 1))
    assert raws == lines


def test_read_ahead_keeps_order_and_passes_errors_on() -> None:
    def produce() -> Iterator[int]:
        yield from range(5)
        raise ValueError("the sixth item cannot be read")

    seen: list[int] = []
    with pytest.raises(ValueError, match="sixth"):
        for item in read_ahead(produce()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("seed", range(20))
def test_chunks_hold_exactly_the_lines_that_splitting_at_newlines_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    monkeypatch.setattr(landing_files, "READ_BLOCK_BYTES", 37)
    monkeypatch.setattr(landing_files, "CHUNK_BYTES", 100)
    rng = random.Random(seed)
    content = b"{" + bytes(rng.choice(b'ab"\n\r \xff') for _ in range(rng.randint(0, 600)))
    path = tmp_path / "lines.jsonl"
    path.write_bytes(content)
    expected = content.split(b"\n")
    if content.endswith(b"\n"):
        expected.pop()
    tables = list(LandingFile(path).batches())
    assert [raw for table in tables for raw in table.column("raw").to_pylist()] == expected
    assert [n for table in tables for n in table.column("line_no").to_pylist()] == list(range(1, len(expected) + 1))
