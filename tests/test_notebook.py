"""The analyst notebook runs top to bottom against a home folder filled by the generator and ingestion."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient

from audit_pipeline.derived import rules
from audit_pipeline.derived.build import build_all
from audit_pipeline.domain.events import AuditEvent
from audit_pipeline.generator.run import generate_events
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.storage.ingest import ingest_landing
from audit_pipeline.storage.lake import CATALOG_ENV
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 - fixture

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "investigate.ipynb"
KERNEL = "python3"
EVENTS = 2_500


def _kernel_uses_this_interpreter() -> None:
    """Install the venv's kernel spec if it is missing; its `python` resolves to this interpreter."""
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert spec.argv[0] in {"python", "python3", sys.executable}, spec.argv


def _populate(paths: Paths) -> int:
    """Generate, ingest (plus one broken record) and publish; returns the failed logins, counted from the files."""
    generated = generate_events(paths.landing, events=EVENTS, orgs=3, days=14, seed=3,
                                end=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    events = [AuditEvent.from_input(json.loads(line))
              for path in generated.files for line in path.read_text(encoding="utf-8").splitlines()]
    (paths.landing / "broken.jsonl").write_text('{"event_id": "half a record"\n', encoding="utf-8")
    with writer(paths) as connection:
        counts = ingest_landing(connection, paths.landing, paths.archive)
        build_all(connection)
    assert (counts.ingested, counts.quarantined) == (EVENTS, 1)
    return sum(e.action in ("Login", "Login Failed") and e.outcome == "failure" for e in events)


def _text_outputs(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The lake's catalog kind: the home's SQLite file, or a database on the tests' PostgreSQL server."""
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        monkeypatch.setenv(CATALOG_ENV, server.create_database())
    return str(request.param)


@pytest.mark.slow
def test_notebook_runs_and_shows_the_expected_totals(paths: Paths, catalog: str) -> None:
    _kernel_uses_this_interpreter()
    failed_logins = _populate(paths)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "the notebook is committed without outputs"

    NotebookClient(notebook, kernel_name=KERNEL, timeout=180,
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    text = "\n".join(_text_outputs(cell) for cell in notebook.cells if cell.cell_type == "code")
    assert f"Reading {paths.lake.catalog}" in text
    assert f"Total events: {EVENTS}" in text
    assert "Orgs: 3" in text
    assert f"Failed logins: {failed_logins} by " in text
    assert "Quarantined records: 1" in text
    assert "malformed_json" in text
    for rule in rules.RULES:
        assert rule in text, rule
    images = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    assert len(images) == 1
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert errors == []
