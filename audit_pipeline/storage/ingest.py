"""Ingestion of landing files into the events table: idempotent, set-based, nothing silently dropped.

Per file: skip it when its SHA-256 was ingested before; otherwise validate its lines in DuckDB, insert the
new events with strictly increasing `ingest_seq`, count exact re-sends as duplicates, and quarantine every
other record (invalid ones, and re-used event ids with different content) with its line, raw bytes and
reason. Files commit together in groups of about `GROUP_RECORDS` records (DuckDB then writes full row groups
straight to the file instead of logging every small commit and checkpointing it), and a file is archived only
after its group committed, so a crash loses nothing: the rerun re-reads the files still in the landing folder,
and events a committed chunk of an unfinished file already stored come back as duplicates.
"""

from __future__ import annotations

import copy
import itertools
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from audit_pipeline.hashing import file_sha256
from audit_pipeline.storage.landing_files import LandingFile, is_landing_file, read_ahead
from audit_pipeline.storage.validation import staged_records_sql

GROUP_RECORDS = 500_000

JSON_ARRAY_ELEMENTS_SQL = """
    SELECT idx AS line_no, encode(elem::VARCHAR) AS raw
    FROM (SELECT unnest(range(1, json_array_length(doc)::BIGINT + 1)) AS idx,
                 unnest(json_extract(doc, '$[*]')) AS elem
          FROM (SELECT decode(raw)::JSON AS doc FROM document))
"""


@dataclass
class IngestCounts:
    """What one ingestion run did; ingested + duplicates + quarantined = records read."""

    files: int = 0
    files_skipped: int = 0
    records: int = 0
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        self.records += other.records
        self.ingested += other.ingested
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        if other.first_seq is not None and self.first_seq is None:
            self.first_seq = other.first_seq
        if other.last_seq is not None:
            self.last_seq = other.last_seq
        for code, count in other.quarantine_reasons.items():
            self.quarantine_reasons[code] = self.quarantine_reasons.get(code, 0) + count

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


ProgressCallback = Callable[[Path, IngestCounts], None]


def pending_landing_files(landing: Path) -> list[Path]:
    """Landing files waiting for ingestion, oldest first (name order breaks ties)."""
    if not landing.exists():
        return []
    files = [p for p in landing.rglob("*") if p.is_file() and is_landing_file(p)]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def ingest_landing(
    connection: duckdb.DuckDBPyConnection,
    landing: Path,
    archive: Path,
    *,
    progress: ProgressCallback | None = None,
) -> IngestCounts:
    """Ingest every pending landing file, then move each to the archive folder."""
    return ingest_files(connection, pending_landing_files(landing), landing, archive, progress=progress)


def ingest_files(
    connection: duckdb.DuckDBPyConnection,
    paths: Iterable[Path],
    landing: Path,
    archive: Path,
    *,
    progress: ProgressCallback | None = None,
) -> IngestCounts:
    batch_id = uuid.uuid4().hex
    started = datetime.now(UTC)
    total = IngestCounts()
    group = _CommitGroup(connection)
    try:
        # Reading, hashing and splitting the next file overlaps with DuckDB working on the current one.
        for opened in read_ahead(map(_open, paths)):
            path = opened.path
            group.begin()
            already = connection.execute(
                "SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [opened.sha256]
            ).fetchone()
            if already:
                total.files_skipped += 1
            else:
                counts = _ingest_one_file(connection, group, opened, batch_id, _display_name(path, landing))
                total.files += 1
                total.add(counts)
            group.after_commit(_archive_and_report(path, landing, archive, batch_id, progress, total))
            group.commit_if_full()
        group.commit()
    except BaseException:
        group.rollback()
        raise
    connection.execute(
        "INSERT INTO ingest_batches VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, started, total.files, total.files_skipped, total.ingested, total.duplicates,
         total.quarantined, total.first_seq, total.last_seq],
    )
    return total


class _CommitGroup:
    """One transaction over several files, committed once it holds about `GROUP_RECORDS` records; the actions
    that must wait for the commit (archiving a file, reporting progress) run right after it."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection
        self.is_open = False
        self.records = 0
        self.pending: list[Callable[[], None]] = []

    def begin(self) -> None:
        if not self.is_open:
            self.connection.execute("BEGIN")
            self.is_open = True

    def added(self, records: int) -> None:
        self.records += records

    def after_commit(self, action: Callable[[], None]) -> None:
        self.pending.append(action)

    def commit_if_full(self) -> None:
        if self.records >= GROUP_RECORDS:
            self.commit()

    def commit(self) -> None:
        if self.is_open:
            self.connection.execute("COMMIT")
            self.is_open = False
        self.records = 0
        actions, self.pending = self.pending, []
        for action in actions:
            action()

    def rollback(self) -> None:
        self.pending = []
        if self.is_open:
            self.is_open = False
            self.connection.execute("ROLLBACK")


def _archive_and_report(
    path: Path, landing: Path, archive: Path, batch_id: str, progress: ProgressCallback | None,
    total: IngestCounts,
) -> Callable[[], None]:
    snapshot = copy.deepcopy(total)

    def run() -> None:
        _archive(path, landing, archive, batch_id)
        if progress is not None:
            progress(path, snapshot)

    return run


def _display_name(path: Path, landing: Path) -> str:
    try:
        return str(path.relative_to(landing))
    except ValueError:
        return str(path)


def _archive(path: Path, landing: Path, archive: Path, batch_id: str) -> None:
    try:
        relative = path.relative_to(landing)
    except ValueError:
        return
    target = archive / datetime.now(UTC).strftime("%Y-%m-%d") / batch_id / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)


@dataclass
class _OpenedFile:
    """A landing file with its SHA-256 and its first chunk of lines already read."""

    path: Path
    sha256: str
    landing_file: LandingFile
    chunks: Iterator[pa.Table]


def _open(path: Path) -> _OpenedFile:
    landing_file = LandingFile(path)
    batches = landing_file.batches()
    first = next(batches, None)
    chunks = itertools.chain([] if first is None else [first], batches)
    return _OpenedFile(path, file_sha256(path), landing_file, chunks)


def _ingest_one_file(
    connection: duckdb.DuckDBPyConnection, group: _CommitGroup, opened: _OpenedFile, batch_id: str, name: str
) -> IngestCounts:
    path, sha256, landing_file = opened.path, opened.sha256, opened.landing_file
    counts = IngestCounts()
    for index, lines in enumerate(read_ahead(opened.chunks)):
        if index:
            # A large file may commit between its chunks; the file itself is recorded with its last chunk.
            group.commit_if_full()
            group.begin()
        if landing_file.is_json_array:
            chunk = _ingest_json_array(connection, group, lines, batch_id, name)
        else:
            chunk = _ingest_lines(connection, lines, batch_id, name)
        counts.add(chunk)
        group.added(chunk.records)
    for problem in landing_file.problems:
        _quarantine_file_problem(connection, batch_id, name, problem.reason_code, problem.reason,
                                 problem.line_number, problem.raw)
        counts.quarantined += 1
        counts.quarantine_reasons[problem.reason_code] = counts.quarantine_reasons.get(problem.reason_code, 0) + 1
    connection.execute(
        "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [sha256, name, path.stat().st_size, counts.records, counts.ingested, counts.duplicates,
         counts.quarantined, batch_id],
    )
    return counts


def _ingest_json_array(
    connection: duckdb.DuckDBPyConnection, group: _CommitGroup, document: pa.Table, batch_id: str, name: str
) -> IngestCounts:
    # A failed statement would abort the open transaction: the group commits first, the document is parsed
    # outside any transaction, and a new group begins for what follows.
    group.commit()
    connection.register("document", document)
    try:
        elements = connection.execute(JSON_ARRAY_ELEMENTS_SQL).fetch_arrow_table()
    except duckdb.Error as error:
        raw = document.column("raw")[0].as_py()
        counts = IngestCounts(records=1, quarantined=1, quarantine_reasons={"malformed_json_array": 1})
        group.begin()
        _quarantine_file_problem(
            connection, batch_id, name, "malformed_json_array",
            f"the file starts with '[' but is not a valid JSON array ({str(error).splitlines()[0]}); "
            "the whole file is kept in the archive folder",
            1, raw[:1024 * 1024],
        )
        return counts
    finally:
        connection.unregister("document")
    group.begin()
    return _ingest_lines(connection, elements, batch_id, name)


def _quarantine_file_problem(
    connection: duckdb.DuckDBPyConnection, batch_id: str, name: str, code: str, reason: str,
    line_number: int, raw: bytes,
) -> None:
    connection.execute(
        "INSERT INTO quarantine VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, name, line_number, code, reason, raw, len(raw)],
    )


# Kept per chunk: the validated records; `raw` only for rejected lines (a conflict's raw comes from the lines).
STAGE_RECORDS_SQL = f"""
    CREATE OR REPLACE TEMP TABLE staged_records AS
    SELECT * REPLACE (CASE WHEN reason_code IS NOT NULL THEN raw END AS raw)
    FROM ({staged_records_sql()})
"""

# One row per (org_id, event_id) of the chunk's valid records: its first line and that line's hash, the stored
# event with the same key if any, and for a key seen for the first time the ingest_seq its first line gets.
# Narrow on purpose: the wide records never pass through a window or a sort.
STAGE_KEYS_SQL = """
    CREATE OR REPLACE TEMP TABLE staged_keys AS
    WITH keyed AS (
        SELECT org_id, event_id, min(line_no) AS first_line, arg_min(content_hash, line_no) AS first_hash,
               count(*) AS copies
        FROM staged_records WHERE reason_code IS NULL
        GROUP BY org_id, event_id
    ),
    existing AS (
        SELECT e.org_id, e.event_id, e.content_hash, e.ingest_seq
        FROM events e SEMI JOIN keyed k ON e.org_id = k.org_id AND e.event_id = k.event_id
    )
    SELECT k.*, x.content_hash AS existing_hash, x.ingest_seq AS existing_seq,
           CASE WHEN x.content_hash IS NULL
                THEN ? + row_number() OVER (PARTITION BY x.content_hash IS NULL ORDER BY k.first_line)
           END AS new_seq
    FROM keyed k LEFT JOIN existing x ON x.org_id = k.org_id AND x.event_id = k.event_id
"""

# A new event is the first line of a key nobody stored before.
INSERT_NEW_EVENTS_SQL = """
    INSERT INTO events
    SELECT k.new_seq, r.event_id, r.org_id, r.occurred_at, r.log_type, r.action, r.user_id, r.user_email,
           r.user_name, r.user_role, r.source_ip, r.user_agent, r.outcome, r.additional_info, now(),
           r.content_hash, ?, r.line_no
    FROM staged_records r JOIN staged_keys k ON r.line_no = k.first_line
    WHERE k.new_seq IS NOT NULL
"""

# Any other valid line is an exact re-send (a duplicate) when its hash equals the stored event's, or, for a
# key not stored before, the hash of the key's first line in this chunk; otherwise it is a conflict.
# Only keys seen twice in the chunk or stored before can have such lines: usually none, and then the join has
# nothing to build and reads no record.
STAGE_CONFLICTS_SQL = """
    CREATE OR REPLACE TEMP TABLE staged_conflicts AS
    WITH repeated AS (SELECT * FROM staged_keys WHERE copies > 1 OR existing_hash IS NOT NULL)
    SELECT r.line_no, r.org_id, r.event_id, k.existing_seq, k.first_line
    FROM staged_records r JOIN repeated k ON r.org_id = k.org_id AND r.event_id = k.event_id
    WHERE r.reason_code IS NULL AND r.content_hash <> coalesce(k.existing_hash, k.first_hash)
"""

QUARANTINE_REJECTED_SQL = """
    INSERT INTO quarantine
    SELECT now(), ?, ?, line_no, reason_code, reason, raw, raw_bytes
    FROM staged_records WHERE reason_code IS NOT NULL
    UNION ALL
    SELECT now(), ?, ?, c.line_no, 'conflicting_duplicate',
           'event_id ' || c.event_id || ' of org ' || c.org_id || ' was already received ' ||
           CASE WHEN c.existing_seq IS NOT NULL THEN '(ingest_seq ' || c.existing_seq || ')'
                ELSE '(line ' || c.first_line || ' of this file)' END ||
           ' with different content; this copy was not stored as an event', l.raw, octet_length(l.raw)
    FROM staged_conflicts c JOIN staged_lines l ON l.line_no = c.line_no
"""


def _ingest_lines(
    connection: duckdb.DuckDBPyConnection, lines: pa.Table, batch_id: str, name: str
) -> IngestCounts:
    """Store one chunk of lines inside the caller's open transaction."""
    connection.register("staged_lines", lines)
    try:
        connection.execute(STAGE_RECORDS_SQL)
        seq_row = connection.execute("SELECT coalesce(max(ingest_seq), 0) FROM events").fetchone()
        base_seq = int(seq_row[0]) if seq_row else 0
        connection.execute(STAGE_KEYS_SQL, [base_seq])
        connection.execute(INSERT_NEW_EVENTS_SQL, [name])
        connection.execute(STAGE_CONFLICTS_SQL)
        connection.execute(QUARANTINE_REJECTED_SQL, [batch_id, name, batch_id, name])
        counts = _chunk_counts(connection, base_seq)
    finally:
        connection.unregister("staged_lines")
    return counts


def _chunk_counts(connection: duckdb.DuckDBPyConnection, base_seq: int) -> IngestCounts:
    totals = connection.execute("""
        SELECT (SELECT count(*) FROM staged_records),
               (SELECT count(*) FROM staged_records WHERE reason_code IS NULL),
               (SELECT count(new_seq) FROM staged_keys),
               (SELECT count(*) FROM staged_conflicts)
    """).fetchone()
    records, valid, ingested, conflicts = (int(value) for value in totals) if totals else (0, 0, 0, 0)
    reasons: dict[str, int] = dict(connection.execute(
        "SELECT reason_code, count(*) FROM staged_records WHERE reason_code IS NOT NULL GROUP BY 1"
    ).fetchall())
    if conflicts:
        reasons["conflicting_duplicate"] = conflicts
    return IngestCounts(
        records=records,
        ingested=ingested,
        duplicates=valid - ingested - conflicts,
        quarantined=records - valid + conflicts,
        first_seq=base_seq + 1 if ingested else None,
        last_seq=base_seq + ingested if ingested else None,
        quarantine_reasons=reasons,
    )
