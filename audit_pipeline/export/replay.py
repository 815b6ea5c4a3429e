"""Re-delivering an org's events of a past `occurred_at` range, apart from the exactly-once stream.

A replay writes `[<prefix>/]audit-logs-replay/<replay-id>/org_id=<org>/part-<n>.json[.gz]` through the
config's role and reads the lake read-only: the stream's bookkeeping
(windows, cutoffs, keys) is neither read nor written, so the next scheduled export is exactly what it
would have been. The range is half-open: since <= occurred_at < until.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit_pipeline.domain.events import SCHEMA_VERSION
from audit_pipeline.export.bookkeeping import LINE_BYTES_SQL, DeliveredObject
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.files import EVENT_LINE_COLUMNS
from audit_pipeline.export.runner import Destination
from audit_pipeline.hashing import file_sha256
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

REPLAY_FOLDER = "audit-logs-replay"
MAX_REASON_CHARS = 500
READ_WAIT_SECONDS = 60.0

RANGE_SQL = f"""
CREATE TEMP TABLE replay_events AS
SELECT ingest_seq,
       (sum(line_bytes) OVER (ORDER BY occurred_at, ingest_seq ROWS UNBOUNDED PRECEDING) - line_bytes) // $part_bytes
           AS part_index
FROM (SELECT ingest_seq, occurred_at, {LINE_BYTES_SQL} AS line_bytes
      FROM events WHERE org_id = $org_id AND occurred_at >= $since AND occurred_at < $until)
"""
PART_SQL = f"""
SELECT {EVENT_LINE_COLUMNS} FROM events
WHERE ingest_seq IN (SELECT ingest_seq FROM replay_events WHERE part_index = $part_index)
ORDER BY occurred_at, ingest_seq
"""


class ReplayError(ValueError):
    """The replay asked for cannot be done as asked; the message says what to change."""


@dataclass(frozen=True)
class ReplayRequest:
    since: datetime
    until: datetime
    replay_id: str
    reason: str = ""


@dataclass(frozen=True)
class ReplayResult:
    config: ExportConfig
    request: ReplayRequest
    folder: str
    events: int
    objects: tuple[DeliveredObject, ...]

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.config.name, "org_id": self.config.org_id, "bucket": self.config.bucket,
            "replay_id": self.request.replay_id, "since": _iso(self.request.since),
            "until": _iso(self.request.until), "reason": self.request.reason, "folder": self.folder,
            "events_replayed": self.events,
            "objects": [{"key": o.key, "bytes": o.bytes, "sha256": o.sha256, "events": o.events}
                        for o in self.objects],
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_replay_id(now: datetime | None = None) -> str:
    """Sorts by when the replay was asked for, and is unique."""
    return f"{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def replay_request(since: datetime, until: datetime, replay_id: str, reason: str = "") -> ReplayRequest:
    if since.tzinfo is None or until.tzinfo is None:
        raise ReplayError("since and until need a UTC offset, e.g. 2026-11-20T00:00:00Z")
    if since >= until:
        raise ReplayError(f"since ({_iso(since)}) must be before until ({_iso(until)})")
    if len(reason) > MAX_REASON_CHARS:
        raise ReplayError(f"the reason may be at most {MAX_REASON_CHARS} characters")
    if not replay_id or not all(c.isalnum() or c in "-_" for c in replay_id):
        raise ReplayError(f"replay id {replay_id!r} may hold only letters, digits, '-' and '_'")
    return ReplayRequest(since.astimezone(UTC), until.astimezone(UTC), replay_id, reason)


def replay_folder(config: ExportConfig, replay_id: str) -> str:
    folder = f"{REPLAY_FOLDER}/{replay_id}/org_id={config.org_id}"
    return f"{config.prefix}/{folder}" if config.prefix else folder


def _part_name(part_number: int, gzip: bool) -> str:
    return f"part-{part_number:04d}{'.json.gz' if gzip else '.json'}"


def write_replay_files(
    paths: Paths, config: ExportConfig, request: ReplayRequest, staging: Path, part_bytes: int
) -> list[tuple[Path, int]]:
    """The range's events as part files in `staging`, with each file's event count."""
    copy_options = "(FORMAT json, COMPRESSION gzip)" if config.gzip else "(FORMAT json)"
    written = []
    with database.reader(paths) as connection:
        connection.execute(RANGE_SQL, {"part_bytes": part_bytes, "org_id": config.org_id,
                                       "since": request.since, "until": request.until})
        parts = connection.execute(
            "SELECT part_index, count(*) FROM replay_events GROUP BY part_index ORDER BY part_index"
        ).fetchall()
        for number, (part_index, events) in enumerate(parts, start=1):
            target = staging / _part_name(number, config.gzip)
            connection.execute(f"COPY ({PART_SQL}) TO $target {copy_options}",
                               {"schema_version": SCHEMA_VERSION, "part_index": part_index,
                                "target": str(target)})
            written.append((target, int(events)))
    return written


def run_replay(
    paths: Paths, config: ExportConfig, destination: Destination, request: ReplayRequest, *, part_bytes: int
) -> ReplayResult:
    """Write the range's files and upload them through the config's role. Raises on any failure."""
    folder = replay_folder(config, request.replay_id)
    staging = paths.export_staging / "replays" / request.replay_id
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = write_replay_files(paths, config, request, staging, part_bytes)
        destination.assume_role()
        delivered = []
        for number, (path, events) in enumerate(files, start=1):
            key = f"{folder}/{path.name}"
            sha256 = file_sha256(path)
            destination.put_file(
                key, path, sha256_hex=sha256,
                content_type="application/gzip" if config.gzip else "application/x-ndjson",
                metadata={"replay-id": request.replay_id, "part-number": str(number), "events": str(events),
                          "range": json.dumps([_iso(request.since), _iso(request.until)])},
            )
            delivered.append(DeliveredObject(key, path.stat().st_size, sha256, events))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReplayResult(config, request, folder, sum(o.events for o in delivered), tuple(delivered))
