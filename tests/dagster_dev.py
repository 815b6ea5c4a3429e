"""A real `dagster dev` (webserver, daemon, code server) on a free port, started and stopped by a test.

It runs in its own process group and is stopped with SIGTERM (then SIGKILL if it lingers), so no process
outlives the test.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START_SECONDS = 240.0
STOP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer: dict[str, Any] = json.loads(response.read())
    assert "errors" not in answer, answer
    return answer["data"]


REPOSITORIES = """
query { repositoriesOrError { __typename ... on RepositoryConnection {
  nodes { name location { name } schedules { name } sensors { name } } } } }
"""


def repositories(port: int) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = graphql(port, REPOSITORIES)["repositoriesOrError"].get("nodes") or []
    return nodes


def _wait_until_loaded(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dagster dev exited early:\n{log.read_text()[-3000:]}")
        try:
            if repositories(port):
                return
        except (urllib.error.URLError, ConnectionError, AssertionError, OSError):
            pass
        time.sleep(1.0)
    raise RuntimeError(f"dagster dev did not load in {START_SECONDS:.0f}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


@contextmanager
def running_dagster_dev(home: Path, dagster_home: Path, port: int) -> Iterator[int]:
    """`dagster dev` over the project's workspace.yaml with this home; yields the webserver's port."""
    env = {**os.environ, "AUDIT_PIPELINE_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    log = home / "dagster-dev.log"
    bin_dir = Path(sys.executable).parent
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1",
             "-p", str(port)],
            cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_until_loaded(process, port, log)
            yield port
        finally:
            _stop(process)
