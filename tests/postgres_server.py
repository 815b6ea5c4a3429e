"""A PostgreSQL server for the tests: Debian's binaries, a cluster in a temp folder, 127.0.0.1 only.

Started once per test session on first use and stopped at its end; each test gets a database of its own.
PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.

Import the fixture into a test module (`from tests.postgres_server import postgres_catalog`) for pytest to see it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit_pipeline.storage.lake import CATALOG_ENV

USER = "postgres"


def _binaries() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name), reverse=True)
    return versions[0].parent if versions else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="audit-pipeline-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.folder, USER)

    def _run(self, *args: str) -> None:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.folder / "server.log"),
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off", "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self) -> str:
        name = f"lake_{uuid.uuid4().hex[:12]}"
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres", "-q",
                  "-c", f"CREATE DATABASE {name}")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = _binaries()
    if binaries is None:
        pytest.fail("PostgreSQL server binaries are missing: `make test` installs Debian's postgresql package")
    server = PostgresServer(binaries)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_catalog(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh PostgreSQL database as this test's catalog (AUDIT_PIPELINE_CATALOG)."""
    url = postgres_server.create_database()
    monkeypatch.setenv(CATALOG_ENV, url)
    return url
