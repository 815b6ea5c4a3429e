"""A Dagster run that fails outside its steps tells the CLI user why, in one line, and loses nothing."""

from __future__ import annotations

import pytest
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from audit_pipeline.cli.main import main
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader
from tests.conftest import event, land_records


def test_a_run_failing_outside_its_steps_reports_the_error_and_ingests_on_the_next_run(
    paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    land_records(paths, [event("a"), event("b")])

    def unreachable(*_: object, **__: object) -> None:
        raise ConnectionError("server closed the connection unexpectedly")

    with monkeypatch.context() as patch:
        # The ingestion asset's `duckdb` pool slot is claimed by the run, outside the step.
        patch.setattr(SqlEventLogStorage, "claim_concurrency_slot", unreachable)
        assert main(["ingest"]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert "failed" in error and "server closed the connection unexpectedly" in error, error

    assert main(["ingest", "--format", "json"]) == 0
    with reader(paths) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (2,)
