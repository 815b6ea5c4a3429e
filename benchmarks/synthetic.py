"""Bulk synthetic events written straight into the lake's events table by DuckDB SQL.

The project's generator writes NDJSON landing files, which is what ingestion and export are measured on. A
history of ten million events built that way would cost minutes of generating and ingesting before any
measurement starts, so the query and window-export histories are generated here instead: one INSERT ... SELECT
over `range()`, rows in `ingest_seq` order with `occurred_at` rising with it (as a live feed lands them), the
same columns, types and content hash that ingestion stores. Every value is a pure function of the row number
and the seed, so a history is the same on every machine and run.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from audit_pipeline.storage.validation import CONTENT_HASH_SQL

HISTORY_SOURCE_FILE = "benchmark-history"
USERS_PER_ORG = 100
SLOTS = 1000
CHUNK_ROWS = 5_000_000

# (log_type, action, detail kind, weight): the mix an org's feed shows over a day.
KINDS: tuple[tuple[str, str, str, int], ...] = (
    ("Authentication", "Login", "login", 300),
    ("Authentication", "Logout", "none", 90),
    ("Authentication", "Login Failed", "login", 22),
    ("Authentication", "MFA Challenge", "mfa", 80),
    ("Authentication", "MFA Failed", "mfa", 5),
    ("Authentication", "Password Reset", "none", 4),
    ("Scan", "Scan Now", "scan", 60),
    ("Scan", "Scan Scheduled", "scan", 40),
    ("Scan", "Scan Completed", "scan", 90),
    ("Scan", "Scan Failed", "scan", 8),
    ("Notification", "Slack Alert Sent", "slack", 60),
    ("Notification", "Email Sent", "none", 30),
    ("Ticketing", "Jira Ticket Opened", "jira", 35),
    ("Ticketing", "Jira Ticket Closed", "jira", 25),
    ("User Management", "User Invited", "target", 5),
    ("User Management", "Role Changed", "role", 3),
    ("User Management", "API Token Created", "none", 4),
    ("Policy", "Policy Updated", "policy", 12),
    ("Policy", "Policy Exception Granted", "policy", 4),
    ("Settings", "Settings Changed", "none", 6),
    ("Audit", "Audit Logs Viewed", "none", 30),
    ("Audit", "Audit Logs Searched", "none", 20),
    ("System", "Audit Log Export", "export", 40),
    ("System", "System Notice", "none", 2),
)
ORG_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "soylent", "stark", "wayne")
FIRST_NAMES = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
               "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yasmin")
LAST_NAMES = ("Adams", "Brown", "Clark", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kim",
              "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka")
ROLES = ("Admin", "Security Lead", "Developer", "Developer", "Developer", "Member", "Member", "Viewer")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "ox-cli/2.4.1 (linux; amd64)",
)

EVENT_ROWS_SQL = f"""
WITH drawn AS (
    SELECT i,
           $seq_base::BIGINT + i - $first::BIGINT AS ingest_seq,
           $start_us::BIGINT + (i - $first::BIGINT) * $step_us::BIGINT
               + (hash(i, $seed::BIGINT, 1) % $step_us::UBIGINT)::BIGINT AS occurred_us,
           list_extract($org_slots::INTEGER[], 1 + (hash(i, $seed::BIGINT, 2) % {SLOTS})::INTEGER) AS org_no,
           list_extract($kind_slots::INTEGER[], 1 + (hash(i, $seed::BIGINT, 3) % {SLOTS})::INTEGER) AS kind_no,
           floor({USERS_PER_ORG} * pow((hash(i, $seed::BIGINT, 4) % 1000000) / 1e6, 2))::INTEGER AS user_rank,
           hash(i, $seed::BIGINT, 5) AS h
    FROM range($first::BIGINT, $first::BIGINT + $count::BIGINT) AS r(i)
),
described AS (
    SELECT d.*,
           list_extract($org_names::VARCHAR[], org_no) AS org_id,
           list_extract($log_types::VARCHAR[], kind_no) AS log_type,
           list_extract($actions::VARCHAR[], kind_no) AS action,
           list_extract($details::VARCHAR[], kind_no) AS detail,
           list_extract($first_names::VARCHAR[], 1 + user_rank % {len(FIRST_NAMES)}) AS first,
           list_extract($last_names::VARCHAR[], 1 + (user_rank // {len(FIRST_NAMES)} + org_no * 3) % {len(LAST_NAMES)})
               AS last,
           list_extract($roles::VARCHAR[], 1 + (org_no + user_rank * 5) % {len(ROLES)}) AS drawn_role,
           list_extract($agents::VARCHAR[], 1 + (user_rank + org_no) % {len(USER_AGENTS)}) AS agent
    FROM drawn d
),
shaped AS (
    SELECT ingest_seq,
           'evt-' || $tag::VARCHAR || '-' || i::VARCHAR AS event_id,
           org_id, occurred_us, make_timestamp(occurred_us) AS occurred_at, log_type, action,
           CASE WHEN log_type <> 'System' THEN 'usr_' || org_id || '_' || user_rank::VARCHAR END AS user_id,
           CASE WHEN log_type <> 'System'
                THEN lower(first || '.' || last || user_rank::VARCHAR || '@' || org_id || '.example') END
               AS user_email,
           CASE WHEN log_type <> 'System' THEN first || ' ' || last END AS user_name,
           CASE WHEN log_type = 'System' THEN NULL WHEN user_rank < 2 THEN 'Admin' ELSE drawn_role END AS user_role,
           CASE WHEN log_type = 'System' THEN NULL
                WHEN h % 20 = 0 THEN '203.0.113.' || (1 + h % 250)::VARCHAR
                ELSE '10.' || org_no::VARCHAR || '.0.' || (user_rank + 1)::VARCHAR END AS source_ip,
           CASE WHEN log_type <> 'System' THEN agent END AS user_agent,
           CASE WHEN contains(action, 'Failed') THEN 'failure' ELSE 'success' END AS outcome,
           (CASE detail
               WHEN 'login' THEN json_object('login_type', CASE WHEN h % 3 = 0 THEN 'password' ELSE 'sso' END,
                                             'mfa', h % 4 <> 0)
               WHEN 'mfa' THEN json_object('method', CASE WHEN h % 2 = 0 THEN 'totp' ELSE 'webauthn' END)
               WHEN 'scan' THEN json_object('scan_id', 'scn_' || ((h >> 8) % 100000000)::VARCHAR,
                                            'repository', org_id || '/service-' || (h % 40)::VARCHAR)
               WHEN 'slack' THEN json_object('messaging_vendor', 'Slack', 'channel', '#sec-alerts',
                                             'severity', CASE WHEN h % 5 = 0 THEN 'high' ELSE 'medium' END)
               WHEN 'jira' THEN json_object('ticketing_vendor', 'Jira',
                                            'ticket_id', 'SEC-' || (1000 + h % 9000)::VARCHAR)
               WHEN 'target' THEN json_object('target_user',
                                              'new.hire' || (h % 500)::VARCHAR || '@' || org_id || '.example')
               WHEN 'role' THEN json_object('member_roles', json_array('Member', 'Admin'))
               WHEN 'policy' THEN json_object('policy', 'policy-' || (h % 30)::VARCHAR, 'severity', 'high')
               WHEN 'export' THEN json_object('export_config', org_id || '-prod')
               ELSE json_object()
           END)::JSON AS additional_info,
           occurred_us + (h % 5000000)::BIGINT AS received_us,
           i AS source_line
    FROM described
),
hashed AS (
    SELECT *, {CONTENT_HASH_SQL} AS content_hash FROM shaped
)
SELECT ingest_seq, event_id, org_id, to_timestamp(occurred_us / 1e6) AS occurred_at, log_type, action,
       user_id, user_email, user_name, user_role, source_ip, user_agent, outcome, additional_info,
       to_timestamp(received_us / 1e6) AS received_at, content_hash,
       '{HISTORY_SOURCE_FILE}' AS source_file, source_line
FROM hashed
"""


@dataclass(frozen=True)
class EventRange:
    """Rows `first`..`first + count - 1` of a seeded feed, spread evenly from `start` over `span`."""

    first: int
    count: int
    start: datetime
    span: timedelta
    orgs: int
    seed: int
    seq_base: int
    tag: str = "h"


def org_ids(orgs: int) -> list[str]:
    return [ORG_NAMES[i] if i < len(ORG_NAMES) else f"org-{i + 1:03d}" for i in range(orgs)]


def _slots(weights: list[float]) -> list[int]:
    """SLOTS entries, each a 1-based index, appearing in proportion to its weight."""
    total = sum(weights)
    slots: list[int] = []
    for index, weight in enumerate(weights, start=1):
        slots += [index] * round(SLOTS * weight / total)
    return (slots + [1] * SLOTS)[:SLOTS]


def org_weights(orgs: int) -> list[float]:
    """The first org is the largest: weight 1/(k+1)^0.7, as real tenants differ in size."""
    return [1.0 / (k + 1) ** 0.7 for k in range(orgs)]


def _epoch_us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _parameters(rows: EventRange) -> dict[str, object]:
    step_us = max(1, int(rows.span.total_seconds() * 1_000_000 / max(rows.count, 1)))
    return {
        "first": rows.first, "count": rows.count, "seq_base": rows.seq_base, "seed": rows.seed,
        "start_us": _epoch_us(rows.start), "step_us": step_us, "tag": rows.tag,
        "org_slots": _slots(org_weights(rows.orgs)), "org_names": org_ids(rows.orgs),
        "kind_slots": _slots([float(k[3]) for k in KINDS]),
        "log_types": [k[0] for k in KINDS], "actions": [k[1] for k in KINDS], "details": [k[2] for k in KINDS],
        "first_names": list(FIRST_NAMES), "last_names": list(LAST_NAMES), "roles": list(ROLES),
        "agents": list(USER_AGENTS),
    }


def insert_events(connection: duckdb.DuckDBPyConnection, rows: EventRange) -> None:
    """Append the rows to `events` (whose schema `database.writer` created), in ingest_seq order.

    An `ingest_batches` row records them as ingestion would; the caller sets `ingest_sequence` to the last
    ingest_seq in the same transaction (`datasets.set_ingest_sequence`), as every ingestion commit does.
    """
    connection.execute(f"INSERT INTO events {EVENT_ROWS_SQL}", _parameters(rows))
    last_seq = rows.seq_base + rows.count - 1
    connection.execute(
        "INSERT INTO ingest_batches VALUES (?, now(), now(), 0, 0, ?, 0, 0, ?, ?)",
        [f"{HISTORY_SOURCE_FILE}-{rows.tag}-{rows.seq_base}", rows.count, rows.seq_base, last_seq],
    )


def chunks(rows: EventRange, size: int = CHUNK_ROWS) -> list[EventRange]:
    """The same rows as consecutive ranges of at most `size` rows, each spread over its share of the span.

    One INSERT of ten million rows into the day-partitioned lake table keeps every partition's writer and
    its buffers open at once; inserting a few million at a time bounds the memory of a build.
    """
    if rows.count <= size:
        return [rows]
    step = rows.span / rows.count
    return [EventRange(first=rows.first + offset, count=min(size, rows.count - offset),
                       start=rows.start + step * offset, span=step * min(size, rows.count - offset),
                       orgs=rows.orgs, seed=rows.seed, seq_base=rows.seq_base + offset, tag=rows.tag)
            for offset in range(0, rows.count, size)]


def fingerprint() -> str:
    """Changes whenever the generated rows would: the SQL, the value lists and the insert itself."""
    digest = hashlib.sha256()
    for part in (EVENT_ROWS_SQL, repr((KINDS, ORG_NAMES, FIRST_NAMES, LAST_NAMES, ROLES, USER_AGENTS, USERS_PER_ORG,
                                       SLOTS)), inspect.getsource(insert_events), inspect.getsource(_parameters)):
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()[:10]


NDJSON_SQL = f"""
COPY (
    SELECT event_id, org_id, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS occurred_at, log_type, action,
           user_id, user_email, user_name, user_role, source_ip, user_agent, outcome, additional_info
    FROM ({EVENT_ROWS_SQL})
) TO $target (FORMAT json)
"""


def write_ndjson(connection: duckdb.DuckDBPyConnection, rows: EventRange, target: str) -> None:
    """The rows as an NDJSON landing file in the pipeline's own field names (what a feed would send)."""
    connection.execute(NDJSON_SQL, {**_parameters(rows), "target": target})
