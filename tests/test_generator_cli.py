"""`audit-pipeline generate` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit_pipeline.cli import generate as generate_command
from audit_pipeline.cli.main import main
from audit_pipeline.domain.events import AuditEvent

END = "2026-11-20T12:00:00Z"


def test_json_output_lists_the_files_and_the_event_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "landing"
    code = main(["generate", "--out", str(out), "--events", "900", "--orgs", "2", "--days", "10",
                 "--seed", "4", "--end", END, "--format", "json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["events"] == 900
    files = [Path(name) for name in printed["files"]]
    assert sorted(files) == sorted(out.resolve().glob("events-*.jsonl"))
    lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 900
    assert {AuditEvent.from_input(json.loads(line)).org_id for line in lines} == {"acme", "globex"}


def test_table_output_summarises_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path), "--events", "500", "--end", END]) == 0
    output = capsys.readouterr()
    assert "500 events in 3 file(s), 2026-10-21T12:00:00Z to 2026-11-20T12:00:00Z" in output.out
    assert "planted suspicious events: audit_export_changed (3)" in output.out
    assert output.err == ""


def test_progress_goes_to_stderr_for_large_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate_command, "PROGRESS_FROM_EVENTS", 100)
    assert main(["generate", "--out", str(tmp_path), "--events", "300", "--end", END, "--format", "json"]) == 0
    output = capsys.readouterr()
    assert json.loads(output.out)["events"] == 300
    assert [line.split(":")[0] for line in output.err.splitlines()] == [
        "wrote events-acme-001.jsonl", "wrote events-globex-001.jsonl", "wrote events-initech-001.jsonl"]


@pytest.mark.parametrize("arguments, message", [
    (["--events", "0"], "events must be a positive number, got 0"),
    (["--events", "-5"], "events must be a positive number, got -5"),
    (["--orgs", "0"], "orgs must be a positive number, got 0"),
    (["--days", "0"], "days must be a positive number, got 0"),
    (["--end", "2026-11-20"], "--end '2026-11-20' is not RFC 3339 with a UTC offset"),
    (["--end", "2026-13-45T10:00:00Z"], "--end '2026-13-45T10:00:00Z' is not a valid date and time"),
    (["--events", "many"], "argument --events: invalid int value: 'many'"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            arguments: list[str], message: str) -> None:
    try:
        code = main(["generate", "--out", str(tmp_path / "out"), *arguments])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    output = capsys.readouterr()
    assert code == 2
    assert output.out == ""
    assert len(output.err.strip().splitlines()) == 1
    assert message in output.err
    assert not (tmp_path / "out").exists()


def test_refuses_a_folder_that_already_holds_generated_files(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path), "--events", "50", "--end", END]) == 0
    capsys.readouterr()
    assert main(["generate", "--out", str(tmp_path), "--events", "50", "--end", END]) == 2
    assert "already holds events-acme-001.jsonl" in capsys.readouterr().err
