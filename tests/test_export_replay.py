"""`export replay` re-delivers exactly the occurred_at range asked, as an audited Dagster run, and leaves the
scheduled stream's bookkeeping, windows and keys exactly as they would have been."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest

from audit_pipeline.assets.export_replay import REPLAY_TAG
from audit_pipeline.cli.main import main
from audit_pipeline.export.runner import PART_BYTES_ENV
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from tests.aws_sandbox import assert_exported_exactly_once, aws_sandbox, configure_export  # noqa: F401
from tests.conftest import event, ingest_now, land_records


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 and "--format" in argv else out


def at_hour(hour: int, minute: int = 0) -> str:
    return f"2026-11-20T{hour:02d}:{minute:02d}:00Z"


def bookkeeping(paths: Paths) -> list[tuple[Any, ...]]:
    connection = database.open_reader(paths)
    try:
        return connection.execute(
            "SELECT d.*, p.* FROM export_deliveries d JOIN export_parts p USING (config_id, export_number) "
            "ORDER BY d.export_number, p.part_number"
        ).fetchall()
    finally:
        connection.close()


def test_replay_writes_exactly_the_range_and_leaves_the_stream_alone(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PART_BYTES_ENV, "1500")
    land_records(paths, [event(f"a{h:02d}", occurred_at=at_hour(h)) for h in range(12)]
                 + [event(f"a{h:02d}-59", occurred_at=at_hour(h, 59)) for h in range(12)]
                 + [event(f"other{h}", org_id="globex", occurred_at=at_hour(h)) for h in range(12)])
    ingest_now(paths)
    configure_export(paths, aws_sandbox)
    assert run_cli(capsys, "export", "run", "acme-prod", "--format", "json")[0] == 0
    land_records(paths, [event(f"b{h}", occurred_at=at_hour(h, 30)) for h in range(6)], name="late.jsonl")
    ingest_now(paths)
    stream_before = bookkeeping(paths)
    keys_before = set(aws_sandbox.list_keys("acme-audit"))

    code, replayed = run_cli(capsys, "export", "replay", "acme-prod", "--since", at_hour(3), "--until",
                             at_hour(6), "--reason", "customer lost a day", "--format", "json")
    assert code == 0
    folder = f"exports/audit/audit-logs-replay/{replayed['replay_id']}/org_id=acme"
    assert replayed["folder"] == folder and replayed["reason"] == "customer lost a day"
    new_keys = set(aws_sandbox.list_keys("acme-audit")) - keys_before
    assert new_keys == {o["key"] for o in replayed["objects"]} and len(new_keys) > 1
    assert all(key.startswith(folder + "/part-") for key in new_keys)
    lines = [json.loads(line) for key in sorted(new_keys)
             for line in aws_sandbox.read_object("acme-audit", key).decode().splitlines()]
    expected = {"a03", "a03-59", "a04", "a04-59", "a05", "a05-59", "b3", "b4", "b5"}
    assert sorted(line["event_id"] for line in lines) == sorted(expected), "exactly [since, until) of acme"
    assert [line["occurred_at"] for line in lines] == sorted(line["occurred_at"] for line in lines)
    assert replayed["events_replayed"] == len(expected) == sum(o["events"] for o in replayed["objects"])

    assert bookkeeping(paths) == stream_before, "the stream's windows and keys were touched"

    with dg.DagsterInstance.get() as instance:
        [record] = instance.get_run_records(dg.RunsFilter(tags={REPLAY_TAG: "acme-prod"}))
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert record.dagster_run.run_id == replayed["run_id"]

    ingest_now(paths)  # the replay's audit event, landed like any event
    connection = database.open_reader(paths)
    try:
        [(info,)] = connection.execute(
            "SELECT additional_info FROM events WHERE log_type = 'System' AND org_id = 'acme' "
            "AND action = 'Audit Log Replay'"
        ).fetchall()
    finally:
        connection.close()
    info = json.loads(info)
    assert info["replay_id"] == replayed["replay_id"] and info["events_replayed"] == len(expected)
    assert info["range"] == {"since": at_hour(3), "until": at_hour(6)} and info["run_id"] == replayed["run_id"]

    code, second = run_cli(capsys, "export", "run", "acme-prod", "--format", "json")
    assert code == 0 and second["export_number"] == 2
    first_to_seq = stream_before[-1][5]
    assert second["window"]["from_seq"] == first_to_seq, "the next export starts where the last one ended"
    assert all("/audit-logs/org_id=acme/" in key and "_00000002_part-" in key for key in second["object_keys"])
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


@pytest.mark.parametrize(("since", "until", "message"), [
    ("2026-11-20T06:00:00Z", "2026-11-20T03:00:00Z", "must be before until"),
    ("2026-11-20T06:00:00", "2026-11-21", "needs a UTC offset"),
    ("yesterday", "2026-11-21", "is not a date or RFC 3339 time"),
])
def test_a_bad_range_is_a_one_line_error(
    paths: Paths, capsys: pytest.CaptureFixture[str], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    since: str, until: str, message: str,
) -> None:
    configure_export(paths, aws_sandbox)
    assert main(["export", "replay", "acme-prod", "--since", since, "--until", until]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
