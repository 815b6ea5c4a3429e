"""Set-based validation of raw lines in DuckDB, built from the rules in `audit_pipeline.domain.events`.

`staged_records_sql()` turns a relation `staged_lines(line_no, raw BLOB)` into one row per non-blank line with
either the canonical fields or a `reason_code` and a human `reason`. Every identifier and literal below comes
from code constants, never from input; input values only ever reach DuckDB as data.
"""

from __future__ import annotations

import json

from audit_pipeline.domain.events import (
    CAMEL_ALIASES,
    DETAIL_ALIASES,
    FAILURE_ACTION_PATTERN,
    IP_PATTERN,
    MAX_ID_CHARS,
    MAX_RECORD_BYTES,
    MAX_TEXT_CHARS,
    OPTIONAL_TEXT_FIELDS,
    REQUIRED_TEXT_FIELDS,
    RESERVED_INPUT_KEYS,
    RFC3339_PATTERN,
    SYSTEM_LOG_TYPE,
    USER_FIELDS,
)
from audit_pipeline.storage.sql_text import rfc3339_utc

# The same text for the same event on any version: a re-sent copy must hash as its stored original.
CONTENT_HASH_SQL = f"""md5(concat_ws(chr(31), event_id, org_id, {rfc3339_utc("occurred_at")},
    log_type, action, coalesce(user_id, ''), coalesce(user_email, ''), coalesce(user_name, ''),
    coalesce(user_role, ''), coalesce(source_ip, ''), coalesce(user_agent, ''), outcome,
    additional_info::VARCHAR))"""


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _field(key: str) -> str:
    return 'f."' + key + '"'


def _present(key: str) -> str:
    """The JSON value at a top-level key, or SQL NULL when it is missing or JSON null."""
    return _field(key)


def _parsed_keys() -> tuple[str, ...]:
    """Every top-level key the validation reads: parsed once per line into a struct of JSON values."""
    keys = [*CAMEL_ALIASES.keys(), *CAMEL_ALIASES.values(), "outcome", *DETAIL_ALIASES.keys()]
    return tuple(dict.fromkeys(keys))


def _struct_shape() -> str:
    return _sql_string(json.dumps({key: "JSON" for key in _parsed_keys()}))


def _pick(field: str) -> str:
    camel = CAMEL_ALIASES.get(field)
    if camel is None:
        return _present(field)
    return f"coalesce({_present(field)}, {_present(camel)})"


def _label(field: str) -> str:
    camel = CAMEL_ALIASES.get(field)
    return f"{field} (or {camel})" if camel else field


_TEXT_LIMITS = {"event_id": MAX_ID_CHARS, "org_id": MAX_ID_CHARS, "log_type": MAX_TEXT_CHARS,
                "action": MAX_TEXT_CHARS, **{f: MAX_TEXT_CHARS for f in OPTIONAL_TEXT_FIELDS}}


def _checks() -> list[tuple[str, str, str]]:
    """(condition, reason_code, reason expression), in the order a record is judged."""
    checks: list[tuple[str, str, str]] = [
        ("raw_bytes > " + str(MAX_RECORD_BYTES), "record_too_large",
         f"'record is ' || raw_bytes || ' bytes; the limit is {MAX_RECORD_BYTES}'"),
        ("txt IS NULL", "invalid_utf8", "'not valid UTF-8'"),
        ("NOT json_valid(txt)", "malformed_json", "'not valid JSON'"),
        ("json_type(txt) <> 'OBJECT'", "not_an_object",
         "'a JSON ' || lower(json_type(txt)) || ', not an object'"),
    ]
    for field in ("event_id", "org_id", "log_type", "action", *OPTIONAL_TEXT_FIELDS):
        required = field in REQUIRED_TEXT_FIELDS
        if required:
            checks.append((f"v_{field} IS NULL", "missing_field", _sql_string(f"{_label(field)} is missing")))
        checks.append((f"v_{field} IS NOT NULL AND json_type(v_{field}) <> 'VARCHAR'", "wrong_type",
                       f"{_sql_string(_label(field) + ' must be a string, got ')} || lower(json_type(v_{field}))"))
        if required:
            checks.append((f"s_{field} = ''", "invalid_value", _sql_string(f"{_label(field)} is empty")))
        checks.append((f"length(s_{field}) > {_TEXT_LIMITS[field]}", "too_long",
                       _sql_string(f"{_label(field)} is longer than {_TEXT_LIMITS[field]} characters")))
    checks += [
        ("v_occurred_at IS NULL", "missing_field", _sql_string(f"{_label('occurred_at')} is missing")),
        ("json_type(v_occurred_at) <> 'VARCHAR'", "wrong_type",
         "'occurred_at must be an RFC 3339 string, got ' || lower(json_type(v_occurred_at))"),
        (f"NOT regexp_full_match(s_occurred_at, {_sql_string(RFC3339_PATTERN)}) "
         "OR try_cast(upper(s_occurred_at) AS TIMESTAMPTZ) IS NULL", "invalid_timestamp",
         "'occurred_at ' || left(s_occurred_at, 64) || ' is not RFC 3339 with a UTC offset'"),
        (f"s_source_ip IS NOT NULL AND NOT regexp_full_match(s_source_ip, {_sql_string(IP_PATTERN)})",
         "invalid_value", "'source_ip is not an IP address'"),
        ("v_outcome IS NOT NULL AND json_type(v_outcome) <> 'VARCHAR'", "wrong_type",
         "'outcome must be a string, got ' || lower(json_type(v_outcome))"),
        ("v_outcome IS NOT NULL AND lower(json_extract_string(v_outcome, '$')) NOT IN ('success', 'failure')",
         "invalid_value", "'outcome must be success or failure'"),
        ("v_additional_info IS NOT NULL AND json_type(v_additional_info) <> 'OBJECT'", "wrong_type",
         "'additional_info must be a JSON object, got ' || lower(json_type(v_additional_info))"),
        (" AND ".join(f"coalesce(s_{f}, '') = ''" for f in USER_FIELDS)
         + f" AND s_log_type <> {_sql_string(SYSTEM_LOG_TYPE)}", "missing_user",
         _sql_string("one of user_id, user_email or user_name is required unless log_type is System")),
    ]
    return checks


def _passes_every_check() -> str:
    """One conjunction that is true only for a record none of `_checks()` rejects.

    It reads the already extracted strings, so a clean record skips the long CASE; it may be false or NULL for
    a record that passes (the CASE then decides), never true for one that fails.
    """
    conditions = ["j IS NOT NULL"]
    for field in ("event_id", "org_id", "log_type", "action", *OPTIONAL_TEXT_FIELDS):
        limit = f"length(s_{field}) <= {_TEXT_LIMITS[field]}"
        if field in REQUIRED_TEXT_FIELDS:
            conditions.append(f"s_{field} <> '' AND {limit}")
        else:
            conditions.append(f"(v_{field} IS NULL OR {limit})")
    conditions += [
        f"regexp_full_match(s_occurred_at, {_sql_string(RFC3339_PATTERN)})",
        "try_cast(upper(s_occurred_at) AS TIMESTAMPTZ) IS NOT NULL",
        f"(v_source_ip IS NULL OR regexp_full_match(s_source_ip, {_sql_string(IP_PATTERN)}))",
        "(v_outcome IS NULL OR (json_type(v_outcome) = 'VARCHAR'"
        " AND lower(json_extract_string(v_outcome, '$')) IN ('success', 'failure')))",
        "(v_additional_info IS NULL OR json_type(v_additional_info) = 'OBJECT')",
        "(" + " OR ".join(f"s_{f} <> ''" for f in USER_FIELDS) + f" OR s_log_type = {_sql_string(SYSTEM_LOG_TYPE)})",
    ]
    return "\n                 AND ".join(conditions)


def _remove_reserved_patch() -> str:
    return _sql_string(json.dumps({key: None for key in sorted(RESERVED_INPUT_KEYS)}))


def _present_count(keys: list[str]) -> str:
    return " + ".join(f"({_field(key)} IS NOT NULL)::INTEGER" for key in keys)


_PARSED_RESERVED = [key for key in _parsed_keys() if key in RESERVED_INPUT_KEYS]
_KEPT_DETAILS = [camel for camel, snake in DETAIL_ALIASES.items() if camel == snake]


def _only_reserved_keys() -> str:
    """True when every top-level key of `j` is a reserved key with a non-null value.

    Then the first two merge patches of `additional_info` yield an empty object and the record's own
    additional_info alone decides the result. Keys outside the parsed struct, JSON nulls and repeated keys all
    make the counts differ and send the record down the general path.
    """
    return f"key_count = {_present_count(_PARSED_RESERVED)}"


def _only_reserved_and_detail_keys() -> str:
    """True when every top-level key of `j` is reserved or a platform detail field, none null, at most one of
    the details kept under their own name (whose order in `j` the general path would keep) is present, and
    that one is not an object (which the general path would copy with any nulls inside)."""
    details = _present_count(list(DETAIL_ALIASES))
    plain_kept = " AND ".join(f"NOT coalesce(starts_with({_field(key)}, '{{'), false)" for key in _KEPT_DETAILS)
    return (f"key_count = {_present_count(_PARSED_RESERVED)} + {details}"
            f" AND {_present_count(_KEPT_DETAILS)} <= 1 AND {plain_kept}")


def _details_merged() -> str:
    """additional_info of a record `_only_reserved_and_detail_keys` accepts, as the three merge patches give it.

    Removing the reserved keys from such a record leaves its detail fields: the kept one first, then the renamed
    ones in `DETAIL_ALIASES` order, each merged into nothing (which drops nulls inside objects). Merging one
    object of them all into an empty one does the same and also drops the absent ones (SQL NULL there).
    """
    pairs = [f"{_sql_string(key)}, {_field(key)}" for key in _KEPT_DETAILS]
    pairs += [f"{_sql_string(snake)}, {_field(camel)}" for camel, snake in DETAIL_ALIASES.items() if camel != snake]
    return (f"json_merge_patch(json_merge_patch('{{}}', json_object({', '.join(pairs)})), "
            "coalesce(v_additional_info, '{}'::JSON))")


def _rename_details_expr() -> str:
    pairs = []
    for camel, snake in DETAIL_ALIASES.items():
        if camel == snake:
            continue
        pairs += [_sql_string(camel), "'null'::JSON", _sql_string(snake), _field(camel)]
    return "json_object(" + ", ".join(pairs) + ")"


def staged_records_sql(*, fast_paths: bool = True) -> str:
    """SQL selecting validated records from `staged_lines`; a record passes when reason_code IS NULL.

    `fast_paths=False` leaves out the shortcuts for common records (the one-expression verdict and the single
    merge patch), so a test can check that both ways give the same rows byte for byte.
    """
    clean = _passes_every_check() if fast_paths else "false"
    only_reserved = _only_reserved_keys() if fast_paths else "false"
    only_details = _only_reserved_and_detail_keys() if fast_paths else "false"
    key_count = "len(json_keys(j))" if fast_paths else "NULL"
    text_fields = ("event_id", "org_id", "log_type", "action", *OPTIONAL_TEXT_FIELDS)
    picks = ",\n           ".join(
        f"{_pick(f)} AS v_{f}" for f in (*text_fields, "occurred_at", "outcome", "additional_info")
    )
    # The JSON values come re-serialised from from_json, so a string is exactly a value starting with a quote.
    strings = ",\n           ".join(
        f"CASE WHEN starts_with(v_{f}, '\"') THEN json_extract_string(v_{f}, '$') END AS s_{f}"
        for f in (*text_fields, "occurred_at")
    )
    verdict = "\n".join(f"            WHEN {cond} THEN {_sql_string(code)}" for cond, code, _ in _checks())
    reason = "\n".join(f"            WHEN {cond} THEN {expr}" for cond, _, expr in _checks())
    return f"""
    WITH decoded AS (
        SELECT line_no, raw, octet_length(raw) AS raw_bytes,
               CASE WHEN octet_length(raw) <= {MAX_RECORD_BYTES} THEN try(decode(raw)) END AS txt
        FROM staged_lines
    ),
    nonblank AS (
        -- A regular expression finds a non-blank character several times faster than trim() on long lines.
        SELECT * FROM decoded WHERE txt IS NULL OR regexp_matches(txt, '[^ \t\r\n]')
    ),
    parsed AS (
        -- Text whose first non-blank character is '{{' is an object when it parses: from_json fails exactly
        -- where json_valid is false, so one parse tells both (try() turns the failure into NULL).
        SELECT *, CASE WHEN txt IS NOT NULL AND regexp_matches(txt, '^[ \t\r\n]*[{{]')
                       THEN try(from_json(txt, {_struct_shape()})) END AS f
        FROM nonblank
    ),
    objects AS (
        SELECT *, CASE WHEN f IS NOT NULL THEN txt END AS j
        FROM parsed
    ),
    picked AS (
        SELECT line_no, raw, raw_bytes, txt, j, f, {key_count} AS key_count,
           {picks}
        FROM objects
    ),
    stringified AS (
        SELECT *,
           {strings}
        FROM picked
    ),
    judged AS (
        SELECT *,
            CASE WHEN {clean} THEN NULL ELSE
            CASE
{verdict}
            END END AS reason_code
        FROM stringified
    ),
    explained AS (
        SELECT *,
            CASE WHEN reason_code IS NOT NULL THEN
                CASE
{reason}
                END
            END AS reason
        FROM judged
    ),
    normalised AS (
    SELECT line_no, raw, raw_bytes, reason_code, reason,
           s_event_id AS event_id, s_org_id AS org_id,
           CASE WHEN reason_code IS NULL THEN upper(s_occurred_at)::TIMESTAMPTZ END AS occurred_at,
           s_log_type AS log_type, s_action AS action,
           s_user_id AS user_id, s_user_email AS user_email, s_user_name AS user_name,
           s_user_role AS user_role, s_source_ip AS source_ip, s_user_agent AS user_agent,
           CASE WHEN reason_code IS NOT NULL THEN NULL
                WHEN v_outcome IS NOT NULL THEN lower(json_extract_string(v_outcome, '$'))
                WHEN regexp_matches(s_action, {_sql_string(FAILURE_ACTION_PATTERN)}, 'i') THEN 'failure'
                ELSE 'success' END AS outcome,
           CASE WHEN reason_code IS NOT NULL THEN NULL
                WHEN {only_reserved} THEN json_merge_patch('{{}}', coalesce(v_additional_info, '{{}}'::JSON))
                WHEN {only_details} THEN {_details_merged()}
                ELSE json_merge_patch(
                   json_merge_patch(json_merge_patch(j, {_remove_reserved_patch()}), {_rename_details_expr()}),
                   coalesce(v_additional_info, '{{}}'::JSON))
           END AS additional_info
    FROM explained
    )
    SELECT *, CASE WHEN reason_code IS NULL THEN {CONTENT_HASH_SQL} END AS content_hash
    FROM normalised
    """
