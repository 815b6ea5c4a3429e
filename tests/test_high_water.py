"""The newest ingest_seq kept in `ingest_sequence` equals the maximum over all events after every run."""

from __future__ import annotations

from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.storage.high_water import newest_ingest_seq
from tests.conftest import event, ingest_now, land_records


def _maximum(paths: Paths) -> int:
    with writer(paths) as connection:
        row = connection.execute("SELECT coalesce(max(ingest_seq), 0) FROM events").fetchone()
    return int(row[0]) if row else 0


def _newest(paths: Paths) -> int:
    with writer(paths) as connection:
        return newest_ingest_seq(connection)


def test_an_empty_database_has_no_newest_seq(paths: Paths) -> None:
    assert _newest(paths) == 0


def test_it_follows_every_ingestion_run(paths: Paths) -> None:
    for run in range(3):
        land_records(paths, [event(f"e{run}-{n}") for n in range(5 + run)], f"run-{run}.jsonl")
        ingest_now(paths)
        assert _newest(paths) == _maximum(paths) == sum(5 + r for r in range(run + 1))
    land_records(paths, [event("e0-0")], "again.jsonl")  # only a duplicate: the run records no new seq
    ingest_now(paths)
    assert _newest(paths) == _maximum(paths) == 18
