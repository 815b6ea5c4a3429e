"""Ingestion of landing files into the events table: idempotent, set-based, nothing silently dropped.

Per file: skip it when its SHA-256 was ingested before; otherwise validate its lines in DuckDB, insert the
new events with strictly increasing `ingest_seq`, count exact re-sends as duplicates, and quarantine every
other record (invalid ones, and re-used event ids with different content) with its line, raw bytes and
reason. Files are stored and committed together in groups of about `GROUP_RECORDS` records: each chunk of
lines is validated as it arrives, then one duplicate check and one insert cover the whole group, so DuckDB
writes full row groups straight to the file on every core instead of logging small commits and checkpointing
them. Rows reach `events` in `ingest_seq` order (the newest one is read from the table's tail), and a file is
archived only after its group committed, so a crash loses nothing: the rerun re-reads the files still in the
landing folder, and events a committed group already stored from an unfinished file come back as duplicates.
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
from audit_pipeline.storage.database import retrying, rollback
from audit_pipeline.storage.landing_files import RAW_LINES_SCHEMA, LandingFile, is_landing_file, read_ahead
from audit_pipeline.storage.schema import EVENT_COLUMNS, QUARANTINE_COLUMNS
from audit_pipeline.storage.validation import staged_records_sql

GROUP_RECORDS = 500_000

JSON_ARRAY_ELEMENTS_SQL = """
    SELECT ? + idx AS line_no, encode(elem::VARCHAR) AS raw
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
    group = _CommitGroup(connection, batch_id, landing, archive, progress, total)
    try:
        # Reading, hashing and splitting the next file overlaps with DuckDB working on the current one.
        for opened in read_ahead(map(_open, paths, itertools.count())):
            pending = _PendingFile(opened, _display_name(opened.path, landing))
            if group.holds(opened.sha256) or connection.execute(
                "SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [opened.sha256]
            ).fetchone():
                group.skip(pending)
            else:
                for lines in read_ahead(opened.chunks):
                    # A large file may commit between its chunks; the file itself is recorded with its last chunk.
                    group.store_if_full()
                    if opened.landing_file.is_json_array:
                        _stage_json_array(group, pending, lines)
                    else:
                        group.stage(pending, lines)
                group.finish(pending)
            group.store_if_full()
        group.store()
    except BaseException:
        group.discard()
        raise
    retrying(lambda: connection.execute(
        "INSERT INTO ingest_batches (batch_id, started_at, finished_at, files, files_skipped, ingested, "
        "duplicates, quarantined, first_seq, last_seq) VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, started, total.files, total.files_skipped, total.ingested, total.duplicates,
         total.quarantined, total.first_seq, total.last_seq],
    ), what="ingestion record")
    return total


# Lines of several files are validated into one table: a staged line_no is the file's number in the run shifted
# left by FILE_NUMBER_SHIFT bits plus the line's number in its file, so its order is file order, then line order.
FILE_NUMBER_SHIFT = 36
LINE_NUMBER_MASK = (1 << FILE_NUMBER_SHIFT) - 1


@dataclass
class _OpenedFile:
    """A landing file with its SHA-256 and its first chunk of lines already read."""

    path: Path
    sha256: str
    number: int
    landing_file: LandingFile
    chunks: Iterator[pa.Table]


@dataclass
class _PendingFile:
    """A file being ingested: its counts add up over the groups its chunks are stored in."""

    opened: _OpenedFile
    name: str
    counts: IngestCounts = field(default_factory=IngestCounts)


@dataclass(frozen=True)
class _FileProblem:
    """Something wrong with a file as a whole (not one of its lines), quarantined with the group."""

    file: _PendingFile
    code: str
    reason: str
    line_number: int
    raw: bytes


class _CommitGroup:
    """Files stored and committed together once they hold about `GROUP_RECORDS` records.

    Each chunk of lines is validated as it arrives, into one temp table for the whole group (outside any
    transaction); the duplicate check, the insert into `events` and the quarantine then run once per group in
    one transaction. When that transaction meets another writer it changed nothing and is run again from the
    staged lines, so the duplicate check sees what the other writer stored. Counts, archiving and progress
    follow only a successful commit.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, batch_id: str, landing: Path, archive: Path,
        progress: ProgressCallback | None, total: IngestCounts,
    ) -> None:
        self.connection = connection
        self.batch_id = batch_id
        self.landing = landing
        self.archive = archive
        self.progress = progress
        self.total = total
        self._reset()

    def _reset(self) -> None:
        self.records = 0
        self.chunks: list[pa.Table] = []
        self.staged: dict[int, _PendingFile] = {}
        self.done: list[tuple[_PendingFile, bool]] = []
        self.problems: list[_FileProblem] = []
        self.sha256s: set[str] = set()

    def holds(self, sha256: str) -> bool:
        """Whether a file with this content is already part of the group (its row is written at the commit)."""
        return sha256 in self.sha256s

    def stage(self, file: _PendingFile, lines: pa.Table) -> None:
        # Outside the group's transaction: rows a transaction appends to a table stay in its local storage,
        # which DuckDB scans on one thread; the temp table needs no atomicity with the events.
        _stage_lines(self.connection, lines, first=not self.chunks)
        self.chunks.append(lines)
        self.records += lines.num_rows
        self.staged[file.opened.number] = file

    def quarantine_file_problem(self, problem: _FileProblem) -> None:
        self.problems.append(problem)

    def finish(self, file: _PendingFile) -> None:
        self.done.append((file, True))
        self.sha256s.add(file.opened.sha256)

    def skip(self, file: _PendingFile) -> None:
        self.done.append((file, False))

    def store_if_full(self) -> None:
        if self.records >= GROUP_RECORDS:
            self.store()

    def store(self) -> None:
        """Store the staged lines, record the finished files, commit, then archive them."""
        if self.chunks or self.problems or any(ingested for _, ingested in self.done):
            counts = retrying(self._commit, what="ingestion")
            for file in self._files():
                file.counts = counts[file.opened.number]
        actions = []
        for file, ingested in self.done:
            if ingested:
                self.total.files += 1
                self.total.add(file.counts)
            else:
                self.total.files_skipped += 1
            actions.append(_archive_and_report(
                file.opened.path, self.landing, self.archive, self.batch_id, self.progress, self.total))
        self._reset()
        for action in actions:
            action()

    def discard(self) -> None:
        self._reset()

    def _files(self) -> list[_PendingFile]:
        files = {file.opened.number: file for file in self.staged.values()}
        files.update((file.opened.number, file) for file, ingested in self.done if ingested)
        files.update((problem.file.opened.number, problem.file) for problem in self.problems)
        return list(files.values())

    def _commit(self) -> dict[int, IngestCounts]:
        """One try at the group's transaction; the files' counts as they stand after it."""
        counts = {file.opened.number: copy.deepcopy(file.counts) for file in self._files()}
        connection = self.connection
        connection.execute("BEGIN")
        try:
            if self.chunks:
                for number, added in _store_staged(connection, self.chunks, self.staged, self.batch_id).items():
                    counts[number].add(added)
            for problem in self.problems:
                _quarantine_file_problem(connection, self.batch_id, problem.file.name, problem.code,
                                         problem.reason, problem.line_number, problem.raw)
                counts[problem.file.opened.number].add(IngestCounts(
                    records=1, quarantined=1, quarantine_reasons={problem.code: 1}))
            for file, ingested in self.done:
                if ingested:
                    _record_file(connection, file, counts[file.opened.number], self.batch_id)
            connection.execute("COMMIT")
        except BaseException:
            rollback(connection)
            raise
        return counts


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


def _open(path: Path, number: int) -> _OpenedFile:
    landing_file = LandingFile(path, line_base=number << FILE_NUMBER_SHIFT)
    batches = landing_file.batches()
    first = next(batches, None)
    chunks = itertools.chain([] if first is None else [first], batches)
    return _OpenedFile(path, file_sha256(path), number, landing_file, chunks)


def _record_file(
    connection: duckdb.DuckDBPyConnection, file: _PendingFile, counts: IngestCounts, batch_id: str
) -> None:
    """Quarantine what was wrong with the file as a whole and record the file as ingested (adding to `counts`)."""
    for problem in file.opened.landing_file.problems:
        _quarantine_file_problem(connection, batch_id, file.name, problem.reason_code, problem.reason,
                                 problem.line_number, problem.raw)
        counts.quarantined += 1
        counts.quarantine_reasons[problem.reason_code] = counts.quarantine_reasons.get(problem.reason_code, 0) + 1
    connection.execute(
        "INSERT INTO ingested_files (file_sha256, file_name, file_bytes, records, ingested, duplicates, "
        "quarantined, batch_id, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [file.opened.sha256, file.name, file.opened.path.stat().st_size, counts.records, counts.ingested,
         counts.duplicates, counts.quarantined, batch_id],
    )


def _stage_json_array(group: _CommitGroup, file: _PendingFile, document: pa.Table) -> None:
    # A failed statement would abort the open transaction: the group is stored first and the document is
    # parsed outside any transaction.
    group.store()
    connection = group.connection
    connection.register("document", document)
    try:
        elements = connection.execute(
            JSON_ARRAY_ELEMENTS_SQL, [file.opened.number << FILE_NUMBER_SHIFT]
        ).fetch_arrow_table()
    except duckdb.Error as error:
        raw = document.column("raw")[0].as_py()
        group.quarantine_file_problem(_FileProblem(
            file, "malformed_json_array",
            f"the file starts with '[' but is not a valid JSON array ({str(error).splitlines()[0]}); "
            "the whole file is kept in the archive folder",
            1, raw[:1024 * 1024],
        ))
        return
    finally:
        connection.unregister("document")
    group.stage(file, elements.cast(RAW_LINES_SCHEMA))


def _quarantine_file_problem(
    connection: duckdb.DuckDBPyConnection, batch_id: str, name: str, code: str, reason: str,
    line_number: int, raw: bytes,
) -> None:
    connection.execute(
        f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, name, line_number, code, reason, raw, len(raw)],
    )


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


def _stage_lines(connection: duckdb.DuckDBPyConnection, lines: pa.Table, *, first: bool) -> None:
    """Validate one chunk of lines into the group's `staged_records` (a new table for the group's first)."""
    connection.register("staged_lines", lines)
    try:
        connection.execute(STAGE_RECORDS_SQL if first else APPEND_RECORDS_SQL)
    finally:
        connection.unregister("staged_lines")


def _store_staged(
    connection: duckdb.DuckDBPyConnection, chunks: list[pa.Table], files: dict[int, _PendingFile], batch_id: str
) -> dict[int, IngestCounts]:
    """Insert the group's new events, quarantine its rejected lines; the counts per file number."""
    first_number = min(files)
    numbers = range(first_number, max(files) + 1)
    names = [files[n].name if n in files else "" for n in numbers]
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
