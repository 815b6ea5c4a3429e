"""The pydantic model and the SQL validation must accept, reject and normalise the same records."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import duckdb
import pyarrow as pa
import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_pipeline.domain.events import AuditEvent, event_json_schema
from audit_pipeline.domain.schema_file import SCHEMA_FILE, render
from audit_pipeline.storage.validation import staged_records_sql

TEXTS = st.one_of(
    st.none(), st.just(""), st.text(max_size=12), st.integers(), st.booleans(), st.lists(st.integers(), max_size=2),
    st.sampled_from(["Alice", "bob@x.test", "O'Brien", "%_\\;", "é🙂"]), st.just("y" * 1025),
)
TIMES = st.one_of(
    st.none(), st.integers(), st.sampled_from([
        "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.5+05:30", "2026-11-20 10:00:00-08:00", "2026-11-20T10:00:00",
        "2026-02-30T10:00:00Z", "yesterday", "2026-11-20T10:00:00z", "2026-11-20T10:00:00.123456789Z",
    ]),
)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "event_id": TEXTS, "id": TEXTS, "org_id": TEXTS, "orgId": TEXTS, "occurred_at": TIMES, "date": TIMES,
        "log_type": st.one_of(TEXTS, st.just("System")), "logType": TEXTS,
        "action": st.one_of(TEXTS, st.sampled_from(["Login", "Login Failed"])), "logName": TEXTS,
        "user_id": TEXTS, "userEmail": TEXTS, "user_name": TEXTS, "user_role": TEXTS,
        "source_ip": st.one_of(st.none(), st.sampled_from(["10.0.0.1", "::1", "fe80::1", "nope", "1"])),
        "outcome": st.one_of(st.none(), st.sampled_from(["success", "FAILURE", "maybe"]), st.integers()),
        "additional_info": st.one_of(st.none(), st.just("text"), st.dictionaries(
            st.sampled_from(["k", "scan_id", "n"]), st.one_of(st.integers(), st.text(max_size=3)), max_size=2)),
        "scanId": st.one_of(st.none(), st.text(max_size=4)),
        "channel": st.text(max_size=3),
        "custom": st.one_of(st.none(), st.integers(), st.dictionaries(st.just("x"), st.integers(), max_size=1)),
    },
)
BASE = {"event_id": "e", "org_id": "o", "occurred_at": "2026-11-20T10:00:00Z", "log_type": "Scan",
        "action": "Scan Now", "user_name": "U"}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
VALID_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=10)
VALID_TIMES = st.sampled_from([
    "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.5+05:30", "2026-11-20 10:00:00-08:00", "2026-11-20t10:00:00z",
    "2026-11-20T10:00:00.123456789Z", "2026-08-01T00:37:06.990+00:00",
])
# Keys beside the canonical ones: camelCase details renamed into additional_info, unknown keys kept there,
# fields the pipeline sets itself, and a canonical key that may then appear under both of its names.
EXTRA_KEYS = st.sampled_from(
    ["scanId", "loginType", "channel", "severity", "custom", "received_at", "schema_version", "user_id"]
)

# One thing wrong with an otherwise common record, for each rule the validation applies.
ONE_FAULT = st.tuples(
    st.sampled_from(["event_id", "org_id", "log_type", "action", "user_name", "user_agent", "source_ip"]),
    st.sampled_from(["", "z" * 1025, 7, None, ["x"], "not an ip"]),
) | st.tuples(st.just("occurred_at"), st.sampled_from(["2026-02-30T10:00:00Z", "2026-11-20T10:00:00", 5])) \
  | st.tuples(st.just("outcome"), st.sampled_from(["maybe", 1, "FAILURE"])) \
  | st.tuples(st.just("additional_info"), st.sampled_from(["text", [1], None]))


@st.composite
def common_records(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly valid records in the canonical or the camelCase shape, the kind most lines of a feed are."""
    record: dict[str, Any] = {}
    for field, camel in (("event_id", "id"), ("org_id", "orgId"), ("log_type", "logType"), ("action", "logName"),
                         ("user_name", "userName")):
        record[draw(st.sampled_from([field, camel]))] = draw(VALID_TEXT | st.sampled_from(["System", "Login Failed"]))
    record[draw(st.sampled_from(["occurred_at", "date"]))] = draw(VALID_TIMES)
    for field, camel in (("user_id", "userId"), ("user_email", "userEmail"), ("user_role", "userRole"),
                         ("source_ip", "ipAddress")):
        if draw(st.booleans()):
            value = draw(st.sampled_from(["10.0.0.1", "::1"])) if field == "source_ip" else draw(VALID_TEXT)
            record[draw(st.sampled_from([field, camel]))] = value
    if draw(st.booleans()):
        record["outcome"] = draw(st.sampled_from(["success", "Failure", None]))
    if draw(st.booleans()):
        info = draw(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3))
        record[draw(st.sampled_from(["additional_info", "additionalInfo"]))] = info
    record.update(draw(st.dictionaries(EXTRA_KEYS, JSON_VALUES, max_size=2)))
    if draw(st.booleans()):
        field, value = draw(ONE_FAULT)
        record[field] = value
    return record


def staged_rows(lines: list[bytes], *, fast_paths: bool = True) -> list[dict[str, Any]]:
    table = pa.table({
        "line_no": pa.array(range(1, len(lines) + 1), type=pa.int64()),
        "raw": pa.array(lines, type=pa.binary()),
    })
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.register("staged_lines", table)
    cursor = connection.execute(staged_records_sql(fast_paths=fast_paths) + " ORDER BY line_no")
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    connection.close()
    return rows


def sql_verdicts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return staged_rows([json.dumps(r).encode() for r in records])


def model_verdict(record: dict[str, Any]) -> AuditEvent | None:
    try:
        return AuditEvent.from_input(record)
    except pydantic.ValidationError:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(RECORDS, RECORDS.map(lambda r: {**BASE, **r})), min_size=1, max_size=40))
def test_sql_and_model_agree_on_every_record(records: list[dict[str, Any]]) -> None:
    assert_sql_and_model_agree(records)


def assert_sql_and_model_agree(records: list[dict[str, Any]]) -> None:
    for record, row in zip(records, sql_verdicts(records), strict=True):
        model = model_verdict(record)
        assert (model is not None) == (row["reason_code"] is None), (record, row["reason"])
        if model is None:
            continue
        assert row["event_id"] == model.event_id and row["org_id"] == model.org_id
        assert row["occurred_at"].astimezone(UTC) == model.occurred_at
        assert row["outcome"] == model.outcome
        assert json.loads(row["additional_info"]) == model.additional_info
        for field in ("log_type", "action", "user_id", "user_email", "user_name", "user_role", "source_ip"):
            assert row[field] == getattr(model, field), field


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(common_records(), min_size=1, max_size=40))
def test_sql_and_model_agree_on_common_records(records: list[dict[str, Any]]) -> None:
    assert_sql_and_model_agree(records)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.one_of(common_records(), RECORDS), st.booleans(), st.booleans()), min_size=1, max_size=40)
)
def test_shortcuts_store_the_same_bytes_as_the_general_path(records: list[tuple[dict[str, Any], bool, bool]]) -> None:
    """Stored values and content hashes must not depend on which path judged a record: a re-sent copy of an
    event stored by one path must hash as its original."""
    lines = [json.dumps(record, ensure_ascii=ascii, separators=(", ", ": ") if spaced else (",", ":")).encode()
             for record, ascii, spaced in records]
    assert staged_rows(lines) == staged_rows(lines, fast_paths=False)


def test_shortcuts_store_the_same_bytes_on_edge_cases_of_additional_info() -> None:
    base = ('"event_id":"e","org_id":"o","occurred_at":"2026-11-20T10:00:00Z","log_type":"System",'
            '"action":"Export"')
    lines = [("{" + base + extra + "}").encode() for extra in (
        ',"channel":{"a":null,"b":1}',
        ',"severity":[null,{"x":null}]',
        ',"scanId":{"a":null,"b":{"c":null}},"channel":"c"',
        ',"severity":"hi","channel":"c"',
        ',"channel":"c","severity":"hi","loginType":"sso"',
        ',"channel":"c","channel":"d"',
        ',"scanId":"s","scanId":"t"',
        ',"scanId":null,"loginType":"sso"',
        ',"channel":null',
        ',"loginType":"sso","additional_info":{"login_type":null,"k":{"z":null}}',
        ',"additionalInfo":{"channel":{"y":1}},"channel":{"x":1}',
        ',"event_id":"again","received_at":"2026-01-01T00:00:00Z"',
    )]
    fast, general = staged_rows(lines), staged_rows(lines, fast_paths=False)
    assert all(row["reason_code"] is None for row in general)
    assert fast == general


def test_published_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "regenerate with: python -m audit_pipeline.domain.schema_file")


def test_schema_names_every_exported_field() -> None:
    properties = set(event_json_schema()["properties"])
    assert properties == {
        "event_id", "org_id", "occurred_at", "log_type", "action", "user_id", "user_email", "user_name",
        "user_role", "source_ip", "user_agent", "outcome", "additional_info", "received_at", "schema_version",
    }
