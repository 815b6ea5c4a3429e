"""One export of a config, end to end: plan (or resume), write the files, upload, record the delivery.

The lake is written only to plan and write the files, and again to record the delivery, never while
uploading. A failure before the delivery is recorded leaves the plan in place, and the next run
writes exactly the same events to exactly the same keys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from audit_pipeline.export.bookkeeping import DeliveredObject, PlannedExport, mark_delivered, plan_or_resume
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.digest_delivery import PreparedDigest, deliver_digest, prepare_digest
from audit_pipeline.export.files import WrittenPart, remove_staging, write_parts
from audit_pipeline.export.locking import export_lock
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

DEFAULT_PART_BYTES = 128 * 1024 * 1024
PART_BYTES_ENV = "AUDIT_PIPELINE_EXPORT_PART_BYTES"
MAX_PART_BYTES = 5 * 1024 ** 3  # S3's limit for a single PUT
DATABASE_WAIT_SECONDS = 1800.0


class Destination(Protocol):
    """Where the files go; `audit_pipeline.export.aws.S3Destination` in production."""

    def assume_role(self) -> None: ...

    def put_file(self, key: str, path: Path, *, sha256_hex: str, content_type: str,
                 metadata: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class ExportResult:
    config: ExportConfig
    plan: PlannedExport
    objects: tuple[DeliveredObject, ...]
    digest: PreparedDigest | None = None

    @property
    def object_keys(self) -> list[str]:
        return [o.key for o in self.objects]

    def summary(self) -> dict[str, object]:
        plan = self.plan
        return {
            "name": self.config.name,
            "org_id": plan.org_id,
            "bucket": self.config.bucket,
            "export_number": plan.export_number,
            "retry_of_planned_export": plan.resumed,
            "window": {
                "from_seq": plan.from_seq,
                "to_seq": plan.to_seq,
                "previous_cutoff": plan.previous_cutoff_at,
                "cutoff": plan.cutoff_at,
            },
            "events_exported": plan.events,
            "system_events": system_events(plan),
            "objects": [{"key": o.key, "bytes": o.bytes, "sha256": o.sha256, "events": o.events}
                        for o in self.objects],
        }


def validate_part_bytes(part_bytes: int) -> int:
    if not 1 <= part_bytes <= MAX_PART_BYTES:
        raise ValueError(f"part size must be 1 byte to {MAX_PART_BYTES} bytes (5 GiB), got {part_bytes}")
    return part_bytes


def part_bytes_from_env() -> int:
    """The part size: AUDIT_PIPELINE_EXPORT_PART_BYTES when set, else 128 MiB (of uncompressed JSON)."""
    configured = os.environ.get(PART_BYTES_ENV, "").strip()
    if not configured:
        return DEFAULT_PART_BYTES
    try:
        return validate_part_bytes(int(configured))
    except ValueError as error:
        raise ValueError(f"{PART_BYTES_ENV}={configured!r}: {error}") from error


def system_events(plan: PlannedExport) -> int:
    """The System "Audit Log Export" events the export writes: one, in the file of an empty window."""
    return 1 if plan.events == 0 else 0


def _content_type(gzip: bool) -> str:
    return "application/gzip" if gzip else "application/x-ndjson"


def _upload(destination: Destination, plan: PlannedExport, parts: list[WrittenPart]) -> list[DeliveredObject]:
    destination.assume_role()
    delivered = []
    for written in parts:
        events = written.part.events  # the org's events; an empty window's file holds only the export event
        destination.put_file(
            written.part.object_key, written.path, sha256_hex=written.sha256,
            content_type=_content_type(plan.gzip),
            metadata={"export-number": str(plan.export_number), "part-number": str(written.part.part_number),
                      "events": str(events), "system-events": str(system_events(plan)),
                      "window": json.dumps([plan.from_seq, plan.to_seq])},
        )
        delivered.append(DeliveredObject(written.part.object_key, written.bytes, written.sha256, events))
    return delivered


def run_export(
    paths: Paths,
    config: ExportConfig,
    destination: Destination,
    *,
    run_id: str,
    part_bytes: int = DEFAULT_PART_BYTES,
    now: datetime | None = None,
) -> ExportResult:
    """Deliver the config's pending export, or plan and deliver a new one. Raises on any failure."""
    validate_part_bytes(part_bytes)
    with export_lock(paths, config.name):

        turn = database.write_turn(paths.lake)

        def prepare() -> tuple[PlannedExport, list[WrittenPart], PreparedDigest]:
            with database.writer(paths, wait_seconds=DATABASE_WAIT_SECONDS) as connection:
                with turn():  # only the plan's transaction: writing the files reads the committed plan
                    plan = plan_or_resume(connection, config, part_bytes=part_bytes, run_id=run_id, now=now)
                parts = write_parts(connection, plan, paths.export_staging)
                return plan, parts, prepare_digest(connection, paths, config.prefix, plan, parts)

        def record(plan: PlannedExport, delivered: list[DeliveredObject]) -> None:
            with turn(), database.writer(paths, wait_seconds=DATABASE_WAIT_SECONDS) as connection:
                mark_delivered(connection, plan, delivered, run_id)

        # Meeting another writer after the plan committed plans again and finds this run's own plan.
        plan, parts, digest = database.retrying(prepare, wait_seconds=DATABASE_WAIT_SECONDS, what="export plan")
        delivered = _upload(destination, plan, parts)
        deliver_digest(destination, plan, digest)
        database.retrying(lambda: record(plan, delivered), wait_seconds=DATABASE_WAIT_SECONDS,
                          what="export delivery record")
        remove_staging(paths.export_staging, plan)
    return ExportResult(config, plan, tuple(delivered), digest)
