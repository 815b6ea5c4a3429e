"""Ingestion of landing files into the events table: idempotent, set-based, nothing silently dropped.

Per file: skip it when its SHA-256 was ingested before; otherwise validate its lines in DuckDB, insert the
new events with strictly increasing `ingest_seq`, count exact re-sends as duplicates, and quarantine every
other record (invalid ones, and re-used event ids with different content) with its line, raw bytes and
reason. Each chunk commits on its own, so a crash mid-file loses nothing: the rerun re-reads the file and
the already-stored events come back as duplicates.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from audit_pipeline.hashing import file_sha256
from audit_pipeline.storage.landing_files import LandingFile, is_landing_file
from audit_pipeline.storage.validation import staged_records_sql

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
    for path in paths:
        sha256 = file_sha256(path)
        already = connection.execute(
            "SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [sha256]
        ).fetchone()
        if already:
            total.files_skipped += 1
        else:
            counts = _ingest_one_file(connection, path, sha256, batch_id, _display_name(path, landing))
            total.files += 1
            total.add(counts)
        _archive(path, landing, archive, batch_id)
        if progress is not None:
            progress(path, total)
    connection.execute(
        "INSERT INTO ingest_batches VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, started, total.files, total.files_skipped, total.ingested, total.duplicates,
         total.quarantined, total.first_seq, total.last_seq],
    )
    return total


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


def _ingest_one_file(
    connection: duckdb.DuckDBPyConnection, path: Path, sha256: str, batch_id: str, name: str
) -> IngestCounts:
    landing_file = LandingFile(path)
    counts = IngestCounts()
    for lines in landing_file.batches():
        if landing_file.is_json_array:
            counts.add(_ingest_json_array(connection, lines, batch_id, name))
        else:
            counts.add(_ingest_lines(connection, lines, batch_id, name))
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
    connection: duckdb.DuckDBPyConnection, document: pa.Table, batch_id: str, name: str
) -> IngestCounts:
    connection.register("document", document)
    try:
        elements = connection.execute(JSON_ARRAY_ELEMENTS_SQL).fetch_arrow_table()
    except duckdb.Error as error:
        raw = document.column("raw")[0].as_py()
        counts = IngestCounts(records=1, quarantined=1, quarantine_reasons={"malformed_json_array": 1})
        _quarantine_file_problem(
            connection, batch_id, name, "malformed_json_array",
            f"the file starts with '[' but is not a valid JSON array ({str(error).splitlines()[0]}); "
            "the whole file is kept in the archive folder",
            1, raw[:1024 * 1024],
        )
        return counts
    finally:
        connection.unregister("document")
    return _ingest_lines(connection, elements, batch_id, name)


def _quarantine_file_problem(
    connection: duckdb.DuckDBPyConnection, batch_id: str, name: str, code: str, reason: str,
    line_number: int, raw: bytes,
) -> None:
    connection.execute(
        "INSERT INTO quarantine VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, name, line_number, code, reason, raw, len(raw)],
    )


def _ingest_lines(
    connection: duckdb.DuckDBPyConnection, lines: pa.Table, batch_id: str, name: str
) -> IngestCounts:
    connection.register("staged_lines", lines)
    connection.execute("BEGIN")
    try:
        connection.execute(f"CREATE OR REPLACE TEMP TABLE staged_records AS {staged_records_sql()}")
        connection.execute("""
            CREATE OR REPLACE TEMP TABLE staged_classified AS
            WITH ranked AS (
                SELECT *,
                       row_number() OVER (PARTITION BY org_id, event_id ORDER BY line_no) AS nth,
                       first_value(content_hash) OVER (PARTITION BY org_id, event_id ORDER BY line_no)
                           AS first_hash,
                       first_value(line_no) OVER (PARTITION BY org_id, event_id ORDER BY line_no) AS first_line
                FROM staged_records WHERE reason_code IS NULL
            ),
            existing AS (
                SELECT e.org_id, e.event_id, e.content_hash, e.ingest_seq
                FROM events e SEMI JOIN (SELECT DISTINCT org_id, event_id FROM staged_records
                                         WHERE reason_code IS NULL) k
                    ON e.org_id = k.org_id AND e.event_id = k.event_id
            )
            SELECT r.*, x.content_hash AS existing_hash, x.ingest_seq AS existing_seq,
                CASE
                    WHEN x.content_hash IS NULL AND r.nth = 1 THEN 'new'
                    WHEN x.content_hash = r.content_hash THEN 'duplicate'
                    WHEN x.content_hash IS NULL AND r.content_hash = r.first_hash THEN 'duplicate'
                    ELSE 'conflict'
                END AS verdict
            FROM ranked r LEFT JOIN existing x ON x.org_id = r.org_id AND x.event_id = r.event_id
        """)
        seq_row = connection.execute("SELECT coalesce(max(ingest_seq), 0) FROM events").fetchone()
        base_seq = int(seq_row[0]) if seq_row else 0
        connection.execute("""
            INSERT INTO events
            SELECT ? + row_number() OVER (ORDER BY line_no), event_id, org_id, occurred_at, log_type, action,
                   user_id, user_email, user_name, user_role, source_ip, user_agent, outcome,
                   additional_info, now(), content_hash, ?, line_no
            FROM staged_classified WHERE verdict = 'new'
        """, [base_seq, name])
        connection.execute("""
            INSERT INTO quarantine
            SELECT now(), ?, ?, line_no, reason_code, reason, raw, raw_bytes
            FROM staged_records WHERE reason_code IS NOT NULL
            UNION ALL
            SELECT now(), ?, ?, line_no, 'conflicting_duplicate',
                   'event_id ' || event_id || ' of org ' || org_id || ' was already received ' ||
                   CASE WHEN existing_seq IS NOT NULL THEN '(ingest_seq ' || existing_seq || ')'
                        ELSE '(line ' || first_line || ' of this file)' END ||
                   ' with different content; this copy was not stored as an event', raw, raw_bytes
            FROM staged_classified WHERE verdict = 'conflict'
        """, [batch_id, name, batch_id, name])
        counts = _chunk_counts(connection, base_seq)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    finally:
        connection.unregister("staged_lines")
    return counts


def _chunk_counts(connection: duckdb.DuckDBPyConnection, base_seq: int) -> IngestCounts:
    verdicts = dict(connection.execute(
        "SELECT verdict, count(*) FROM staged_classified GROUP BY verdict"
    ).fetchall())
    reasons: dict[str, int] = dict(connection.execute(
        "SELECT reason_code, count(*) FROM staged_records WHERE reason_code IS NOT NULL GROUP BY 1"
    ).fetchall())
    if verdicts.get("conflict"):
        reasons["conflicting_duplicate"] = int(verdicts["conflict"])
    invalid = sum(count for code, count in reasons.items() if code != "conflicting_duplicate")
    ingested = int(verdicts.get("new", 0))
    total_row = connection.execute("SELECT count(*) FROM staged_records").fetchone()
    return IngestCounts(
        records=int(total_row[0]) if total_row else 0,
        ingested=ingested,
        duplicates=int(verdicts.get("duplicate", 0)),
        quarantined=invalid + int(verdicts.get("conflict", 0)),
        first_seq=base_seq + 1 if ingested else None,
        last_seq=base_seq + ingested if ingested else None,
        quarantine_reasons=reasons,
    )
