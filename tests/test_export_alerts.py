"""A failing export turns `failing` with its error and is announced once; its recovery turns it `healthy`
and is announced once. Real export runs in Dagster's run history, the alert sensors evaluated on them, a
local webhook and a local stand-in for Slack's API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.export.alerts import SLACK_API_URL_ENV, SLACK_CHANNEL_ENV, SLACK_TOKEN_ENV, WEBHOOK_ENV
from audit_pipeline.export.config_store import get_config
from audit_pipeline.export.health import ExportHealth, health_of
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.export_alerts import export_failure_alert_sensor, export_recovery_alert_sensor
from audit_pipeline.settings import Paths
from tests.alert_receiver import Received, alert_receiver
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records

FINISHED = {dg.DagsterEventType.RUN_FAILURE: export_failure_alert_sensor,
            dg.DagsterEventType.RUN_SUCCESS: export_recovery_alert_sensor}


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Received]:
    with alert_receiver() as (url, received):
        monkeypatch.setenv(WEBHOOK_ENV, f"{url}/hook")
        monkeypatch.setenv(SLACK_TOKEN_ENV, "xoxb-test")
        monkeypatch.setenv(SLACK_CHANNEL_ENV, "#audit-alerts")
        monkeypatch.setenv(SLACK_API_URL_ENV, f"{url}/slack/")
        yield received


class AlertDaemon:
    """Evaluates the alert sensors on each export run once it has finished, as Dagster's daemon does."""

    def __init__(self, paths: Paths) -> None:
        self.seen: set[str] = set()
        ensure_dagster_home(paths)

    def tick(self) -> None:
        with dg.DagsterInstance.get() as instance:
            for record in reversed(instance.get_run_records()):
                run = record.dagster_run
                if run.run_id in self.seen or not run.is_finished:
                    continue
                self.seen.add(run.run_id)
                for log in instance.all_logs(run.run_id):
                    event = log.dagster_event
                    if event is None or event.event_type not in FINISHED:
                        continue
                    sensor = FINISHED[event.event_type]
                    context = dg.build_run_status_sensor_context(
                        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance,
                        dagster_run=run, resources={"store": AuditStore()},
                    )
                    sensor(context.for_run_failure() if sensor is export_failure_alert_sensor else context)


def health(paths: Paths) -> ExportHealth:
    return health_of(paths, [get_config(paths, "acme-prod")])["acme-prod"]


def test_failing_export_is_announced_once_and_its_recovery_once(
    paths: Paths, aws_sandbox: LocalAwsSandbox, receiver: Received,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    land_records(paths, [event("a1"), event("a2")])
    ingest_now(paths)
    configure_export(paths, aws_sandbox, create_bucket=False)
    daemon = AlertDaemon(paths)

    for _ in range(3):
        assert main(["export", "run", "acme-prod"]) == 1
        daemon.tick()
    failing = health(paths)
    assert (failing.state, failing.consecutive_failures) == ("failing", 3)
    assert failing.last_error and "step audit_log_export failed" in failing.last_error
    assert "bucket acme-audit does not exist" in failing.last_error

    [announced] = receiver.bodies("/hook")
    assert announced["event"] == "export_failing" and announced["export"] == "acme-prod"
    assert announced["consecutive_failures"] == 1
    assert "bucket acme-audit does not exist" in announced["error"]
    [slack] = receiver.bodies("/slack/chat.postMessage")
    assert slack["channel"] == "#audit-alerts" and "acme-prod is failing" in slack["text"]

    capsys.readouterr()
    assert main(["export", "show", "acme-prod", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)["health"]
    assert shown["state"] == "failing" and shown["consecutive_failures"] == 3
    assert set(shown) == {"state", "last_success_at", "last_cutoff_at", "lag_seconds", "consecutive_failures",
                          "last_error"}

    aws_sandbox.create_bucket("acme-audit", "us-east-1")
    assert main(["export", "run", "acme-prod"]) == 0
    daemon.tick()
    assert main(["export", "run", "acme-prod"]) == 0
    daemon.tick()
    recovered = health(paths)
    assert (recovered.state, recovered.consecutive_failures, recovered.last_error) == ("healthy", 0, None)
    assert [body["event"] for body in receiver.bodies("/hook")] == ["export_failing", "export_recovered"]
    assert len(receiver.bodies("/slack/chat.postMessage")) == 2

    assert main(["export", "run", "acme-prod", "--format", "json"]) == 0
    daemon.tick()
    assert len(receiver.bodies("/hook")) == 2, "a healthy export sends nothing"
