"""Ingestion of landing files into the lake's events table: idempotent, set-based, nothing silently dropped.

Per file: skip it when its SHA-256 was ingested before; otherwise validate its lines in DuckDB, insert the
new events with strictly increasing `ingest_seq`, count exact re-sends as duplicates, and quarantine every
other record (invalid ones, and re-used event ids with different content) with its line, raw bytes and
reason. This module finds the files and feeds them, chunk by chunk, to a commit group
(`storage.commit_group`), whose statements are in `storage.ingest_sql`: files are stored and committed
together in groups of about `GROUP_RECORDS` records, so a commit writes a few large Parquet files per org and
day instead of many small ones. A group that meets another writer's commit runs again from its staged lines.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePath

import duckdb
import pyarrow as pa

from audit_pipeline.hashing import file_sha256
from audit_pipeline.storage.commit_group import CommitGroup, FileProblem, OpenedFile, PendingFile
from audit_pipeline.storage.database import retrying, write_turn
from audit_pipeline.storage.ingest_counts import IngestCounts, ProgressCallback
from audit_pipeline.storage.ingest_sql import FILE_NUMBER_SHIFT, JSON_ARRAY_ELEMENTS_SQL
from audit_pipeline.storage.lake import LakeLocation
from audit_pipeline.storage.landing_files import RAW_LINES_SCHEMA, LandingFile, is_landing_file, read_ahead

__all__ = ["IngestCounts", "LandingItem", "ProgressCallback", "ingest_items", "ingest_landing", "local_items",
           "pending_landing_files"]


@dataclass(frozen=True)
class LandingItem:
    """One file waiting for ingestion: a file of the landing folder, or an object under an S3 landing prefix."""

    path: PurePath  # the local file, or the object's key
    name: str  # as ingested_files and the quarantine record it
    archive: Callable[[str], None]  # moves it out of the landing area once committed, given the batch id
    read: Callable[[], bytes] | None = None  # the object's bytes; None: `path` is read from disk


def pending_landing_files(landing: Path) -> list[Path]:
    """Landing files waiting for ingestion, oldest first (name order breaks ties)."""
    if not landing.exists():
        return []
    files = [p for p in landing.rglob("*") if p.is_file() and is_landing_file(p)]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, str(p)))


def local_items(paths: Iterable[Path], landing: Path, archive: Path) -> list[LandingItem]:
    """Files to ingest; those inside `landing` move below `archive/<day>/<batch>/` after their commit."""
    items = []
    for path in paths:
        try:
            relative: Path | None = path.relative_to(landing)
        except ValueError:
            relative = None
        name = str(relative) if relative is not None else str(path)
        items.append(LandingItem(path, name, _archiver(path, relative, archive)))
    return items


def _archiver(path: Path, relative: Path | None, archive: Path) -> Callable[[str], None]:
    def move(batch_id: str) -> None:
        if relative is None:
            return
        target = archive / datetime.now(UTC).strftime("%Y-%m-%d") / batch_id / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)

    return move


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
    return ingest_items(connection, local_items(paths, landing, archive), progress=progress)


def ingest_items(
    connection: duckdb.DuckDBPyConnection,
    items: Iterable[LandingItem],
    *,
    progress: ProgressCallback | None = None,
    lake: LakeLocation | None = None,
) -> IngestCounts:
    """Ingest `items` through `connection`; given `lake`, the lake it writes, commit groups take turns there."""
    batch_id = uuid.uuid4().hex
    started = datetime.now(UTC)
    total = IngestCounts()
    group = CommitGroup(connection, batch_id, progress, total, write_turn(lake))
    try:
        # Reading, hashing and splitting the next file overlaps with DuckDB working on the current one.
        for opened in read_ahead(map(open_landing_item, items, itertools.count())):
            pending = PendingFile(opened, opened.name)
            if group.holds(opened.sha256) or connection.execute(
                "SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [opened.sha256]
            ).fetchone():
                group.skip(pending)
            else:
                for lines in read_ahead(opened.chunks):
                    # A large file may commit between its chunks; the file itself is recorded with its last chunk.
                    group.store_if_full()
                    if opened.landing_file.is_json_array:
                        stage_json_array(group, pending, lines)
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


def open_landing_item(item: LandingItem, number: int) -> OpenedFile:
    if item.read is None:
        local = Path(item.path)
        landing_file = LandingFile(local, line_base=number << FILE_NUMBER_SHIFT)
        sha256, size = file_sha256(local), local.stat().st_size
    else:
        content = item.read()
        landing_file = LandingFile(item.path, line_base=number << FILE_NUMBER_SHIFT, content=content)
        sha256, size = hashlib.sha256(content).hexdigest(), len(content)
    batches = landing_file.batches()
    first = next(batches, None)
    chunks = itertools.chain([] if first is None else [first], batches)
    return OpenedFile(item.path, item.name, size, sha256, number, landing_file, chunks, item.archive)


def stage_json_array(group: CommitGroup, file: PendingFile, document: pa.Table) -> None:
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
        group.quarantine_file_problem(FileProblem(
            file, "malformed_json_array",
            f"the file starts with '[' but is not a valid JSON array ({str(error).splitlines()[0]}); "
            "the whole file is kept in the archive folder",
            1, raw[:1024 * 1024],
        ))
        return
    finally:
        connection.unregister("document")
    group.stage(file, elements.cast(RAW_LINES_SCHEMA))
