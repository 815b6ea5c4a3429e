"""Everything waiting for ingestion: the home's landing folder, and the S3 landing prefix when one is set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from audit_pipeline.storage.ingest import (
    IngestCounts,
    ProgressCallback,
    ingest_items,
    local_items,
    pending_landing_files,
)
from audit_pipeline.storage.lake import LakeLocation
from audit_pipeline.storage.landing_batches import READS_SUBFOLDER, waiting_reason
from audit_pipeline.storage.s3_landing import S3Landing, S3Object, landing_items, pending_objects


@dataclass(frozen=True)
class Pending:
    """What waits in the landing folder and under the S3 prefix."""

    files: list[Path]
    objects: list[S3Object]
    s3: S3Landing | None = None

    def __bool__(self) -> bool:
        return bool(self.files or self.objects)

    def fingerprint(self) -> str:
        """Changes whenever a file or object arrives, changes or leaves: a sensor's cursor."""
        digest = hashlib.sha256()
        for path in self.files:
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        for entry in self.objects:
            digest.update(f"s3\0{entry.key}\0{entry.size}\0{entry.etag}\n".encode())
        return digest.hexdigest()

    def waiting_reason(self, landing: Path, *, now: float) -> str | None:
        """Why an ingestion run should not start yet (only a few recent audited reads wait); None to start."""
        reads = landing / READS_SUBFOLDER
        object_reads = f"{self.s3.prefix}{READS_SUBFOLDER}/" if self.s3 is not None else None
        is_read = [path.is_relative_to(reads) for path in self.files]
        is_read += [object_reads is not None and entry.key.startswith(object_reads) for entry in self.objects]

        def oldest() -> float:
            return min([path.stat().st_mtime for path in self.files]
                       + [entry.last_modified.timestamp() for entry in self.objects])

        return waiting_reason(is_read, oldest, now=now)


def pending(landing: Path, s3: S3Landing | None, client: Any | None) -> Pending:
    objects = pending_objects(client, s3) if s3 is not None and client is not None else []
    return Pending(pending_landing_files(landing), objects, s3)


def ingest_landing_area(
    connection: duckdb.DuckDBPyConnection,
    landing: Path,
    archive: Path,
    s3: S3Landing | None,
    client: Any | None,
    *,
    progress: ProgressCallback | None = None,
    lake: LakeLocation | None = None,
) -> IngestCounts:
    """Ingest the landing folder's files, then the S3 prefix's objects, in one batch, into `lake`'s tables."""
    waiting = pending(landing, s3, client)
    items = local_items(waiting.files, landing, archive)
    if s3 is not None and waiting.objects:
        items += landing_items(connection, client, s3, waiting.objects)
    return ingest_items(connection, items, progress=progress, lake=lake)
