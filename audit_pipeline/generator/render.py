"""Rendering event rows to JSON lines in DuckDB, in the canonical shape or the platform API's camelCase one.

Lines are assembled by string concatenation from fragments computed once per org, kind and user (escaped
with `to_json`), because building a JSON document per row is several times slower. Each detail value is
either a code constant (checked free of characters JSON would escape) or an already-escaped fragment.
Planted events carry their own additional_info as JSON and take the slower JSON-function path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from audit_pipeline.domain.events import CAMEL_ALIASES, DETAIL_ALIASES, FAILURE_ACTION_PATTERN

LOGIN_TYPES = ("password", "sso", "google", "github")
FAILURE_REASONS = ("wrong password", "unknown user", "account locked", "expired password")
MFA_METHODS = ("totp", "webauthn", "sms")
SCAN_ERRORS = ("repository not reachable", "scanner timed out", "token expired")
CHANNELS = ("#security-alerts", "#appsec", "#devops", "#incidents")
SEVERITIES = ("Low", "Medium", "High", "Critical")
ROLES_BELOW_ADMIN = ("Security Lead", "Developer", "Member", "Viewer")
POLICIES = ("Block critical vulnerabilities", "Require code review", "No secrets in code",
            "Pin third-party actions", "SBOM required for releases")
SETTINGS = ("session_timeout_minutes", "sso_enforced", "ip_allowlist", "default_scan_frequency")
INTEGRATIONS = ("GitHub", "GitLab", "Jira", "Slack", "AWS", "Azure DevOps")
EXPORT_FREQUENCIES = ("1", "6", "12", "24")
SEARCHES = ("action:Login", "user:admin", "Scan Failed", "Role Changed", "export")
PERIODS = ("24h", "7d", "30d", "90d")
SYSTEM_MESSAGES = ("Scheduled maintenance completed", "New scanner rules published", "Platform upgrade")

EVENT_ID_SQL = "printf('evt_%08x%08x', s.seq, s.rand)"
_PLAIN = re.compile(r"[^\"\\\x00-\x1f]*")

TEXT = "text"  # an SQL expression giving plain text that needs no JSON escaping
JSON = "json"  # an SQL expression giving a JSON fragment (number, literal, or to_json output)


@dataclass(frozen=True)
class Detail:
    key: str
    sql: str
    shape: str = TEXT


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pick(values: Sequence[str], index: str) -> str:
    """One of the constants, chosen by a random number (a CASE: much faster than indexing a list literal)."""
    assert all(_PLAIN.fullmatch(v) for v in values), values
    whens = " ".join(f"WHEN {i} THEN {_text(v)}" for i, v in enumerate(values))
    return f"(CASE ({index}) % {len(values)} {whens} END)"


def _number(sql: str) -> str:
    return f"CAST({sql} AS VARCHAR)"


_SCAN_ID = Detail("scan_id", "printf('scan-%s-%06d', o.org_id, s.scan_no)")
_SEVERITY = Detail("severity", _pick(SEVERITIES, "s.detail_b"))
_TICKET = Detail("ticket_id", "concat('SEC-', 1000 + s.detail_a % 9000)")
_NEW_ROLE = (f"CASE WHEN {_pick(ROLES_BELOW_ADMIN, 's.detail_b')} = t.user_role "
             f"THEN {_pick(ROLES_BELOW_ADMIN, 's.detail_b + 1')} ELSE {_pick(ROLES_BELOW_ADMIN, 's.detail_b')} END")

DETAILS: dict[str, tuple[Detail, ...]] = {
    "none": (),
    "login": (Detail("login_type", _pick(LOGIN_TYPES, "s.detail_a")),),
    "login_failed": (Detail("login_type", _pick(LOGIN_TYPES, "s.detail_a")),
                     Detail("failure_reason", _pick(FAILURE_REASONS, "s.detail_b"))),
    "mfa": (Detail("mfa_method", _pick(MFA_METHODS, "s.detail_a")),),
    "scan": (_SCAN_ID, Detail("repositories", _number("1 + s.detail_a % 40"), JSON)),
    "scan_completed": (_SCAN_ID, Detail("duration_seconds", _number("s.duration_s"), JSON),
                       Detail("issues_found", _number("s.detail_a % 60"), JSON)),
    "scan_failed": (_SCAN_ID, Detail("duration_seconds", _number("s.duration_s"), JSON),
                    Detail("error", _pick(SCAN_ERRORS, "s.detail_a"))),
    "slack": (Detail("messaging_vendor", "'Slack'"), Detail("channel", _pick(CHANNELS, "s.detail_a")),
              Detail("slack_user", "u.slack_handle_json", JSON), _SEVERITY),
    "teams": (Detail("messaging_vendor", "'Microsoft Teams'"), Detail("channel", _pick(CHANNELS, "s.detail_a")),
              _SEVERITY),
    "email": (Detail("recipient", "u.email_json", JSON), _SEVERITY),
    "jira": (_TICKET, Detail("ticketing_vendor", "'Jira'"), _SEVERITY),
    "invite": (Detail("target_user", "concat('new.hire', s.detail_a % 100000, '@', o.org_id, '.example')"),
               Detail("member_roles", f"concat('[\"', {_pick(ROLES_BELOW_ADMIN, 's.detail_b')}, '\"]')", JSON)),
    "role_change": (Detail("target_user", "t.email_json", JSON), Detail("old_role", "t.role_json", JSON),
                    Detail("new_role", _NEW_ROLE), Detail("member_roles", f"concat('[\"', {_NEW_ROLE}, '\"]')", JSON)),
    "target_user": (Detail("target_user", "t.email_json", JSON),),
    "token": (Detail("token_name", "concat('ci-token-', s.detail_a % 1000)"),
              Detail("scopes", "'[\"read:findings\"]'", JSON)),
    "policy": (Detail("policy_name", _pick(POLICIES, "s.detail_a")),),
    "policy_exception": (Detail("policy_name", _pick(POLICIES, "s.detail_a")), _TICKET,
                         Detail("expires_in_days", "'30'", JSON)),
    "setting": (Detail("setting", _pick(SETTINGS, "s.detail_a")),),
    "export_config": (Detail("s3_bucket", "concat(o.org_id, '-audit-logs')"), Detail("s3_region", "'eu-west-1'"),
                      Detail("frequency_hours", _pick(EXPORT_FREQUENCIES, "s.detail_a"), JSON),
                      Detail("enabled", "'true'", JSON)),
    "integration": (Detail("integration", _pick(INTEGRATIONS, "s.detail_a")),),
    "audit_view": (Detail("period", _pick(PERIODS, "s.detail_a")),),
    "audit_search": (Detail("query", _pick(SEARCHES, "s.detail_a")), Detail("period", _pick(PERIODS, "s.detail_b"))),
    "audit_download": (Detail("format", "'json'"),),
    "system_export": (Detail("exported_events", _number("s.detail_a % 500"), JSON),
                      Detail("window_hours", "'1'", JSON)),
    "system_message": (Detail("message", _pick(SYSTEM_MESSAGES, "s.detail_a")),),
}

_HOISTED = {snake: camel for camel, snake in DETAIL_ALIASES.items()}


Piece = tuple[bool, str]  # (is a literal, text): literal text, or an SQL expression


def _concat(pieces: Sequence[Piece]) -> str:
    """One `concat(...)` call, with neighbouring literals merged: far cheaper per row than chained `||`."""
    merged: list[Piece] = []
    for piece in pieces:
        if piece[0] and merged and merged[-1][0]:
            merged[-1] = (True, merged[-1][1] + piece[1])
        else:
            merged.append(piece)
    sql = [_text(text) if literal else text for literal, text in merged]
    if not sql:
        return "''"
    return sql[0] if len(sql) == 1 else "concat(" + ", ".join(sql) + ")"


def _pair(name: str, detail: Detail) -> list[Piece]:
    value = [(True, '"'), (False, detail.sql), (True, '"')] if detail.shape == TEXT else [(False, detail.sql)]
    return [(True, f'"{name}":'), *value]


def _object(details: Sequence[Detail]) -> list[Piece]:
    pieces: list[Piece] = [(True, "{")]
    for index, detail in enumerate(details):
        pieces += [*([(True, ",")] if index else []), *_pair(detail.key, detail)]
    return [*pieces, (True, "}")]


DETAIL_CODES = {name: code for code, name in enumerate(DETAILS)}


def _by_detail(render: dict[str, str]) -> str:
    """A CASE over the kind's detail code (integers compare far faster than names in a 25-way CASE)."""
    whens = " ".join(f"WHEN {DETAIL_CODES[detail]} THEN {sql}" for detail, sql in render.items())
    return f"CASE k.detail_code {whens} ELSE '' END"


def _canonical_info() -> str:
    return _by_detail({name: _concat([(True, ',"additional_info":'), *_object(details)] if details else [])
                       for name, details in DETAILS.items()})


def _camel_info() -> str:
    rendered = {}
    for name, details in DETAILS.items():
        pieces: list[Piece] = []
        for detail in details:
            if detail.key in _HOISTED:
                pieces += [(True, ","), *_pair(_HOISTED[detail.key], detail)]
        rest = [d for d in details if d.key not in _HOISTED]
        if rest:
            pieces += [(True, ',"additionalInfo":'), *_object(rest)]
        rendered[name] = _concat(pieces)
    return _by_detail(rendered)


def _camel_override() -> str:
    """Planted camelCase rows: hoist the API's detail fields out of their JSON additional_info."""
    hoisted = " || ".join(
        f"coalesce(',\"{camel}\":' || json_extract(s.info_override, {_text('$.' + snake)})::VARCHAR, '')"
        for camel, snake in DETAIL_ALIASES.items())
    removed = _text("{" + ", ".join(f'"{snake}": null' for snake in DETAIL_ALIASES.values()) + "}")
    rest = f"nullif(json_merge_patch(s.info_override, {removed})::VARCHAR, '{{}}')"
    return f"{hoisted} || coalesce(',\"additionalInfo\":' || {rest}, '')"


def _user_fragment(fields: Sequence[str], names: dict[str, str]) -> str:
    return " || ".join(f"coalesce(',\"{names[f]}\":' || to_json({f})::VARCHAR, '')" for f in fields)


_USER_FIELDS = ("user_id", "user_email", "user_name", "user_role", "user_agent")
_CANONICAL_NAMES = {f: f for f in _USER_FIELDS}

USER_FRAGMENTS_SQL = f"""
CREATE TABLE user_fragments AS
SELECT user_idx, org_idx, org_rank, user_role, source_ip,
       {_user_fragment(_USER_FIELDS, _CANONICAL_NAMES)} AS canonical_user,
       {_user_fragment(_USER_FIELDS, CAMEL_ALIASES)} AS camel_user,
       to_json(user_email)::VARCHAR AS email_json, to_json(user_role)::VARCHAR AS role_json,
       to_json('@' || split_part(user_email, '@', 1))::VARCHAR AS slack_handle_json
FROM users
"""

KIND_FRAGMENTS_SQL = f"""
CREATE TABLE kind_fragments AS
SELECT kind_idx, detail_code, action,
       ',"log_type":' || to_json(log_type)::VARCHAR || ',"action":' || to_json(action)::VARCHAR
           || ',"outcome":"' || CASE WHEN regexp_matches(action, {_text(FAILURE_ACTION_PATTERN)}, 'i')
                                     THEN 'failure' ELSE 'success' END || '"' AS canonical_kind,
       ',"{CAMEL_ALIASES['log_type']}":' || to_json(log_type)::VARCHAR
           || ',"{CAMEL_ALIASES['action']}":' || to_json(action)::VARCHAR AS camel_kind
FROM kinds
"""

_TIMESTAMP = "strftime(make_timestamp(s.at_us), '%Y-%m-%dT%H:%M:%S.%g')"
_IP = "coalesce(s.ip_override, u.source_ip)"

LINES_SQL = f"""
SELECT s.org_idx, s.file_no, CASE WHEN s.camel THEN concat(
           '{{"{CAMEL_ALIASES['event_id']}":"', {EVENT_ID_SQL}, '","{CAMEL_ALIASES['org_id']}":', o.org_json,
           ',"{CAMEL_ALIASES['occurred_at']}":"', {_TIMESTAMP}, '+00:00"', k.camel_kind, u.camel_user,
           ',"{CAMEL_ALIASES['source_ip']}":"' || {_IP} || '"',
           CASE WHEN s.info_override IS NULL THEN {_camel_info()} ELSE {_camel_override()} END, '}}', chr(10))
       ELSE concat(
           '{{"event_id":"', {EVENT_ID_SQL}, '","org_id":', o.org_json,
           ',"occurred_at":"', {_TIMESTAMP}, 'Z"', k.canonical_kind, u.canonical_user,
           ',"source_ip":"' || {_IP} || '"',
           CASE WHEN s.info_override IS NULL THEN {_canonical_info()}
                ELSE ',"additional_info":' || s.info_override END, '}}', chr(10))
       END AS line
FROM slots s
JOIN (SELECT org_idx, org_id, to_json(org_id)::VARCHAR AS org_json FROM orgs) o USING (org_idx)
JOIN kind_fragments k USING (kind_idx)
LEFT JOIN user_fragments u ON u.user_idx = s.user_idx
LEFT JOIN user_fragments t ON t.org_idx = s.org_idx AND t.org_rank = s.target_rank
ORDER BY s.org_idx, s.file_no, s.at_us, s.seq
"""
"""Each line ends with a newline, so a result chunk's string data is already the file's bytes.
`concat` skips NULL arguments; optional fields are built with `||` so that a NULL value drops its key too."""

PLANTED_SQL = f"""
SELECT s.plant_rule, list({EVENT_ID_SQL} ORDER BY s.at_us, s.seq)
FROM slots s WHERE s.plant_rule IS NOT NULL GROUP BY 1 ORDER BY 1
"""
