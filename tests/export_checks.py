"""Reading an export back from the bucket and comparing it with the events table, independently."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC
from typing import Any

import duckdb

from audit_pipeline.domain.events import CANONICAL_FIELDS, SCHEMA_VERSION
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths

EXPORT_ACTION = "Audit Log Export"
LINE_FIELDS = (*CANONICAL_FIELDS, "received_at", "schema_version")


def read_lines(sandbox: LocalAwsSandbox, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every JSON line of every export object in the bucket, in key order (connection tests skipped)."""
    lines: list[dict[str, Any]] = []
    for key in sandbox.list_keys(bucket, prefix):
        if "/audit-logs/" not in f"/{key}":
            continue
        body = sandbox.read_object(bucket, key)
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        lines.extend(json.loads(line) for line in body.decode("utf-8").splitlines())
    return lines


def stored_events(paths: Paths, org_id: str) -> list[dict[str, Any]]:
    """The org's events from the writers' database, formatted in Python the way the export promises."""
    connection = duckdb.connect(str(paths.database), read_only=True)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        cursor = connection.execute(
            f"SELECT {', '.join(CANONICAL_FIELDS)}, received_at FROM events WHERE org_id = ? ORDER BY ingest_seq",
            [org_id],
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()
    for row in rows:
        for moment in ("occurred_at", "received_at"):
            row[moment] = row[moment].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        row["additional_info"] = json.loads(row["additional_info"])
        row["schema_version"] = SCHEMA_VERSION
    return rows


def assert_exported_exactly_once(paths: Paths, sandbox: LocalAwsSandbox, bucket: str, org_id: str) -> None:
    """Every stored event of the org is in the bucket exactly once, byte for byte in meaning; nothing else is."""
    lines = read_lines(sandbox, bucket)
    assert {line["org_id"] for line in lines} <= {org_id}, "another org's event was exported"
    data = [line for line in lines if line["action"] != EXPORT_ACTION or line["log_type"] != "System"]
    expected = stored_events(paths, org_id)
    counts = Counter(line["event_id"] for line in data)
    assert [i for i, n in counts.items() if n > 1] == [], "an event was exported twice"
    assert sorted(data, key=lambda r: r["event_id"]) == sorted(expected, key=lambda r: r["event_id"])
    for line in lines:
        assert tuple(line) == LINE_FIELDS
