"""The set-based statements of ingestion: validate staged lines, find duplicates and conflicts, insert the new
events with their ingest_seq, quarantine the rest, and count what happened per file.

Lines of a whole commit group are staged into TEMP tables; one duplicate check and one insert then cover the
group. A new key's ingest_seq continues `ingest_sequence`, which the same transaction moves forward.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from audit_pipeline.storage.ingest_counts import IngestCounts
from audit_pipeline.storage.schema import EVENT_COLUMNS, QUARANTINE_COLUMNS
from audit_pipeline.storage.validation import staged_records_sql

# Lines of several files are validated into one table: a staged line_no is the file's number in the run shifted
# left by FILE_NUMBER_SHIFT bits plus the line's number in its file, so its order is file order, then line order.
FILE_NUMBER_SHIFT = 36
LINE_NUMBER_MASK = (1 << FILE_NUMBER_SHIFT) - 1

JSON_ARRAY_ELEMENTS_SQL = """
    SELECT ? + idx AS line_no, encode(elem::VARCHAR) AS raw
    FROM (SELECT unnest(range(1, json_array_length(doc)::BIGINT + 1)) AS idx,
                 unnest(json_extract(doc, '$[*]')) AS elem
          FROM (SELECT decode(raw)::JSON AS doc FROM document))
"""

# Kept per group: the validated records; `raw` only for rejected lines (a conflict's raw comes from the lines).
VALIDATED_LINES_SQL = f"""
    SELECT * REPLACE (CASE WHEN reason_code IS NOT NULL THEN raw END AS raw)
    FROM ({staged_records_sql()})
"""
STAGE_RECORDS_SQL = f"CREATE OR REPLACE TEMP TABLE staged_records AS {VALIDATED_LINES_SQL}"
APPEND_RECORDS_SQL = f"INSERT INTO staged_records {VALIDATED_LINES_SQL}"

# One row per (org_id, event_id) of the group's valid records: its first line and that line's hash, the stored
# event with the same key if any, and for a key seen for the first time the ingest_seq its first line gets:
# first as if every line of the group were a new event (its file's offset plus its line number, see
# `_line_offsets`; parameters: the offsets, then the group's first file number), which needs no window. When
# that does not hold, RANK_NEW_KEYS_SQL numbers the new keys in line order instead.
# Narrow on purpose: the wide records never pass through a window or a sort.
STAGE_KEYS_SQL = f"""
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
                THEN list_extract(?::BIGINT[], (k.first_line >> {FILE_NUMBER_SHIFT}) - ? + 1)
                     + (k.first_line & {LINE_NUMBER_MASK})
           END AS new_seq
    FROM keyed k LEFT JOIN existing x ON x.org_id = k.org_id AND x.event_id = k.event_id
"""

RANK_NEW_KEYS_SQL = """
    CREATE OR REPLACE TEMP TABLE staged_keys AS
    SELECT * REPLACE (
        CASE WHEN existing_hash IS NULL
             THEN ? + row_number() OVER (PARTITION BY existing_hash IS NULL ORDER BY first_line)
        END AS new_seq)
    FROM staged_keys
"""

# The name of a staged line's file, from the list of the group's file names (parameters: the list, then the
# number of its first file).
_FILE_NAME = f"list_extract(?::VARCHAR[], (line_no >> {FILE_NUMBER_SHIFT}) - ? + 1)"
_LINE_NUMBER = f"(line_no & {LINE_NUMBER_MASK})"

# A new event is the first line of a key nobody stored before. Rows must reach the table in ingest_seq order,
# and DuckDB keeps the order of a join's output only within each of its parallel parts: hence the ORDER BY.
INSERT_NEW_EVENTS_SQL = f"""
    INSERT INTO events ({', '.join(EVENT_COLUMNS)})
    SELECT k.new_seq, r.event_id, r.org_id, r.occurred_at, r.log_type, r.action, r.user_id, r.user_email,
           r.user_name, r.user_role, r.source_ip, r.user_agent, r.outcome, r.additional_info, now(),
           r.content_hash, {_FILE_NAME.replace("line_no", "r.line_no")}, {_LINE_NUMBER.replace("line_no", "r.line_no")}
    FROM staged_records r JOIN staged_keys k ON r.line_no = k.first_line
    WHERE k.new_seq IS NOT NULL
    ORDER BY k.new_seq
"""

# The common case: every staged line is a valid record of a new key, so a line's ingest_seq is its position in
# the group after the already stored events: the offset of its file (parameter: one per file number of the
# group, then the group's first file number) plus its line number. Reading one table in order, DuckDB
# inserts in order and compresses the row groups in parallel, with no join and no sort.
INSERT_CLEAN_EVENTS_SQL = f"""
    INSERT INTO events ({', '.join(EVENT_COLUMNS)})
    SELECT list_extract(?::BIGINT[], (line_no >> {FILE_NUMBER_SHIFT}) - ? + 1) + {_LINE_NUMBER},
           event_id, org_id, occurred_at, log_type, action, user_id, user_email, user_name, user_role, source_ip,
           user_agent, outcome, additional_info, now(), content_hash, {_FILE_NAME}, {_LINE_NUMBER}
    FROM staged_records
"""

# Any other valid line is an exact re-send (a duplicate) when its hash equals the stored event's, or, for a
# key not stored before, the hash of the key's first line in this group; otherwise it is a conflict.
# Only keys seen twice in the group or stored before can have such lines: usually none, and then the join has
# nothing to build and reads no record.
STAGE_CONFLICTS_SQL = """
    CREATE OR REPLACE TEMP TABLE staged_conflicts AS
    WITH repeated AS (SELECT * FROM staged_keys WHERE copies > 1 OR existing_hash IS NOT NULL)
    SELECT r.line_no, r.org_id, r.event_id, k.existing_seq, k.first_line, k.new_seq
    FROM staged_records r JOIN repeated k ON r.org_id = k.org_id AND r.event_id = k.event_id
    WHERE r.reason_code IS NULL AND r.content_hash <> coalesce(k.existing_hash, k.first_hash)
"""

# A conflict's first copy is named by its ingest_seq when it was stored before or came from an earlier file
# of the group, by its line when it is in the same file.
QUARANTINE_REJECTED_SQL = f"""
    INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)})
    SELECT now(), ?, {_FILE_NAME}, {_LINE_NUMBER}, reason_code, reason, raw, raw_bytes
    FROM staged_records WHERE reason_code IS NOT NULL
    UNION ALL
    SELECT now(), ?, {_FILE_NAME.replace("line_no", "c.line_no")}, {_LINE_NUMBER.replace("line_no", "c.line_no")},
           'conflicting_duplicate',
           'event_id ' || c.event_id || ' of org ' || c.org_id || ' was already received ' ||
           CASE WHEN c.existing_seq IS NOT NULL THEN '(ingest_seq ' || c.existing_seq || ')'
                WHEN c.first_line >> {FILE_NUMBER_SHIFT} <> c.line_no >> {FILE_NUMBER_SHIFT}
                THEN '(ingest_seq ' || c.new_seq || ')'
                ELSE '(line ' || (c.first_line & {LINE_NUMBER_MASK}) || ' of this file)' END ||
           ' with different content; this copy was not stored as an event', l.raw, octet_length(l.raw)
    FROM staged_conflicts c JOIN staged_lines l ON l.line_no = c.line_no
"""

# Per file of the group: records, valid records, new events and their first and last ingest_seq, conflicts.
FILE_COUNTS_SQL = f"""
    WITH records AS (
        SELECT line_no >> {FILE_NUMBER_SHIFT} AS file, count(*) AS records,
               count(*) FILTER (WHERE reason_code IS NULL) AS valid
        FROM staged_records GROUP BY ALL
    ),
    ingested AS (
        SELECT first_line >> {FILE_NUMBER_SHIFT} AS file, count(*) AS ingested, min(new_seq) AS first_seq,
               max(new_seq) AS last_seq
        FROM staged_keys WHERE new_seq IS NOT NULL GROUP BY ALL
    ),
    conflicts AS (
        SELECT line_no >> {FILE_NUMBER_SHIFT} AS file, count(*) AS conflicts FROM staged_conflicts GROUP BY ALL
    )
    SELECT r.file, r.records, r.valid, coalesce(i.ingested, 0), i.first_seq, i.last_seq,
           coalesce(c.conflicts, 0)
    FROM records r LEFT JOIN ingested i USING (file) LEFT JOIN conflicts c USING (file)
"""

FILE_REASONS_SQL = f"""
    SELECT line_no >> {FILE_NUMBER_SHIFT}, reason_code, count(*)
    FROM staged_records WHERE reason_code IS NOT NULL GROUP BY ALL
"""


def stage_lines(connection: duckdb.DuckDBPyConnection, lines: pa.Table, *, first: bool) -> None:
    """Validate one chunk of lines into the group's `staged_records` (a new table for the group's first)."""
    connection.register("staged_lines", lines)
    try:
        connection.execute(STAGE_RECORDS_SQL if first else APPEND_RECORDS_SQL)
    finally:
        connection.unregister("staged_lines")


def store_staged(
    connection: duckdb.DuckDBPyConnection, chunks: list[pa.Table], file_names: dict[int, str], batch_id: str
) -> dict[int, IngestCounts]:
    """Insert the group's new events, quarantine its rejected lines; the counts per file number.

    `file_names` names each staged file by its number in the run (the high bits of a staged line_no).
    """
    first_number = min(file_names)
    numbers = range(first_number, max(file_names) + 1)
    names = [file_names.get(n, "") for n in numbers]
    lines = pa.concat_tables(chunks)
    connection.register("staged_lines", lines)
    try:
        seq_row = connection.execute("SELECT last_seq FROM ingest_sequence").fetchone()
        base_seq = int(seq_row[0]) if seq_row else 0
        offsets = _line_offsets(chunks, numbers, base_seq)
        connection.execute(STAGE_KEYS_SQL, [offsets, first_number])
        if _every_line_is_a_new_event(connection, lines.num_rows):
            connection.execute(INSERT_CLEAN_EVENTS_SQL, [offsets, first_number, names, first_number])
        else:
            connection.execute(RANK_NEW_KEYS_SQL, [base_seq])
            connection.execute(INSERT_NEW_EVENTS_SQL, [names, first_number])
        # Every group moves the sequence, so two writers' groups always conflict and one is run again.
        connection.execute(
            "UPDATE ingest_sequence SET last_seq = (SELECT coalesce(max(new_seq), ?) FROM staged_keys)", [base_seq]
        )
        connection.execute(STAGE_CONFLICTS_SQL)
        connection.execute(QUARANTINE_REJECTED_SQL, [batch_id, names, first_number, batch_id, names, first_number])
        return _file_counts(connection)
    finally:
        connection.unregister("staged_lines")


def _every_line_is_a_new_event(connection: duckdb.DuckDBPyConnection, lines: int) -> bool:
    row = connection.execute("""
        SELECT (SELECT count(*) FROM staged_records WHERE reason_code IS NULL),
               (SELECT count(new_seq) FROM staged_keys)
    """).fetchone()
    return row is not None and row[0] == row[1] == lines


def _line_offsets(chunks: list[pa.Table], numbers: range, base_seq: int) -> list[int | None]:
    """Per file number of the group: what to add to a line number to get its ingest_seq when every line is a
    new event (lines are numbered from 1 in each file, and a file's chunks follow each other in order)."""
    first_line: dict[int, int] = {}
    lines: dict[int, int] = {}
    for chunk in chunks:
        if chunk.num_rows == 0:
            continue
        staged = int(chunk.column("line_no")[0].as_py())
        number = staged >> FILE_NUMBER_SHIFT
        first_line.setdefault(number, staged & LINE_NUMBER_MASK)
        lines[number] = lines.get(number, 0) + chunk.num_rows
    offsets: list[int | None] = []
    before = base_seq
    for number in numbers:
        if number not in lines:
            offsets.append(None)
            continue
        offsets.append(before - first_line[number] + 1)
        before += lines[number]
    return offsets


def _file_counts(connection: duckdb.DuckDBPyConnection) -> dict[int, IngestCounts]:
    reasons: dict[int, dict[str, int]] = {}
    for number, code, count in connection.execute(FILE_REASONS_SQL).fetchall():
        reasons.setdefault(int(number), {})[str(code)] = int(count)
    counts = {}
    for number, records, valid, ingested, first_seq, last_seq, conflicts in connection.execute(
        FILE_COUNTS_SQL
    ).fetchall():
        file_reasons = reasons.get(int(number), {})
        if conflicts:
            file_reasons["conflicting_duplicate"] = int(conflicts)
        counts[int(number)] = IngestCounts(
            records=int(records),
            ingested=int(ingested),
            duplicates=int(valid) - int(ingested) - int(conflicts),
            quarantined=int(records) - int(valid) + int(conflicts),
            first_seq=first_seq,
            last_seq=last_seq,
            quarantine_reasons=file_reasons,
        )
    return counts
