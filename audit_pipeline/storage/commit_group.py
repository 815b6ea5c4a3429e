"""Files stored and committed together: a commit group, the files in it, and what follows its commit.

A file is archived, and its progress reported, only after the group holding its last lines committed, so a
crash loses nothing: the rerun re-reads the files still in the landing folder, and events a committed group
already stored from an unfinished file come back as duplicates.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import PurePath

import duckdb
import pyarrow as pa

from audit_pipeline.storage.database import begin_guarded, retrying, rollback
from audit_pipeline.storage.ingest_counts import IngestCounts, ProgressCallback
from audit_pipeline.storage.ingest_sql import stage_lines, store_staged
from audit_pipeline.storage.landing_files import LandingFile
from audit_pipeline.storage.schema import QUARANTINE_COLUMNS

GROUP_RECORDS = 500_000


@dataclass
class OpenedFile:
    """A landing file (or object) with its SHA-256 and its first chunk of lines already read."""

    path: PurePath
    name: str
    size: int
    sha256: str
    number: int
    landing_file: LandingFile
    chunks: Iterator[pa.Table]
    archive: Callable[[str], None]  # moves it out of the landing area once its group committed, given the batch id


@dataclass
class PendingFile:
    """A file being ingested: its counts add up over the groups its chunks are stored in."""

    opened: OpenedFile
    name: str
    counts: IngestCounts = field(default_factory=IngestCounts)


@dataclass(frozen=True)
class FileProblem:
    """Something wrong with a file as a whole (not one of its lines), quarantined with the group."""

    file: PendingFile
    code: str
    reason: str
    line_number: int
    raw: bytes


class CommitGroup:
    """Files stored and committed together once they hold about `GROUP_RECORDS` records.

    Each chunk of lines is validated as it arrives, into one temp table for the whole group (outside any
    transaction); the duplicate check, the insert into `events` and the quarantine then run once per group in
    one transaction. When that transaction meets another writer it changed nothing and is run again from the
    staged lines, so the duplicate check sees what the other writer stored. Counts, archiving and progress
    follow only a successful commit.
    """

    def __init__(
        self, connection: duckdb.DuckDBPyConnection, batch_id: str, progress: ProgressCallback | None,
        total: IngestCounts, turn: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self.connection = connection
        self.turn = turn
        self.batch_id = batch_id
        self.progress = progress
        self.total = total
        self._reset()

    def _reset(self) -> None:
        self.records = 0
        self.chunks: list[pa.Table] = []
        self.staged: dict[int, PendingFile] = {}
        self.done: list[tuple[PendingFile, bool]] = []
        self.problems: list[FileProblem] = []
        self.sha256s: set[str] = set()

    def holds(self, sha256: str) -> bool:
        """Whether a file with this content is already part of the group (its row is written at the commit)."""
        return sha256 in self.sha256s

    def stage(self, file: PendingFile, lines: pa.Table) -> None:
        # Outside the group's transaction: rows a transaction appends to a table stay in its local storage,
        # which DuckDB scans on one thread; the temp table needs no atomicity with the events.
        stage_lines(self.connection, lines, first=not self.chunks)
        self.chunks.append(lines)
        self.records += lines.num_rows
        self.staged[file.opened.number] = file

    def quarantine_file_problem(self, problem: FileProblem) -> None:
        self.problems.append(problem)

    def finish(self, file: PendingFile) -> None:
        self.done.append((file, True))
        self.sha256s.add(file.opened.sha256)

    def skip(self, file: PendingFile) -> None:
        self.done.append((file, False))

    def store_if_full(self) -> None:
        if self.records >= GROUP_RECORDS:
            self.store()

    def store(self) -> None:
        """Store the staged lines, record the finished files, commit, then archive them."""
        if self.chunks or self.problems or any(ingested for _, ingested in self.done):
            counts = retrying(self._commit_in_turn, what="ingestion")
            for file in self._files():
                file.counts = counts[file.opened.number]
        actions = []
        for file, ingested in self.done:
            if ingested:
                self.total.files += 1
                self.total.add(file.counts)
            else:
                self.total.files_skipped += 1
            actions.append(archive_and_report(file.opened, self.batch_id, self.progress, self.total))
        self._reset()
        for action in actions:
            action()

    def discard(self) -> None:
        self._reset()

    def _files(self) -> list[PendingFile]:
        files = {file.opened.number: file for file in self.staged.values()}
        files.update((file.opened.number, file) for file, ingested in self.done if ingested)
        files.update((problem.file.opened.number, problem.file) for problem in self.problems)
        return list(files.values())

    def _commit_in_turn(self) -> dict[int, IngestCounts]:
        # Every group moves the one-row ingest_sequence, so two groups committing at once always conflict and
        # the loser stores its lines again. Where writers on several machines share a catalog, they wait for
        # their turn instead (`turn`); the reading, parsing and validating before it still overlap.
        with self.turn():
            return self._commit()

    def _commit(self) -> dict[int, IngestCounts]:
        """One try at the group's transaction; the files' counts as they stand after it."""
        counts = {file.opened.number: copy.deepcopy(file.counts) for file in self._files()}
        connection = self.connection
        begin_guarded(connection)
        try:
            if self.chunks:
                for number, added in store_staged(
                        connection, self.chunks, {n: f.name for n, f in self.staged.items()}, self.batch_id).items():
                    counts[number].add(added)
            for problem in self.problems:
                quarantine_file_problem(connection, self.batch_id, problem.file.name, problem.code,
                                         problem.reason, problem.line_number, problem.raw)
                counts[problem.file.opened.number].add(IngestCounts(
                    records=1, quarantined=1, quarantine_reasons={problem.code: 1}))
            for file, ingested in self.done:
                # Another run may have committed the same file since it was looked up (two runs over one
                # landing prefix): its events came back as duplicates above, and it is recorded once.
                if ingested and not connection.execute(
                        "SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [file.opened.sha256]).fetchone():
                    record_file(connection, file, counts[file.opened.number], self.batch_id)
            connection.execute("COMMIT")
        except BaseException:
            rollback(connection)
            raise
        return counts


def archive_and_report(
    opened: OpenedFile, batch_id: str, progress: ProgressCallback | None, total: IngestCounts,
) -> Callable[[], None]:
    snapshot = copy.deepcopy(total)

    def run() -> None:
        opened.archive(batch_id)
        if progress is not None:
            progress(opened.path, snapshot)

    return run


def record_file(
    connection: duckdb.DuckDBPyConnection, file: PendingFile, counts: IngestCounts, batch_id: str
) -> None:
    """Quarantine what was wrong with the file as a whole and record the file as ingested (adding to `counts`)."""
    for problem in file.opened.landing_file.problems:
        quarantine_file_problem(connection, batch_id, file.name, problem.reason_code, problem.reason,
                                 problem.line_number, problem.raw)
        counts.quarantined += 1
        counts.quarantine_reasons[problem.reason_code] = counts.quarantine_reasons.get(problem.reason_code, 0) + 1
    connection.execute(
        "INSERT INTO ingested_files (file_sha256, file_name, file_bytes, records, ingested, duplicates, "
        "quarantined, batch_id, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
        [file.opened.sha256, file.name, file.opened.size, counts.records, counts.ingested,
         counts.duplicates, counts.quarantined, batch_id],
    )


def quarantine_file_problem(
    connection: duckdb.DuckDBPyConnection, batch_id: str, name: str, code: str, reason: str,
    line_number: int, raw: bytes,
) -> None:
    connection.execute(
        f"INSERT INTO quarantine ({', '.join(QUARANTINE_COLUMNS)}) VALUES (now(), ?, ?, ?, ?, ?, ?, ?)",
        [batch_id, name, line_number, code, reason, raw, len(raw)],
    )
