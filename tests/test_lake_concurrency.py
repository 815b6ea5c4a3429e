"""Writers that meet in the lake: several processes ingesting at once, and two writers committing out of order
around an export, on the default SQLite catalog and on PostgreSQL.

Every event must be stored once with a unique ingest_seq, and exported exactly once: an export window ends at
the newest ingest_seq committed when it was planned, so a writer that commits later must get numbers above it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import commit_group, database, ingest
from tests.aws_sandbox import aws_sandbox, configure_export, read_lines  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import child_environment
from tests.postgres_server import postgres_catalog, postgres_server  # noqa: F401 - fixtures

CATALOGS = ("sqlite", "postgres")
FILES_PER_WRITER = 3
EVENTS_PER_FILE = 4_000
SHARED_EVENTS = 500  # the same events land at both writers: one must store them, the other count duplicates

INGEST_CHILD = """
import json, sys
from pathlib import Path
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.ingest import ingest_landing
paths, landing = Paths(Path(sys.argv[1])), Path(sys.argv[2])
sys.stdin.readline()  # start together
with database.writer(paths) as connection:
    counts = ingest_landing(connection, landing, landing.parent / (landing.name + "-archive"))
print(json.dumps(counts.as_dict()))
"""


@pytest.fixture(params=CATALOGS)
def lake_paths(request: pytest.FixtureRequest, paths: Paths) -> Paths:
    if request.param == "postgres":
        request.getfixturevalue("postgres_catalog")
    return paths


def _stored(paths: Paths) -> list[tuple[str, str, int]]:
    with database.reader(paths) as connection:
        return [(org, event_id, int(seq)) for org, event_id, seq in connection.execute(
            "SELECT org_id, event_id, ingest_seq FROM events ORDER BY ingest_seq"
        ).fetchall()]


def _write_landing(folder: Path, writer: str) -> set[str]:
    folder.mkdir(parents=True)
    ids: set[str] = set()
    for number in range(FILES_PER_WRITER):
        records = [event(f"{writer}-{number}-{i}", org_id=("acme", "globex")[i % 2]) for i in range(EVENTS_PER_FILE)]
        if number == 0:
            records += [event(f"shared-{i}") for i in range(SHARED_EVENTS)]
        ids |= {r["event_id"] for r in records}
        (folder / f"{writer}-{number}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return ids


def test_processes_ingesting_at_once_store_every_event_once(lake_paths: Paths, tmp_path: Path) -> None:
    paths = lake_paths
    land_records(paths, [event("seed")])
    ingest_now(paths)  # the schema exists before the writers race
    expected = {"seed"}
    children = []
    for writer in ("w1", "w2", "w3"):
        landing = tmp_path / writer
        expected |= _write_landing(landing, writer)
        children.append(subprocess.Popen([sys.executable, "-c", INGEST_CHILD, str(paths.home), str(landing)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, env=child_environment()))
    outcomes: list[dict[str, Any]] = []
    try:
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=300)
            assert child.returncode == 0, err
            outcomes.append(json.loads(out))
    finally:
        for child in children:
            child.kill()

    stored = _stored(paths)
    assert Counter(event_id for _, event_id, _ in stored).most_common(1)[0][1] == 1
    assert {event_id for _, event_id, _ in stored} == expected
    assert [seq for *_, seq in stored] == list(range(1, len(expected) + 1))
    assert sum(o["ingested"] for o in outcomes) == len(expected) - 1
    assert sum(o["duplicates"] for o in outcomes) == 2 * SHARED_EVENTS
    with database.reader(paths) as connection:
        assert connection.execute("SELECT last_seq FROM ingest_sequence").fetchone() == (len(expected),)


def test_writers_committing_out_of_order_around_an_export_deliver_every_event_once(
    lake_paths: Paths, aws_sandbox: LocalAwsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """Writer A stores its events first but commits last: after writer B committed and an export took B's
    events. A's commit meets B's, runs again above B's numbers, and the next export delivers A's events."""
    paths = lake_paths
    config = configure_export(paths, aws_sandbox)
    land_records(paths, [event("seed")])
    ingest_now(paths)

    a_stored = threading.Event()
    a_may_commit = threading.Event()
    record_file = commit_group.record_file

    def held_record_file(*args: Any, **kwargs: Any) -> None:
        record_file(*args, **kwargs)
        if threading.current_thread().name == "writer-a" and not a_stored.is_set():
            a_stored.set()  # A's events are written in its open transaction, not committed
            assert a_may_commit.wait(120)

    monkeypatch.setattr(commit_group, "record_file", held_record_file)
    landing_a = tmp_path / "a"
    landing_a.mkdir()
    (landing_a / "a.jsonl").write_text("".join(json.dumps(event(f"a{i}")) + "\n" for i in range(20)))
    failures: list[BaseException] = []

    def writer_a() -> None:
        try:
            with database.writer(paths) as connection:
                ingest.ingest_landing(connection, landing_a, tmp_path / "a-archive")
        except BaseException as error:
            failures.append(error)
            a_stored.set()

    thread = threading.Thread(target=writer_a, name="writer-a")
    thread.start()
    try:
        assert a_stored.wait(120)
        land_records(paths, [event(f"b{i}") for i in range(15)], name="b.jsonl")
        ingest_now(paths)  # writer B commits while A's transaction is open
        first = run_export(paths, config, S3Destination(config), run_id="first")
    finally:
        a_may_commit.set()
        thread.join(120)
    assert not failures, failures
    second = run_export(paths, config, S3Destination(config), run_id="second")

    assert first.plan.events == 16 and second.plan.events == 20
    assert second.plan.from_seq == first.plan.to_seq
    exported = [line["event_id"] for line in read_lines(aws_sandbox, config.bucket)
                if line["log_type"] != "System"]
    assert Counter(exported) == Counter(["seed", *(f"b{i}" for i in range(15)), *(f"a{i}" for i in range(20))])
    assert len(exported) == len(set(exported))
