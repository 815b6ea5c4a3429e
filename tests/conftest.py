"""Shared fixtures: a fresh home folder per test, and a quick way to land records in it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_pipeline.resources import default_resources
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import HOME_ENV, Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.storage.ingest import IngestCounts, ingest_landing

# Modules that load the Dagster definitions at import read the home folder then (one schedule and health
# check per stored config): make that an empty one, never the home of a `make demo` run in this checkout.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="audit-pipeline-tests-"))
os.environ[HOME_ENV] = str(_SESSION_HOME / "home")
os.environ["DAGSTER_HOME"] = str(_SESSION_HOME / "home" / "dagster")


# The longest test files, started first: `make test` hands whole files to two workers in collection order, and
# one of these started last would keep one worker busy long after the other ran out of files.
LONGEST_FILES = ("test_benchmark_smoke.py", "test_shared_nothing.py", "test_fault_matrix_property.py",
                 "test_demo.py", "test_derived_incremental.py", "test_query_rollup.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in LONGEST_FILES)  # stable: the order within a file stays


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_dagster_instance_left_by_another_test() -> Iterator[None]:
    """Each test starts outside any Dagster instance's context.

    Entering a DagsterInstance makes its storage the context's current one; an instance a test entered and
    left in different contexts stays current after it is gone, and the next definitions loaded in that
    worker fail ("Attempted to resolve undefined DagsterInstance weakref").
    """
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """An empty AUDIT_PIPELINE_HOME (and DAGSTER_HOME inside it) for this test only."""
    home = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    # Config changes ask a running Dagster to reload; never another Dagster that happens to be on port 3000.
    monkeypatch.setenv("AUDIT_PIPELINE_DAGSTER_WEBSERVER", "127.0.0.1:9")
    yield Paths(home).ensure()


def land_records(paths: Paths, records: Iterable[dict[str, Any] | str], name: str = "batch.jsonl") -> Path:
    """Write records (dicts, or raw lines as str) as an NDJSON landing file."""
    target = paths.landing / name
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def ingest_now(paths: Paths) -> IngestCounts:
    """Ingest the landing folder into the lake, without Dagster."""
    with writer(paths) as connection:
        return ingest_landing(connection, paths.landing, paths.archive)


def event(event_id: str, /, **fields: Any) -> dict[str, Any]:
    """A valid canonical event, overridable field by field."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "org_id": "acme",
        "occurred_at": "2026-11-20T10:00:00Z",
        "log_type": "Authentication",
        "action": "Login",
        "user_email": "alice@acme.test",
        "user_name": "Alice Adams",
        "user_role": "Admin",
        "source_ip": "10.0.0.1",
    }
    record.update(fields)
    return record


def pipeline_resources(store: AuditStore) -> dict[str, Any]:
    """Every resource the pipeline's definitions bind, with `store` for this test's home."""
    return {**default_resources(), "store": store}
