"""What `login_from_new_ip` needs to know about earlier logins, kept per (org, user, source IP).

`suspicious_login_ips` holds, for each address a user logged in from successfully, the first such login
(`first_at`, `first_seq`: the rule orders logins by time, then ingest_seq), the last one and how many there
were. With it, the findings of a user can be recomputed from any point in time onward by reading only that
user's logins from that point: the number of earlier logins is the user's total minus those read, the
addresses already known are those first seen before it, and a login is the first from its address exactly
when it is the address's first login.
"""

from __future__ import annotations

from audit_pipeline.derived.expressions import USER_KEY_SQL
from audit_pipeline.derived.finding_rules import SUCCESSFUL_LOGIN

LOGIN_IPS = "suspicious_login_ips"
USERS = "suspicious_new_ip_users"
_MERGED = "suspicious_login_ips_merged"

_LOGINS = f"""
SELECT org_id, {USER_KEY_SQL} AS user_key, source_ip, occurred_at, ingest_seq, event_id FROM {{source}}
WHERE {SUCCESSFUL_LOGIN}
"""


def logins_sql(source: str) -> str:
    """The successful logins with a source IP and a user of `source` (a table name from code)."""
    return _LOGINS.format(source=source)


def rebuild_sql() -> str:
    return f"""
CREATE OR REPLACE TABLE {LOGIN_IPS} AS
SELECT org_id, user_key, source_ip, min(occurred_at) AS first_at,
       arg_min(ingest_seq, (occurred_at, ingest_seq)) AS first_seq, max(occurred_at) AS last_at,
       count(*) AS logins
FROM ({logins_sql('events')})
GROUP BY ALL
"""


_OF_USERS = f"(org_id, user_key) IN (SELECT (org_id, user_key) FROM {USERS})"


def stage_users_sql(batch: str) -> str:
    """The users with new logins, the earliest of them (`since`) and their last login of all (`until`)."""
    return f"""
CREATE OR REPLACE TEMP TABLE {USERS} AS
SELECT b.org_id, b.user_key, b.since,
       greatest(b.until, coalesce(max(h.last_at), b.until)) AS until
FROM (SELECT org_id, user_key, min(occurred_at) AS since, max(occurred_at) AS until
      FROM ({logins_sql(batch)}) GROUP BY org_id, user_key) b
LEFT JOIN {LOGIN_IPS} h ON h.org_id = b.org_id AND h.user_key = b.user_key
GROUP BY b.org_id, b.user_key, b.since, b.until
"""


def merge_statements(batch: str) -> tuple[str, ...]:
    """Fold the batch's logins into the users' rows."""
    return (
        f"""
CREATE OR REPLACE TEMP TABLE {_MERGED} AS
SELECT org_id, user_key, source_ip, min(first_at) AS first_at, arg_min(first_seq, (first_at, first_seq)) AS first_seq,
       max(last_at) AS last_at, CAST(sum(logins) AS BIGINT) AS logins
FROM (SELECT * FROM {LOGIN_IPS} WHERE {_OF_USERS}
      UNION ALL
      SELECT org_id, user_key, source_ip, occurred_at, ingest_seq, occurred_at, 1 FROM ({logins_sql(batch)}))
GROUP BY org_id, user_key, source_ip
""",
        f"DELETE FROM {LOGIN_IPS} WHERE {_OF_USERS}",
        f"INSERT INTO {LOGIN_IPS} SELECT * FROM {_MERGED}",
        f"DROP TABLE {_MERGED}",
    )


def recent_logins_sql(scope: str) -> str:
    """The staged users' logins from their `since` on, numbered as the rule numbers them over all logins.

    Run after `merge_statements`; `scope` holds every stored event of those users' days from `since` to `until`.
    """
    return f"""
        WITH recent AS (
            SELECT l.* FROM ({logins_sql(scope)}) l
            JOIN {USERS} u ON u.org_id = l.org_id AND u.user_key = l.user_key AND l.occurred_at >= u.since
        ),
        earlier AS (
            SELECT h.org_id, h.user_key, sum(h.logins) AS total,
                   count(*) FILTER (WHERE h.first_at < u.since) AS known_before
            FROM {LOGIN_IPS} h JOIN {USERS} u ON u.org_id = h.org_id AND u.user_key = h.user_key
            GROUP BY h.org_id, h.user_key
        ),
        read AS (SELECT org_id, user_key, count(*) AS logins FROM recent GROUP BY org_id, user_key),
        numbered AS (
            SELECT r.*,
                   e.total - n.logins
                       + row_number() OVER (PARTITION BY r.org_id, r.user_key ORDER BY r.occurred_at, r.ingest_seq)
                       - 1 AS prior_logins,
                   CASE WHEN r.occurred_at = h.first_at AND r.ingest_seq = h.first_seq THEN 1 ELSE 2 END
                       AS nth_from_ip,
                   e.known_before
            FROM recent r
            JOIN earlier e ON e.org_id = r.org_id AND e.user_key = r.user_key
            JOIN read n ON n.org_id = r.org_id AND n.user_key = r.user_key
            JOIN {LOGIN_IPS} h ON h.org_id = r.org_id AND h.user_key = r.user_key AND h.source_ip = r.source_ip
        ),
        known AS (
            SELECT *, known_before + coalesce(sum(CASE WHEN nth_from_ip = 1 THEN 1 ELSE 0 END) OVER (
                          PARTITION BY org_id, user_key ORDER BY occurred_at, ingest_seq
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS known_ips
            FROM numbered
        )
        SELECT * FROM known WHERE nth_from_ip = 1 AND prior_logins >= $new_ip_min_prior_logins
    """


SCOPE_DAYS_SQL = f"SELECT org_id, since AS first_at, until AS last_at FROM {USERS}"
DELETE_FINDINGS_CONDITION = f"""
EXISTS (SELECT 1 FROM {USERS} u WHERE u.org_id = f.org_id AND u.user_key = f."user" AND f.first_at >= u.since)
"""
