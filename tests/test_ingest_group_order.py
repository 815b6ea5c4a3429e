"""Several files stored in one group give their events ingest_seq in file and line order, with more rows than
DuckDB puts in one row group (so the insert runs in parallel parts), whether or not the group holds a rejected
line or a duplicate; and every Parquet file the lake lists for `events` covers one contiguous ingest_seq range,
so a window of ingest_seq reads only the files that hold it."""

from __future__ import annotations

import json
import os

import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader
from tests.conftest import event, ingest_now

LINES_PER_FILE = 70_000
FILE_RANGES_SQL = """
    SELECT f.record_count, s.min_value, s.max_value
    FROM __ducklake_metadata_lake.ducklake_data_file f
    JOIN __ducklake_metadata_lake.ducklake_table t ON t.table_id = f.table_id
    JOIN __ducklake_metadata_lake.ducklake_column c ON c.table_id = f.table_id
    JOIN __ducklake_metadata_lake.ducklake_file_column_stats s
         ON s.data_file_id = f.data_file_id AND s.column_id = c.column_id
    WHERE t.table_name = 'events' AND c.column_name = 'ingest_seq'
      AND f.end_snapshot IS NULL AND c.end_snapshot IS NULL AND t.end_snapshot IS NULL
"""


def land_large_files(paths: Paths, extra_line: str | None) -> list[tuple[str, int]]:
    """Three files of LINES_PER_FILE events, the second with `extra_line` in its middle; the expected
    (event_id, source_line) of each stored event in order."""
    expected: list[tuple[str, int]] = []
    for number in range(3):
        lines = [json.dumps(event(f"f{number}-e{n}")) for n in range(LINES_PER_FILE)]
        if number == 1 and extra_line is not None:
            lines.insert(LINES_PER_FILE // 2, extra_line)
        for line_number, line in enumerate(lines, start=1):
            if line is not extra_line:
                expected.append((json.loads(line)["event_id"], line_number))
        path = paths.landing / f"{number}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.utime(path, ns=(10**18 + number * 10**9,) * 2)
    return expected


@pytest.mark.parametrize("extra_line", [None, "not json", json.dumps(event("f0-e5"))],
                         ids=["clean", "rejected-line", "duplicate"])
def test_events_of_a_large_group_are_stored_in_ingest_seq_order(paths: Paths, extra_line: str | None) -> None:
    expected = land_large_files(paths, extra_line)
    counts = ingest_now(paths)
    assert counts.ingested == len(expected) == 3 * LINES_PER_FILE
    with reader(paths) as connection:
        rows = connection.execute(
            "SELECT ingest_seq, event_id, source_file, source_line FROM events ORDER BY ingest_seq"
        ).fetchall()
        files = connection.execute(FILE_RANGES_SQL).fetchall()
    assert [seq for seq, *_ in rows] == list(range(1, len(expected) + 1))
    assert files and all(int(high) - int(low) + 1 == records for records, low, high in files), files
    assert [(event_id, line) for _, event_id, _, line in rows] == expected
    assert [file for *_, file, _ in rows] == [f"{n}.jsonl" for n in range(3) for _ in range(LINES_PER_FILE)]
