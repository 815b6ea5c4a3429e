"""`audit-pipeline logs` and `logs facets` through the real entry point, on a real ingested home folder."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.query.logs import EVENT_COLUMNS
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from tests.conftest import event, ingest_now, land_records

NOW = datetime.now(UTC).replace(microsecond=0)


def _stamp(delta: timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def records() -> list[dict[str, Any]]:
    long_note = "a very long note " * 10
    return [
        event("e1", occurred_at=_stamp(timedelta(minutes=10)), additional_info={"scan_id": "S-1"},
              action="Scan Now", log_type="Scan"),
        event("e2", occurred_at=_stamp(timedelta(hours=5)), org_id="globex", user_email="bob@globex.test",
              user_name="Bob O'Brien", user_role="Member"),
        event("e3", occurred_at=_stamp(timedelta(days=3)), action="Login Failed",
              additional_info={"message": long_note, "failure_reason": "50% \"off\"\nsecond line"}),
        event("e4", occurred_at=_stamp(timedelta(days=40)), user_email=None, user_name=None, user_role=None,
              log_type="System", action="Audit Log Export"),
        event("e5", occurred_at=_stamp(timedelta(days=100)), user_name="日本 太郎", user_email="taro@x.test",
              additional_info={"ticket_id": "JIRA-42"}, action="Jira Ticket Opened", log_type="Ticketing"),
        event("e6", occurred_at="2026-01-15T23:59:59Z", action="Logout"),
        event("e7", occurred_at="2026-01-16T00:00:00Z", action="Logout"),
    ]


@pytest.fixture
def home(paths: Paths) -> Paths:
    land_records(paths, records())
    assert ingest_now(paths).ingested == len(records())
    return paths


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["logs", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert (code, err) == (0, "")
    return json.loads(out)


def ids(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    return [e["event_id"] for e in run_json(capsys, *argv)["events"]]


def test_json_lists_every_event_newest_first(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(capsys)
    assert set(body) == {"total", "limit", "offset", "events"}
    assert (body["total"], body["limit"], body["offset"]) == (7, 50, 0)
    assert [e["event_id"] for e in body["events"]] == ["e1", "e2", "e3", "e4", "e5", "e7", "e6"]
    first = body["events"][0]
    assert list(first) == list(EVENT_COLUMNS)
    assert first["occurred_at"] == _stamp(timedelta(minutes=10))
    assert first["received_at"].endswith("Z")
    assert first["additional_info"] == {"scan_id": "S-1"}


def test_filters_narrow_the_list(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert ids(capsys, "--org", "globex") == ["e2"]
    assert ids(capsys, "--org", "globex", "--org", "acme", "--action", "scan now") == ["e1"]
    assert ids(capsys, "--action", "Logout", "--action", "LOGIN FAILED") == ["e3", "e7", "e6"]
    assert ids(capsys, "--user", "BOB@globex.test") == ["e2"]
    assert ids(capsys, "--user", "system") == ["e4"]
    assert ids(capsys, "--log-type", "ticketing", "--log-type", "scan") == ["e1", "e5"]
    assert ids(capsys, "--search", "o'brien") == ["e2"]
    assert ids(capsys, "--search", '"second line"') == ["e3"]
    assert ids(capsys, "--search", "50%") == ["e3"]
    assert ids(capsys, "--search", 'action:"jira ticket" 42') == ["e5"]
    assert ids(capsys, "--search", "user:taro type:tick") == ["e5"]


@pytest.mark.parametrize(
    ("period", "expected"),
    [("1h", ["e1"]), ("24h", ["e1", "e2"]), ("7d", ["e1", "e2", "e3"]), ("30d", ["e1", "e2", "e3"]),
     ("90d", ["e1", "e2", "e3", "e4"]), ("all", ["e1", "e2", "e3", "e4", "e5", "e7", "e6"])],
)
def test_periods(home: Paths, capsys: pytest.CaptureFixture[str], period: str, expected: list[str]) -> None:
    assert ids(capsys, "--period", period) == expected


def test_since_is_inclusive_and_a_date_until_includes_that_day(
    home: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ids(capsys, "--since", "2026-01-16T00:00:00Z", "--until", "2026-01-17") == ["e7"]
    assert ids(capsys, "--since", "2026-01-15", "--until", "2026-01-15") == ["e6"]
    assert ids(capsys, "--until", "2026-01-16T00:00:00Z") == ["e6"]
    assert ids(capsys, "--since", "2026-01-16T01:00:00+01:00", "--until", "2026-01-16") == ["e7"]


def test_limit_and_offset_page_through(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    body = run_json(capsys, "--limit", "2", "--offset", "2")
    assert (body["total"], body["limit"], body["offset"]) == (7, 2, 2)
    assert [e["event_id"] for e in body["events"]] == ["e3", "e4"]
    assert run_json(capsys, "--offset", "99")["events"] == []


def test_csv_has_a_header_and_one_row_per_event(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--format", "csv", "--limit", "3")
    assert (code, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(EVENT_COLUMNS)
    assert [r["event_id"] for r in rows] == ["e1", "e2", "e3"]
    assert json.loads(rows[2]["additional_info"]) == records()[2]["additional_info"]
    assert rows[0]["occurred_at"] == _stamp(timedelta(minutes=10))
    assert rows[0]["user_id"] == ""


def test_table_shows_total_columns_and_position(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--limit", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Total: 7"
    for title in ("User", "Action", "Additional Info", "Log Type", "Date (UTC)"):
        assert title in lines[1]
    assert len(lines) == 3 + 3 + 1, "a newline inside a value must not break a row"
    assert lines[-1] == "showing 1-3 of 7"
    assert lines[3].startswith("acme          Alice Adams") and "Scan ID: S-1" in lines[3]  # Org column: no --org
    assert (NOW - timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S") in lines[3]
    assert "…" in lines[5], "long additional info is cut"
    assert max(len(line) for line in lines) <= 12 + 24 + 24 + 40 + 16 + 19 + 10


def test_table_of_an_empty_result(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--search", "nothing-like-this")
    assert code == 0
    assert out.splitlines()[0] == "Total: 0"
    assert out.splitlines()[-1] == "showing 0 of 0"


def test_facets_json_counts_each_facet_without_its_own_filter(
    home: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = run_json(capsys, "facets")
    assert set(everything) == {"action", "user", "log_type"}
    assert everything["action"] == dict(Counter(r["action"] for r in records()))
    assert everything["user"] == {"Alice Adams": 4, "Bob O'Brien": 1, "System": 1, "日本 太郎": 1}
    logouts = run_json(capsys, "facets", "--action", "logout")
    assert logouts["action"] == everything["action"]
    assert logouts["user"] == {"Alice Adams": 2}
    assert logouts["log_type"] == {"Authentication": 2}
    assert run_json(capsys, "--action", "logout", "facets") == logouts


def test_facets_table(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "facets", "--period", "7d", "--top", "1")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Total: 3"
    assert [line for line in lines if line and not line.startswith(" ")][1:] == ["Action", "User", "Log Type"]
    assert "  2  Alice Adams" in lines
    assert "  2  Authentication" in lines


def test_reads_the_lake_without_writing_it(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = Path(home.lake.catalog)
    before = (catalog.stat().st_mtime_ns, catalog.stat().st_size, _snapshots(home))
    assert run_json(capsys)["total"] == 7
    assert (catalog.stat().st_mtime_ns, catalog.stat().st_size, _snapshots(home)) == before


def _snapshots(paths: Paths) -> int:
    with database.reader(paths) as connection:
        row = connection.execute("SELECT count(*) FROM lake.snapshots()").fetchone()
    assert row is not None
    return int(row[0])


def test_before_any_ingestion(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["facets"], ["--format", "json"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "")
        assert err == "audit-pipeline: no events yet: run `audit-pipeline ingest` first\n"
    assert not Path(paths.lake.catalog).exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2h"], "unknown period '2h'"),
        (["--period", "7d", "--since", "2026-01-01"], "--period cannot be combined with --since/--until"),
        (["--period", "all", "--until", "2026-01-01"], "--period cannot be combined"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until 2026-01-01 must be later than --since"),
        (["--since", "2026-01-01T10:00:00Z", "--until", "2026-01-01T10:00:00Z"], "must be later than"),
        (["--limit", "-1"], "limit must be an integer from 0 to 10000"),
        (["--limit", "10001"], "limit must be an integer from 0 to 10000"),
        (["--offset", "-3"], "offset must be a non-negative integer"),
        (["--limit", "ten"], "--limit must be a whole number"),
        (["--since", "yesterday"], "'yesterday' is not a time"),
        (["--until", "2026-02-30"], "is not a valid date"),
        (["--since", "2026-01-01T10:00:00"], "use RFC 3339 with an offset"),
        (["--search", "x" * 501], "search is 501 characters long; the limit is 500"),
        (["facets", "--format", "csv"], "--format csv is only for the event list"),
        (["facets", "--top", "0"], "top must be a positive integer"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    home: Paths, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("audit-pipeline: ") and err.endswith("\n") and err.count("\n") == 1
    assert message in err


def test_unknown_view_is_a_usage_error(home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["logs", "summary"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'summary'" in capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("AUDIT_PIPELINE_CATALOG", "/tmp/lake.duckdb", "AUDIT_PIPELINE_CATALOG cannot be a DuckDB file"),
    ("AUDIT_PIPELINE_CATALOG", "mysql://db/lake", "AUDIT_PIPELINE_CATALOG must be a SQLite file path or a postgresql"),
    ("AUDIT_PIPELINE_DATA", "gs://bucket/lake", "AUDIT_PIPELINE_DATA must be a local folder or s3://bucket/prefix"),
])
def test_a_lake_setting_that_cannot_work_is_one_line_and_exit_2(
    paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    variable: str, value: str, message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code, out, err = run(capsys, "--format", "json")
    assert (code, out) == (2, "")
    assert err.startswith(f"audit-pipeline: {message}") and err.count("\n") == 1
