"""`generate_events`: draw, render and write synthetic audit events as NDJSON landing files."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from audit_pipeline.generator.background import background_slots
from audit_pipeline.generator.files import FILE_PATTERN, FileSink, Progress, file_name
from audit_pipeline.generator.kinds import KINDS
from audit_pipeline.generator.planted import planted_slots
from audit_pipeline.generator.population import Population, build_population
from audit_pipeline.generator.render import (
    DETAIL_CODES,
    KIND_FRAGMENTS_SQL,
    LINES_SQL,
    PLANTED_SQL,
    USER_FRAGMENTS_SQL,
)
from audit_pipeline.generator.timing import MICROS_PER_SECOND

ROWS_PER_FILE = 100_000
STREAM_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class GeneratedEvents:
    """What was written: the files in order (with their event counts), the total, the window, and the
    planted event ids by the rule they are meant to trigger."""

    files: list[Path]
    events_per_file: list[int]
    events: int
    start: datetime
    end: datetime
    planted: dict[str, list[str]] = field(default_factory=dict)


def generate_events(
    out_dir: Path,
    *,
    events: int = 10_000,
    orgs: int = 3,
    days: int = 30,
    seed: int = 1,
    end: datetime | None = None,
    progress: Progress | None = None,
) -> GeneratedEvents:
    """Write `events` events of `orgs` orgs over the `days` before `end` (default now) into `out_dir`.

    The same seed and end give byte-identical files. Raises ValueError for a bad argument or a folder that
    already holds generated files.
    """
    _check(events, orgs, days, out_dir, end)
    end = (end or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(days=days)
    rng = np.random.default_rng(seed)
    population = build_population(rng, orgs)
    planted = planted_slots(rng, population, start, end, budget=events // 2)
    background = background_slots(rng, population, events - planted.num_rows,
                                  int(start.timestamp()) * MICROS_PER_SECOND,
                                  int(end.timestamp()) * MICROS_PER_SECOND)
    slots = pa.concat_tables([background, planted])
    slots = slots.append_column("seq", pa.array(np.arange(slots.num_rows, dtype=np.int64)))
    out_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.execute("SET enable_progress_bar = false")
        _load(connection, slots, population)
        sink = _write_files(connection, out_dir, progress)
        planted_ids = {str(rule): list(ids) for rule, ids in connection.execute(PLANTED_SQL).fetchall()}
    return GeneratedEvents(files=sink.files, events_per_file=sink.events_per_file, events=slots.num_rows,
                           start=start, end=end, planted=planted_ids)


def _check(events: int, orgs: int, days: int, out_dir: Path, end: datetime | None) -> None:
    for name, value in (("events", events), ("orgs", orgs), ("days", days)):
        if value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value}")
    if end is not None and end.tzinfo is None:
        raise ValueError("end must carry a UTC offset")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is not a folder")
    existing = sorted(out_dir.glob(FILE_PATTERN)) if out_dir.exists() else []
    if existing:
        raise ValueError(f"{out_dir} already holds {existing[0].name} and {len(existing) - 1} more "
                         "generated file(s); choose an empty folder so they are not overwritten")


def _load(connection: duckdb.DuckDBPyConnection, slots: pa.Table, population: Population) -> None:
    orgs = pa.table({"org_idx": pa.array(np.arange(len(population.org_ids), dtype=np.int32)),
                     "org_id": population.org_ids})
    kinds = pa.table({"kind_idx": pa.array(np.arange(len(KINDS), dtype=np.int16)),
                      "log_type": [k.log_type for k in KINDS], "action": [k.action for k in KINDS],
                      "detail_code": pa.array([DETAIL_CODES[k.detail] for k in KINDS], pa.int32())})
    for name, table in (("slot_rows", slots), ("users", population.users), ("orgs", orgs), ("kinds", kinds)):
        connection.register(name, table)
    connection.execute("""
        CREATE TABLE slots AS
        SELECT *, (row_number() OVER (PARTITION BY org_idx ORDER BY at_us, seq) - 1) // ? AS file_no
        FROM slot_rows
    """, [ROWS_PER_FILE])
    connection.execute(USER_FRAGMENTS_SQL)
    connection.execute(KIND_FRAGMENTS_SQL)


def _write_files(connection: duckdb.DuckDBPyConnection, out_dir: Path, progress: Progress | None) -> FileSink:
    """Render every line in one parallel query and stream the rows, in file order, into their files."""
    chunks = connection.execute("""
        SELECT s.org_idx, s.file_no, o.org_id, count(*) FROM slots s JOIN orgs o USING (org_idx)
        GROUP BY ALL ORDER BY s.org_idx, s.file_no
    """).fetchall()
    names = {(org, file_no): file_name(org_id, file_no) for org, file_no, org_id, _ in chunks}
    sink = FileSink(out_dir, {names[org, file_no]: count for org, file_no, _, count in chunks}, progress)
    try:
        for batch in connection.execute(LINES_SQL).fetch_record_batch(STREAM_BATCH_ROWS):
            orgs, file_nos, lines = (batch.column(i) for i in range(3))
            org_array, file_array = orgs.to_numpy(), file_nos.to_numpy()
            boundaries = np.flatnonzero((np.diff(org_array) != 0) | (np.diff(file_array) != 0)) + 1
            for begin, stop in itertools.pairwise([0, *boundaries.tolist(), len(batch)]):
                sink.write(names[int(org_array[begin]), int(file_array[begin])], lines.slice(begin, stop - begin))
        sink.finish()
    finally:
        sink.abort()
    return sink
