"""`audit-pipeline serve` starts the page on the asked port and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.settings import HOME_ENV, Paths
from tests.test_web_dataset import add_users


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_answers_on_the_port_and_stops_on_sigterm(paths: Paths) -> None:
    tokens = add_users(paths)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "audit_pipeline.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, HOME_ENV: str(paths.home)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.2)
        assert httpx.get(f"{base}/audit-logs").status_code == 401
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {tokens['alice']}"})
        assert me.json()["email"] == "alice@acme.test"
        assert httpx.get(f"{base}/api/v1/audit-logs",
                         headers={"Authorization": f"Bearer {tokens['alice']}"}).json()["total"] == 0
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how the process ended.
    assert server.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in stderr
    assert f"http://127.0.0.1:{port}/audit-logs" in stderr


def test_serve_refuses_a_port_out_of_range(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be from 1 to 65535" in capsys.readouterr().err
