"""`make dev` on a demo home runs the local AWS stand-in: a scheduled export succeeds through it, and stopping
the command stops both it and the stand-in."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit_pipeline.demo import DEMO_MARKER
from audit_pipeline.dev_aws import PORT_ENV
from audit_pipeline.export.config import ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.settings import HOME_ENV, Paths
from tests.conftest import event, ingest_now, land_records
from tests.test_web_serve import free_port

# What a Dagster daemon does at the export's first run time: evaluate its schedule, then run what it asks.
SCHEDULED_EXPORT = """
import json
import dagster as dg
from audit_pipeline.definitions import defs
from audit_pipeline.export.config_store import find_config
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.export_schedules import schedule_name
from audit_pipeline.settings import paths_from_env

config = find_config(paths_from_env(), "demo-export")
schedule = defs.resolve_schedule_def(schedule_name("demo-export"))
with dg.DagsterInstance.get() as instance:
    request = schedule(dg.build_schedule_context(scheduled_execution_time=config.first_export_at,
                                                 instance=instance, resources={"store": AuditStore()}))
    assert isinstance(request, dg.RunRequest), request
    result = defs.resolve_job_def("audit_log_export_job").execute_in_process(
        partition_key=request.partition_key, tags=request.tags, instance=instance, raise_on_error=False)
    metadata = {key: value.value for key, value in
                result.asset_materializations_for_node("audit_log_export")[0].metadata.items()
                if key == "objects"} if result.success else {}
print(json.dumps({"success": result.success, **metadata}))
"""


def demo_home(paths: Paths) -> None:
    (paths.home / DEMO_MARKER).write_text("created by `make demo`\n")
    land_records(paths, [event("e1"), event("e2"), event("g1", org_id="globex")])
    ingest_now(paths)
    save_config(paths, ExportSettings(
        name="demo-export", org_id="acme", bucket="customer-audit-logs", region="eu-west-1",
        prefix="security/audit", frequency_hours=1, role_arn="arn:aws:iam::123456789012:role/audit-export",
        gzip=False))


def environment(paths: Paths, port: int) -> dict[str, str]:
    cleared = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
    return {**{k: v for k, v in os.environ.items() if k not in cleared}, HOME_ENV: str(paths.home),
            "DAGSTER_HOME": str(paths.home / "dagster"), PORT_ENV: str(port)}


def ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def port_is_free(port: int) -> bool:
    """Nothing listens on the port. Connections the stopped server closed may linger in TIME_WAIT; they do not
    count (SO_REUSEADDR lets the probe bind past them, never past a listening socket)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_a_scheduled_export_succeeds_through_the_dev_stand_in(paths: Paths) -> None:
    demo_home(paths)
    (paths.home / "dagster").mkdir(exist_ok=True)
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "audit_pipeline.dev_aws", sys.executable, "-c", SCHEDULED_EXPORT],
        env=environment(paths, port), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"local S3/STS/IAM stand-in for the demo's exports on http://127.0.0.1:{port}")
    result = json.loads(next(line for line in lines if line.startswith("{")))
    assert result["success"]
    [uploaded] = result["objects"]
    assert uploaded["key"].startswith("security/audit/audit-logs/org_id=acme/") and uploaded["events"] == 2
    assert lines[-1] == "local S3/STS/IAM stand-in stopped"
    assert port_is_free(port)


def test_stopping_the_command_stops_it_and_the_stand_in(paths: Paths, tmp_path: Path) -> None:
    demo_home(paths)
    port = free_port()
    pid_file = tmp_path / "child.pid"
    child = f"import os, time, pathlib; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(600)"
    # Started as a shell starts a background job: SIGINT and SIGTERM ignored, which the command would inherit.
    wrapper = subprocess.Popen([sys.executable, "-m", "audit_pipeline.dev_aws", sys.executable, "-c", child],
                               env=environment(paths, port), stdout=subprocess.PIPE, text=True,
                               preexec_fn=ignore_stop_signals)
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert wrapper.poll() is None and time.monotonic() < deadline, "the command did not start"
            time.sleep(0.1)
        assert not port_is_free(port)
        wrapper.send_signal(signal.SIGTERM)
        wrapper.wait(timeout=30)
    finally:
        if wrapper.poll() is None:  # the test failed: leave no process behind
            wrapper.kill()
            wrapper.wait()
            if pid_file.exists() and pid_file.read_text():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    child_pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)
    assert port_is_free(port)
    assert wrapper.stdout is not None and "stand-in stopped" in wrapper.stdout.read()


def test_on_a_home_the_demo_did_not_create_the_command_runs_without_the_stand_in(paths: Paths) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "audit_pipeline.dev_aws", sys.executable, "-c",
         "import os; print(os.environ.get('AWS_ENDPOINT_URL'))"],
        env=environment(paths, port), capture_output=True, text=True, timeout=120,
    )
    assert (done.returncode, done.stdout) == (0, "None\n")
