"""The digest of one export: what its data files hold, chained to the previous digest, signed with Ed25519.

A digest lives beside the data, outside the folder Athena and DuckDB read:

    [<prefix>/]audit-logs-digest/org_id=<org>/dt=<YYYY-MM-DD>/<cutoff>_<export number>_digest.json

Its bytes are the canonical JSON of the document (keys sorted, no spaces, UTF-8; only strings, integers and
null, so any RFC 8785 serializer gives the same bytes), and the signature covers the canonical JSON of the
document without its `signature` field. Everything in it comes from the planned export, so a retry writes
the same bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit_pipeline.export.bookkeeping import PlannedExport
from audit_pipeline.export.layout import DIGEST_FOLDER, EXPORT_NUMBER_DIGITS, ROOT_FOLDER

DIGEST_FORMAT = "audit-pipeline-export-digest/1"
SIGNATURE_ALGORITHM = "Ed25519"
DIGEST_SUFFIX = "_digest.json"


class DigestFormatError(ValueError):
    """Bytes that are not a digest document this program writes."""


def _with_prefix(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def data_folder(prefix: str, org_id: str) -> str:
    """Every data file of the org's exports lies below this folder (trailing slash included)."""
    return _with_prefix(prefix, f"{ROOT_FOLDER}/org_id={org_id}/")


def digest_folder(prefix: str, org_id: str) -> str:
    return _with_prefix(prefix, f"{DIGEST_FOLDER}/org_id={org_id}/")


def digest_key(prefix: str, org_id: str, cutoff_at: datetime, export_number: int) -> str:
    cutoff = cutoff_at.astimezone(UTC)
    name = f"{cutoff:%Y%m%dT%H%M%SZ}_{export_number:0{EXPORT_NUMBER_DIGITS}d}{DIGEST_SUFFIX}"
    return f"{digest_folder(prefix, org_id)}dt={cutoff:%Y-%m-%d}/{name}"


def rfc3339(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class DigestFile:
    key: str
    bytes: int
    sha256: str
    user_events: int
    system_events: int


@dataclass(frozen=True)
class DigestLink:
    """The previous digest as the next one names it."""

    key: str
    sha256: str


def unsigned_document(
    plan: PlannedExport, key: str, files: Sequence[DigestFile], previous: DigestLink | None, signing_key_id: str
) -> dict[str, Any]:
    return {
        "format": DIGEST_FORMAT,
        "digest_key": key,
        "config_name": plan.config_name,
        "org_id": plan.org_id,
        "export_number": plan.export_number,
        "window": {
            "from_seq": plan.from_seq,
            "to_seq": plan.to_seq,
            "previous_cutoff": rfc3339(plan.previous_cutoff_at),
            "cutoff": rfc3339(plan.cutoff_at),
        },
        "files": [{"key": f.key, "bytes": f.bytes, "sha256": f.sha256, "user_events": f.user_events,
                   "system_events": f.system_events} for f in files],
        "previous_digest": {"key": previous.key, "sha256": previous.sha256} if previous else None,
        "signature_algorithm": SIGNATURE_ALGORITHM,
        "signing_key_id": signing_key_id,
    }


def signed_bytes(unsigned: Mapping[str, Any], signature: bytes) -> bytes:
    return canonical_bytes({**unsigned, "signature": base64.b64encode(signature).decode("ascii")})


def parse(body: bytes) -> tuple[dict[str, Any], bytes]:
    """The document without its signature, and the signature; raises DigestFormatError on anything else."""
    try:
        document = json.loads(body.decode("utf-8"))
        if not isinstance(document, dict) or document.get("format") != DIGEST_FORMAT:
            raise DigestFormatError(f"not a digest of format {DIGEST_FORMAT}")
        signature = base64.b64decode(document.pop("signature"), validate=True)
        _require_shape(document)
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DigestFormatError(f"not a readable digest: {error}") from error
    return document, signature


def _expect(value: Any, kind: type, what: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{what} is not a {kind.__name__}")


def _require_shape(document: dict[str, Any]) -> None:
    """The fields a verifier reads, with their types, so that a forged digest is reported, not a crash."""
    _expect(document["digest_key"], str, "digest_key")
    _expect(document["signing_key_id"], str, "signing_key_id")
    _expect(document["export_number"], int, "export_number")
    window = document["window"]
    _expect(window, dict, "window")
    _expect(window["from_seq"], int, "window.from_seq")
    _expect(window["to_seq"], int, "window.to_seq")
    _expect(document["files"], list, "files")
    for item in document["files"]:
        _expect(item, dict, "a file")
        _expect(item["key"], str, "a file's key")
        _expect(item["bytes"], int, "a file's bytes")
        _expect(item["sha256"], str, "a file's sha256")
    link = document["previous_digest"]
    if link is not None:
        _expect(link, dict, "previous_digest")
        _expect(link["key"], str, "previous_digest.key")
        _expect(link["sha256"], str, "previous_digest.sha256")
