"""Ingestion: what lands, what is counted as a duplicate, and what is quarantined with which reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.database import reader
from tests.conftest import event, ingest_now, land_records


def stored(paths: Paths, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with reader(paths) as connection:
        return connection.execute(sql, params or []).fetchall()


def quarantine(paths: Paths) -> list[tuple[object, ...]]:
    return stored(paths, "SELECT source_file, line_number, reason_code, reason, raw_text "
                         "FROM quarantine_readable ORDER BY source_file, line_number")


def test_valid_records_land_with_utc_times_and_increasing_sequence(paths: Paths) -> None:
    land_records(paths, [
        event("e1", occurred_at="2026-11-20T12:00:00+02:00"),
        event("e2", occurred_at="2026-11-20T09:30:00.123456-05:00"),
        event("e3", log_type="System", action="Maintenance", user_email=None, user_name=None),
    ])
    counts = ingest_now(paths)
    assert (counts.ingested, counts.duplicates, counts.quarantined) == (3, 0, 0)
    rows = stored(paths, "SELECT event_id, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%f'), ingest_seq "
                         "FROM events ORDER BY ingest_seq")
    assert rows == [
        ("e1", "2026-11-20T10:00:00.000000", 1),
        ("e2", "2026-11-20T14:30:00.123456", 2),
        ("e3", "2026-11-20T10:00:00.000000", 3),
    ]


def test_sequence_keeps_increasing_across_runs(paths: Paths) -> None:
    land_records(paths, [event("a1"), event("a2")], name="first.jsonl")
    ingest_now(paths)
    land_records(paths, [event("b1")], name="second.jsonl")
    counts = ingest_now(paths)
    assert (counts.first_seq, counts.last_seq) == (3, 3)
    assert stored(paths, "SELECT event_id FROM events ORDER BY ingest_seq") == [("a1",), ("a2",), ("b1",)]


def test_received_at_and_sequence_are_never_taken_from_input(paths: Paths) -> None:
    land_records(paths, [event("e1", received_at="1999-01-01T00:00:00Z", ingest_seq=999)])
    ingest_now(paths)
    rows = stored(paths, "SELECT ingest_seq, year(received_at), additional_info FROM events")
    assert rows[0][0] == 1 and rows[0][1] >= 2026
    assert json.loads(str(rows[0][2])) == {}


def test_unknown_fields_are_kept_in_additional_info(paths: Paths) -> None:
    land_records(paths, [event("e1", tenant_region="eu", additional_info={"user_role": "Admin"},
                               nested={"a": [1, 2]})])
    ingest_now(paths)
    info = json.loads(str(stored(paths, "SELECT additional_info FROM events")[0][0]))
    assert info == {"tenant_region": "eu", "user_role": "Admin", "nested": {"a": [1, 2]}}


def test_camel_case_platform_records_are_mapped(paths: Paths) -> None:
    land_records(paths, [{
        "id": "p1", "orgId": "acme", "date": "2026-11-20T10:00:00Z", "logType": "Scan", "logName": "Scan Now",
        "userId": "u-7", "userEmail": "bob@acme.test", "userName": "Bob", "scanId": "scan-42",
        "memberRoles": ["Admin"], "ticketingVendor": "Jira", "severity": "High",
    }])
    counts = ingest_now(paths)
    assert counts.ingested == 1
    row = stored(paths, "SELECT event_id, org_id, log_type, action, user_id, user_email, user_name, "
                        "additional_info FROM events")[0]
    assert row[:7] == ("p1", "acme", "Scan", "Scan Now", "u-7", "bob@acme.test", "Bob")
    assert json.loads(str(row[7])) == {
        "scan_id": "scan-42", "member_roles": ["Admin"], "ticketing_vendor": "Jira", "severity": "High",
    }


def test_outcome_is_normalised_or_derived_from_the_action(paths: Paths) -> None:
    land_records(paths, [event("e1", action="Login Failed"), event("e2", outcome="FAILURE"), event("e3")])
    ingest_now(paths)
    assert stored(paths, "SELECT event_id, outcome FROM events ORDER BY 1") == [
        ("e1", "failure"), ("e2", "failure"), ("e3", "success")]


BAD_LINES: list[tuple[str, str, str]] = [
    ("not json at all", "malformed_json", "not valid JSON"),
    ('{"event_id": "x", "org_id": ', "malformed_json", "not valid JSON"),
    ("[1, 2, 3]", "not_an_object", "array"),
    ('"just a string"', "not_an_object", "varchar"),
    (json.dumps({**event("m1"), "event_id": None}), "missing_field", "event_id (or id) is missing"),
    (json.dumps({k: v for k, v in event("m2").items() if k != "org_id"}), "missing_field", "org_id"),
    (json.dumps(event("t1", event_id=5)), "wrong_type", "event_id (or id) must be a string, got ubigint"),
    (json.dumps(event("t2", user_email=["a"])), "wrong_type", "user_email (or userEmail) must be a string"),
    (json.dumps(event("t3", occurred_at=1732000000)), "wrong_type", "occurred_at must be an RFC 3339 string"),
    (json.dumps(event("t4", occurred_at="2026-11-20T10:00:00")), "invalid_timestamp", "UTC offset"),
    (json.dumps(event("t5", occurred_at="2026-13-40T10:00:00Z")), "invalid_timestamp", "not RFC 3339"),
    (json.dumps(event("t6", outcome="maybe")), "invalid_value", "outcome must be success or failure"),
    (json.dumps(event("t7", additional_info="text")), "wrong_type", "additional_info must be a JSON object"),
    (json.dumps(event("t8", source_ip="not an ip")), "invalid_value", "source_ip"),
    (json.dumps(event("t9", event_id="")), "invalid_value", "event_id (or id) is empty"),
    (json.dumps(event("t10", event_id="x" * 300)), "too_long", "longer than 256"),
    (json.dumps(event("u1", user_email=None, user_name=None, user_id=None)), "missing_user", "user_id"),
    ('{"event_id": "n1", "org_id": "acme\u0000"}'.replace("\\u0000", "\x00"), "malformed_json", "JSON"),
]


@pytest.mark.parametrize(("line", "code", "reason_part"), BAD_LINES, ids=[b[1] + str(i) for i, b in
                                                                         enumerate(BAD_LINES)])
def test_each_bad_record_is_quarantined_with_a_reason_and_good_ones_survive(
    paths: Paths, line: str, code: str, reason_part: str
) -> None:
    land_records(paths, [event("good-before"), line, event("good-after")])
    counts = ingest_now(paths)
    assert (counts.ingested, counts.quarantined) == (2, 1)
    [(source, line_number, reason_code, reason, raw_text)] = quarantine(paths)
    assert (line_number, reason_code) == (2, code)
    assert reason_part.lower() in str(reason).lower()
    assert raw_text == line
    assert str(source).endswith("batch.jsonl")


def test_invalid_utf8_and_oversized_records_are_quarantined_with_their_bytes(paths: Paths) -> None:
    huge = json.dumps(event("big", additional_info={"blob": "x" * 10_000_000}))
    target = paths.landing / "mixed.jsonl"
    not_utf8 = b'{"event_id": "\xff\xfe"}'
    target.write_bytes(b"\n".join([
        json.dumps(event("ok1")).encode(), not_utf8, huge.encode(), json.dumps(event("ok2")).encode(),
    ]) + b"\n")
    counts = ingest_now(paths)
    assert (counts.ingested, counts.quarantined) == (2, 2)
    rows = stored(paths, "SELECT line_number, reason_code, raw_bytes, octet_length(raw) FROM quarantine "
                         "ORDER BY line_number")
    assert rows == [(2, "invalid_utf8", len(not_utf8), len(not_utf8)), (3, "record_too_large", len(huge), len(huge))]


def test_blank_lines_are_not_records(paths: Paths) -> None:
    land_records(paths, [event("e1"), "", "   ", event("e2")])
    counts = ingest_now(paths)
    assert (counts.records, counts.ingested, counts.quarantined) == (2, 2, 0)


def test_duplicates_are_counted_and_conflicting_copies_quarantined(paths: Paths) -> None:
    land_records(paths, [event("d1"), event("d2"), event("d1")], name="one.jsonl")
    first = ingest_now(paths)
    assert (first.ingested, first.duplicates, first.quarantined) == (2, 1, 0)
    land_records(paths, [event("d1"), event("d2", action="Logout"), event("d3")], name="two.jsonl")
    second = ingest_now(paths)
    assert (second.ingested, second.duplicates, second.quarantined) == (1, 1, 1)
    [(_, line, code, reason, _)] = quarantine(paths)
    assert (line, code) == (2, "conflicting_duplicate")
    assert "ingest_seq 2" in str(reason)
    assert stored(paths, "SELECT action FROM events WHERE event_id = 'd2'") == [("Login",)]


def test_same_event_id_in_two_orgs_is_two_events(paths: Paths) -> None:
    land_records(paths, [event("same", org_id="acme"), event("same", org_id="globex")])
    assert ingest_now(paths).ingested == 2


def test_the_same_file_never_lands_twice(paths: Paths, tmp_path: Path) -> None:
    content = json.dumps(event("f1")) + "\n"
    (paths.landing / "a.jsonl").write_text(content)
    ingest_now(paths)
    (paths.landing / "again-under-another-name.jsonl").write_text(content)
    counts = ingest_now(paths)
    assert (counts.files, counts.files_skipped, counts.records) == (0, 1, 0)
    assert stored(paths, "SELECT count(*) FROM events") == [(1,)]
    assert list(paths.landing.iterdir()) == []


def test_json_array_files_and_gzip_are_read(paths: Paths) -> None:
    (paths.landing / "array.json").write_text(json.dumps([event("a1"), event("a2"), 7]))
    with gzip.open(paths.landing / "lines.jsonl.gz", "wt") as handle:
        handle.write(json.dumps(event("g1")) + "\n" + json.dumps(event("g2")) + "\n")
    counts = ingest_now(paths)
    assert (counts.ingested, counts.quarantined) == (4, 1)
    [(source, line, code, _, raw)] = quarantine(paths)
    assert (str(source), line, code, raw) == ("array.json", 3, "not_an_object", "7")


def test_a_broken_json_array_is_quarantined_whole(paths: Paths) -> None:
    (paths.landing / "broken.json").write_text('[{"event_id": "x"}, ')
    counts = ingest_now(paths)
    assert counts.quarantined == 1
    [(_, _, code, reason, raw)] = quarantine(paths)
    assert code == "malformed_json_array" and "archive" in str(reason)
    assert raw == '[{"event_id": "x"}, '


def test_truncated_gzip_keeps_complete_lines_and_records_the_damage(paths: Paths) -> None:
    lines = "".join(json.dumps(event(f"z{i}")) + "\n" for i in range(2000))
    compressed = gzip.compress(lines.encode())
    (paths.landing / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) * 2 // 3])
    counts = ingest_now(paths)
    reasons = dict(stored(paths, "SELECT reason_code, count(*) FROM quarantine GROUP BY 1"))
    assert reasons.pop("truncated_gzip") == 1
    assert set(reasons) <= {"malformed_json"}
    assert counts.ingested > 100
    assert counts.ingested + sum(reasons.values()) + counts.duplicates <= 2000
    stored_ids = {r[0] for r in stored(paths, "SELECT event_id FROM events")}
    assert stored_ids == {f"z{i}" for i in range(counts.ingested)}


def test_ingested_files_are_archived_and_the_landing_folder_emptied(paths: Paths) -> None:
    land_records(paths, [event("e1")], name="x.jsonl")
    ingest_now(paths)
    assert list(paths.landing.iterdir()) == []
    assert [p.name for p in paths.archive.rglob("*.jsonl")] == ["x.jsonl"]


def test_search_like_values_are_stored_verbatim(paths: Paths) -> None:
    tricky = "O'Brien %_\\; DROP TABLE events; --"
    land_records(paths, [event("s1", user_name=tricky)])
    ingest_now(paths)
    assert stored(paths, "SELECT user_name FROM events") == [(tricky,)]


def test_the_database_file_is_a_real_duckdb_file(paths: Paths) -> None:
    land_records(paths, [event("e1")])
    ingest_now(paths)
    connection = database.open_reader(paths)
    try:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (1,)
    finally:
        connection.close()
