"""`audit-pipeline quarantine` shows what ingestion refused and why."""

from __future__ import annotations

import json

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.settings import Paths
from tests.conftest import event, ingest_now, land_records


def test_lists_counts_by_reason_and_the_records(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    land_records(paths, [event("ok"), "oops", "[1]", json.dumps(event("x", occurred_at="later"))])
    ingest_now(paths)
    assert main(["quarantine", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 3
    assert report["by_reason"] == {"invalid_timestamp": 1, "malformed_json": 1, "not_an_object": 1}
    assert {(r["line_number"], r["raw_preview"]) for r in report["records"]} >= {(2, "oops"), (3, "[1]")}

    assert main(["quarantine", "--reason", "malformed_json"]) == 0
    text = capsys.readouterr().out
    assert "Quarantined: 3" in text and "batch.jsonl:2  [malformed_json] not valid JSON" in text
    assert "[not_an_object]" not in text


def test_before_any_ingestion_it_says_what_to_do(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quarantine"]) == 2
    assert "run `audit-pipeline ingest` first" in capsys.readouterr().err
