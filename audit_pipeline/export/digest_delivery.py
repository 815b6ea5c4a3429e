"""Preparing an export's digest with its data files, and delivering it after them.

The digest is recorded in `export_digests` before anything is uploaded, like the plan itself. A retry
rebuilds the document from the plan and the files; when it says the same as the recorded one, the recorded
bytes are delivered again unchanged (even if the signing key was rotated in between), so the digest in the
bucket is the same object whatever happened. The record counts as delivered once its export is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from audit_pipeline.domain.events import SYSTEM_LOG_TYPE
from audit_pipeline.export.bookkeeping import DELIVERED, PlannedExport
from audit_pipeline.export.digest import (
    DigestFile,
    DigestLink,
    canonical_bytes,
    digest_key,
    parse,
    signed_bytes,
    unsigned_document,
)
from audit_pipeline.export.files import WrittenPart
from audit_pipeline.export.signing import keyring_path, load_or_create
from audit_pipeline.settings import Paths

if TYPE_CHECKING:  # the runner imports this module to call it
    from audit_pipeline.export.runner import Destination

CONTENT_TYPE = "application/json"

# Parts are contiguous ranges of ingest_seq: each event belongs to the part with the largest from_seq below it.
SYSTEM_EVENTS_SQL = """
WITH parts AS (SELECT unnest(?::INTEGER[]) AS part_number, unnest(?::BIGINT[]) AS from_seq)
SELECT p.part_number, count(*)
FROM (SELECT ingest_seq FROM events
      WHERE org_id = ? AND ingest_seq > ? AND ingest_seq <= ? AND log_type = ?) AS e
ASOF JOIN parts AS p ON e.ingest_seq > p.from_seq
GROUP BY p.part_number
"""


@dataclass(frozen=True)
class PreparedDigest:
    key: str
    path: Path
    bytes: int
    sha256: str
    signing_key_id: str
    previous: DigestLink | None


def digest_files(
    connection: duckdb.DuckDBPyConnection, plan: PlannedExport, parts: Sequence[WrittenPart]
) -> list[DigestFile]:
    """Each data file with its user and System events counted apart (an empty window's one export event)."""
    if plan.events == 0:
        return [DigestFile(w.part.object_key, w.bytes, w.sha256, 0, 1) for w in parts]
    rows = connection.execute(SYSTEM_EVENTS_SQL, [
        [w.part.part_number for w in parts], [w.part.from_seq for w in parts],
        plan.org_id, plan.from_seq, plan.to_seq, SYSTEM_LOG_TYPE,
    ]).fetchall()
    system = {int(number): int(count) for number, count in rows}
    return [
        DigestFile(w.part.object_key, w.bytes, w.sha256, w.part.events - system.get(w.part.part_number, 0),
                   system.get(w.part.part_number, 0))
        for w in parts
    ]


def delivered_digest(
    connection: duckdb.DuckDBPyConnection, config_id: str, export_number: int | None = None
) -> DigestLink | None:
    """The digest of a delivered export of the config: the one numbered, or the newest (the chain head)."""
    row = connection.execute(
        "SELECT g.digest_key, g.sha256 FROM export_digests g JOIN export_deliveries d "
        "USING (config_id, export_number) WHERE g.config_id = ? AND d.status = ? "
        "AND (?::BIGINT IS NULL OR g.export_number = ?) ORDER BY g.export_number DESC LIMIT 1",
        [config_id, DELIVERED, export_number, export_number],
    ).fetchone()
    return DigestLink(row[0], row[1]) if row else None


def _without_signer(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "signing_key_id"}


def _recorded(connection: duckdb.DuckDBPyConnection, plan: PlannedExport) -> bytes | None:
    row = connection.execute(
        "SELECT document FROM export_digests WHERE config_id = ? AND export_number = ?",
        [plan.config_id, plan.export_number],
    ).fetchone()
    return bytes(row[0]) if row else None


def prepare_digest(
    connection: duckdb.DuckDBPyConnection, paths: Paths, prefix: str, plan: PlannedExport,
    parts: Sequence[WrittenPart],
) -> PreparedDigest:
    """The export's digest, signed, recorded and written beside its staged parts (call with the parts)."""
    ring = load_or_create(keyring_path(paths))
    key = digest_key(prefix, plan.org_id, plan.cutoff_at, plan.export_number)
    previous = delivered_digest(connection, plan.config_id, plan.export_number - 1)  # none before digests
    unsigned = unsigned_document(plan, key, digest_files(connection, plan, parts), previous, ring.current_id)
    recorded = _recorded(connection, plan)
    if recorded is not None and _without_signer(parse(recorded)[0]) == _without_signer(unsigned):
        body = recorded
    else:
        body = signed_bytes(unsigned, ring.sign(canonical_bytes(unsigned)))
    document, _ = parse(body)
    sha256 = hashlib.sha256(body).hexdigest()
    connection.execute("DELETE FROM export_digests WHERE config_id = ? AND export_number = ?",
                       [plan.config_id, plan.export_number])
    connection.execute(
        "INSERT INTO export_digests (config_id, export_number, digest_key, bytes, sha256, signing_key_id, "
        "document) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [plan.config_id, plan.export_number, key, len(body), sha256, document["signing_key_id"], body],
    )
    target = parts[0].path.parent / key.rsplit("/", 1)[-1]
    target.write_bytes(body)
    return PreparedDigest(key, target, len(body), sha256, document["signing_key_id"], previous)


def deliver_digest(destination: Destination, plan: PlannedExport, digest: PreparedDigest) -> None:
    """Upload the digest after every data file of its export."""
    destination.put_file(digest.key, digest.path, sha256_hex=digest.sha256, content_type=CONTENT_TYPE,
                         metadata={"export-number": str(plan.export_number), "digest": "1"})
