"""A config saved from the CLI while `dagster dev` runs is live at once: its schedule exists and its tick
asks for a run, with no manual reload."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.dagster_reload import WEBSERVER_ENV, reload_code_locations
from audit_pipeline.settings import Paths
from tests.dagster_dev import free_port, graphql, repositories, running_dagster_dev

DRY_RUN = """
mutation($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick { evaluationResult { skipReason error { message } runRequests {
        runKey jobName tags { key value } } } }
    ... on PythonError { message }
  }
}
"""
CONFIGURE = ["export", "configure", "--name", "acme-prod", "--org", "acme", "--bucket", "acme-audit",
             "--region", "eu-west-1", "--frequency-hours", "6",
             "--role-arn", "arn:aws:iam::123456789012:role/acme-export"]


def schedules(port: int) -> dict[str, tuple[str, str]]:
    return {s["name"]: (repo["location"]["name"], repo["name"])
            for repo in repositories(port) for s in repo["schedules"]}


def test_no_webserver_is_said_in_one_line_and_is_no_error(
    paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEBSERVER_ENV, f"127.0.0.1:{free_port()}")
    assert main(CONFIGURE) == 0
    assert "no Dagster webserver answered at 127.0.0.1:" in capsys.readouterr().out
    monkeypatch.setenv(WEBSERVER_ENV, "nonsense")
    assert "expected host:port" in reload_code_locations().message


@pytest.mark.timeout(600)
def test_configured_export_gets_a_schedule_tick_without_a_manual_reload(
    paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_dagster_home(paths)
    port = free_port()
    monkeypatch.setenv(WEBSERVER_ENV, f"127.0.0.1:{port}")
    with running_dagster_dev(paths.home, paths.dagster_home, port):
        assert "export_acme_prod" not in schedules(port)
        capsys.readouterr()

        assert main([*CONFIGURE, "--format", "json"]) == 0
        captured = capsys.readouterr()
        assert "reloaded" in captured.err and "the change is live" in captured.err

        location, repository = schedules(port)["export_acme_prod"]
        first_export_at = datetime.fromisoformat(
            json.loads(captured.out)["first_export_at"].replace("Z", "+00:00"))
        selector = {"repositoryLocationName": location, "repositoryName": repository,
                    "scheduleName": "export_acme_prod"}
        tick = graphql(port, DRY_RUN, {"selector": selector, "timestamp": first_export_at.timestamp()})
        result = tick["scheduleDryRun"]["evaluationResult"]
        assert result["error"] is None and result["skipReason"] is None
        [request] = result["runRequests"]
        assert request["runKey"] == f"acme-prod@{first_export_at.isoformat()}"
        tags = {t["key"]: t["value"] for t in request["tags"]}
        assert tags["audit_pipeline/export_config"] == "acme-prod"
        assert tags["dagster/partition"] == "acme-prod"

        assert main(["export", "remove", "acme-prod"]) == 0
        assert "the change is live" in capsys.readouterr().out
        assert "export_acme_prod" not in schedules(port)
