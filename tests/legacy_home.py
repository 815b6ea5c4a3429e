"""A home folder as the pipeline kept it before the lake: `audit.duckdb`, `control.duckdb`, `access.duckdb`.

The DDL is the old schema (primary and unique keys included), so an import meets the files as they were.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from audit_pipeline.access.tokens import token_digest

AUDIT_DDL = """
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ);
INSERT INTO schema_migrations VALUES (1, now());
CREATE TABLE events (
    ingest_seq BIGINT NOT NULL, event_id VARCHAR NOT NULL, org_id VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL, log_type VARCHAR NOT NULL, action VARCHAR NOT NULL, user_id VARCHAR,
    user_email VARCHAR, user_name VARCHAR, user_role VARCHAR, source_ip VARCHAR, user_agent VARCHAR,
    outcome VARCHAR NOT NULL, additional_info JSON NOT NULL, received_at TIMESTAMPTZ NOT NULL,
    content_hash VARCHAR NOT NULL, source_file VARCHAR NOT NULL, source_line BIGINT NOT NULL
);
CREATE TABLE quarantine (
    quarantined_at TIMESTAMPTZ NOT NULL, batch_id VARCHAR NOT NULL, source_file VARCHAR NOT NULL,
    line_number BIGINT NOT NULL, reason_code VARCHAR NOT NULL, reason VARCHAR NOT NULL, raw BLOB NOT NULL,
    raw_bytes BIGINT NOT NULL
);
CREATE TABLE ingested_files (
    file_sha256 VARCHAR PRIMARY KEY, file_name VARCHAR NOT NULL, file_bytes BIGINT NOT NULL,
    records BIGINT NOT NULL, ingested BIGINT NOT NULL, duplicates BIGINT NOT NULL, quarantined BIGINT NOT NULL,
    batch_id VARCHAR NOT NULL, ingested_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE ingest_batches (
    batch_id VARCHAR PRIMARY KEY, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL,
    files BIGINT NOT NULL, files_skipped BIGINT NOT NULL, ingested BIGINT NOT NULL, duplicates BIGINT NOT NULL,
    quarantined BIGINT NOT NULL, first_seq BIGINT, last_seq BIGINT
);
CREATE VIEW quarantine_readable AS
    SELECT quarantined_at, batch_id, source_file, line_number, reason_code, reason,
           coalesce(try(decode(raw)), '<' || raw_bytes || ' bytes, not valid UTF-8>') AS raw_text, raw_bytes
    FROM quarantine;
CREATE TABLE export_deliveries (
    config_id VARCHAR NOT NULL, config_name VARCHAR NOT NULL, export_number BIGINT NOT NULL,
    org_id VARCHAR NOT NULL, from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, previous_cutoff_at TIMESTAMPTZ,
    cutoff_at TIMESTAMPTZ NOT NULL, events BIGINT NOT NULL, gzip BOOLEAN NOT NULL, status VARCHAR NOT NULL,
    planned_run_id VARCHAR, delivered_run_id VARCHAR, delivered_at TIMESTAMPTZ,
    PRIMARY KEY (config_id, export_number)
);
CREATE TABLE export_parts (
    config_id VARCHAR NOT NULL, export_number BIGINT NOT NULL, part_number INTEGER NOT NULL,
    from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, events BIGINT NOT NULL, object_key VARCHAR NOT NULL,
    bytes BIGINT, sha256 VARCHAR, PRIMARY KEY (config_id, export_number, part_number)
);
CREATE TABLE export_digests (
    config_id VARCHAR NOT NULL, export_number BIGINT NOT NULL, digest_key VARCHAR NOT NULL,
    bytes BIGINT NOT NULL, sha256 VARCHAR NOT NULL, signing_key_id VARCHAR NOT NULL, document BLOB NOT NULL,
    PRIMARY KEY (config_id, export_number)
);
"""
# Derived tables as an ingestion run left them (their old shapes do not matter: they are never copied).
DERIVED_DDL = """
CREATE TABLE audit_summary AS SELECT org_id, count(*) AS events FROM events GROUP BY org_id;
CREATE TABLE audit_daily_rollup AS SELECT org_id, occurred_at::DATE AS day, count(*) AS n FROM events GROUP BY ALL;
CREATE VIEW audit_log AS SELECT * FROM events;
"""
# Many more events, made in SQL: seq above the fixed ones, alternating orgs, spread over the last 30 days.
EXTRA_EVENTS_SQL = """
INSERT INTO events
SELECT ? + i, 'x' || i, CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'globex' END,
       ?::TIMESTAMPTZ - to_seconds(i % 2592000), 'Scan', 'Scan Now', NULL, 'bulk' || (i % 97) || '@x.test', NULL,
       'Member', '10.0.0.' || (i % 250), NULL, 'success', json_object('n', i), ?::TIMESTAMPTZ, 'h' || i,
       'landing/bulk.jsonl', i
FROM range(1, ? + 1) AS r(i)
"""
CONTROL_DDL = """
CREATE TABLE export_configs (
    config_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL UNIQUE, org_id VARCHAR NOT NULL, bucket VARCHAR NOT NULL,
    region VARCHAR NOT NULL, prefix VARCHAR NOT NULL, frequency_hours INTEGER NOT NULL, role_arn VARCHAR NOT NULL,
    external_id VARCHAR NOT NULL UNIQUE, gzip BOOLEAN NOT NULL, enabled BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, first_export_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE export_connectors (
    external_id VARCHAR PRIMARY KEY, org_id VARCHAR NOT NULL, enabled_by VARCHAR NOT NULL,
    enabled_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE export_alert_streaks (
    config_name VARCHAR PRIMARY KEY, first_run_id VARCHAR NOT NULL, announced_at TIMESTAMPTZ NOT NULL
);
"""
ACCESS_DDL = """
CREATE TABLE users (
    email VARCHAR PRIMARY KEY, org_id VARCHAR NOT NULL, role VARCHAR NOT NULL, name VARCHAR,
    token_sha256 VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL, revoked_at TIMESTAMPTZ
)
"""
EVENTS_SQL = "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
NON_UTF8_RAW = b'{"event_id": "q1", "note": "caf\xe9 \xff"}'
CONFIG_ID = "cfg-0001"
EXTERNAL_ID = "ext-" + "x" * 40
DELIVERED_TO_SEQ = 4


@dataclass(frozen=True)
class LegacyHome:
    """What `build` stored, for the assertions."""

    home: Path
    events_by_org: dict[str, int]
    last_seq: int
    user_email: str
    user_token: str
    config_name: str

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(self.home / name for name in ("audit.duckdb", "control.duckdb", "access.duckdb"))


def _event(seq: int, org: str, occurred_at: datetime, received_at: datetime) -> list[object]:
    return [seq, f"e{seq}", org, occurred_at, "Authentication", "Login", None, f"user{seq}@{org}.test",
            f"User {seq}", "Admin", "10.0.0.1", "curl/8", "success", json.dumps({"n": seq}), received_at,
            f"hash-{seq}", "landing/old.jsonl", seq]


def build(home: Path, *, now: datetime | None = None, extra_events: int = 0) -> LegacyHome:
    """Old files holding events of two orgs, a quarantined non-UTF-8 record, a delivered export, a user."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    home.mkdir(parents=True, exist_ok=True)
    orgs = ["acme", "acme", "globex", "acme", "globex", "acme"]
    rows = [_event(seq, org, now - timedelta(hours=10 - seq), now - timedelta(hours=1))
            for seq, org in enumerate(orgs, start=1)]
    last_seq = len(rows) + extra_events
    with duckdb.connect(str(home / "audit.duckdb")) as audit:
        audit.execute("SET TimeZone = 'UTC'")
        audit.execute(AUDIT_DDL)
        audit.executemany(EVENTS_SQL, rows)
        if extra_events:
            audit.execute(EXTRA_EVENTS_SQL, [len(rows), now, now, extra_events])
        audit.execute(DERIVED_DDL)
        audit.execute("INSERT INTO quarantine VALUES (?, 'b1', 'landing/old.jsonl', 7, 'invalid_utf8', "
                      "'line is not valid UTF-8', ?, ?)", [now - timedelta(hours=1), NON_UTF8_RAW, len(NON_UTF8_RAW)])
        audit.execute("INSERT INTO ingested_files VALUES ('f' || repeat('0', 63), 'old.jsonl', 2048, 7, ?, 0, 1, "
                      "'b1', ?)", [last_seq, now - timedelta(hours=1)])
        audit.execute("INSERT INTO ingest_batches VALUES ('b1', ?, ?, 1, 0, ?, 0, 1, 1, ?)",
                      [now - timedelta(hours=1), now - timedelta(hours=1), last_seq, last_seq])
        audit.execute("INSERT INTO export_deliveries VALUES (?, 'acme-logs', 1, 'acme', 0, ?, NULL, ?, 3, false, "
                      "'delivered', 'run-1', 'run-1', ?)",
                      [CONFIG_ID, DELIVERED_TO_SEQ, now - timedelta(minutes=30), now - timedelta(minutes=29)])
        for part, (low, high, count) in enumerate([(0, 2, 2), (2, DELIVERED_TO_SEQ, 1)], start=1):
            audit.execute("INSERT INTO export_parts VALUES (?, 1, ?, ?, ?, ?, ?, 100, 'abc')",
                          [CONFIG_ID, part, low, high, count, f"audit-logs/org_id=acme/part-{part}.json"])
        audit.execute("INSERT INTO export_digests VALUES (?, 1, 'audit-logs-digest/org_id=acme/1_digest.json', 5, "
                      "'def', 'key-1', ?)", [CONFIG_ID, b'{"d":1}'])
    with duckdb.connect(str(home / "control.duckdb")) as control:
        control.execute(CONTROL_DDL)
        control.execute(
            "INSERT INTO export_configs VALUES (?, 'acme-logs', 'acme', 'acme-audit-bucket', 'us-east-1', 'logs', "
            "1, 'arn:aws:iam::123456789012:role/audit-export', ?, false, true, ?, ?, ?)",
            [CONFIG_ID, EXTERNAL_ID, now - timedelta(days=2), now - timedelta(days=1), now - timedelta(days=2)])
        control.execute("INSERT INTO export_connectors VALUES (?, 'acme', 'ada@acme.test', ?)",
                        [EXTERNAL_ID, now - timedelta(days=2)])
    token = "legacy-token-" + "t" * 30
    with duckdb.connect(str(home / "access.duckdb")) as access:
        access.execute(ACCESS_DDL)
        access.execute("INSERT INTO users VALUES ('ada@acme.test', 'acme', 'admin', 'Ada', ?, ?, NULL)",
                       [token_digest(token), now - timedelta(days=3)])
    (home / "snapshot").mkdir(exist_ok=True)
    shutil.copyfile(home / "audit.duckdb", home / "snapshot" / "audit.duckdb")
    counts = {"acme": orgs.count("acme") + extra_events // 2,
              "globex": orgs.count("globex") + (extra_events + 1) // 2}
    return LegacyHome(home, counts, last_seq, "ada@acme.test", token, "acme-logs")
