"""The page leaves the viewer's own audited reads out by default; they are still recorded and ingested in batches."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import dagster as dg

from audit_pipeline.access import add_user
from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.landing_sensor import landing_sensor
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.storage.ingest import pending_landing_files
from audit_pipeline.storage.landing_batches import READS_BATCH_FILES, READS_MAX_WAIT, reads_waiting_reason
from tests.conftest import event, ingest_now, land_records, pipeline_resources
from tests.test_web_dataset import WebHome, fresh_web_fixture  # noqa: F401 - fixture

PAGE = "/audit-logs"
NOTE = "Your own Audit Logs Viewed, Searched"


def total_of(page: str) -> int:
    match = re.search(r'id="total" data-total="(\d+)"', page)
    assert match, "no total on the page"
    return int(match.group(1))


def audit_count(page: str) -> int:
    pane = page[page.index('data-facet="type"'):]
    match = re.search(r'value="Audit"[^>]*>\s*<span class="value">Audit</span>\s*<span class="count">([\d,]+)', pane)
    assert match, "no Audit value in the Log Type pane"
    return int(match.group(1).replace(",", ""))


def test_the_viewers_own_reads_are_hidden_unless_audit_is_selected(fresh_web: WebHome) -> None:
    carl = add_user(fresh_web.paths, "carl@acme.test", "acme", "read_write", "Carl").token
    alice = fresh_web.browser_client("alice")
    before = total_of(alice.get(PAGE).text)
    alice.get(PAGE, params={"q": "login"})
    fresh_web.client().get("/api/v1/audit-logs", headers={"Authorization": f"Bearer {carl}"})
    assert len(fresh_web.read_events()) == 3  # every read is still recorded
    ingest_now(fresh_web.paths)

    page = alice.get(PAGE).text
    assert total_of(page) == before + 1  # carl's read shows; alice's own two do not
    assert NOTE in page
    assert audit_count(page) == 3  # the pane counts what selecting Audit adds
    audit = alice.get(PAGE, params={"type": "Audit"}).text
    assert total_of(audit) == 3 and NOTE not in audit  # alice's two ingested reads and carl's
    api = fresh_web.client("alice").get("/api/v1/audit-logs").json()
    assert api["total"] == before + 3  # the API, like the CLI, lists every event

    with writer(fresh_web.paths) as connection:  # the same answers from the rollup
        update_daily_rollup(connection)
    assert total_of(alice.get(PAGE, params={"period": "all"}).text) == \
        fresh_web.client("alice").get("/api/v1/audit-logs", params={"period": "all"}).json()["total"] - 2


def _read_file(paths: Paths, name: str, age_seconds: float = 0) -> Path:
    folder = paths.landing / "audit-reads"
    folder.mkdir(parents=True, exist_ok=True)
    path = land_records(paths, [event(name, log_type="Audit", action="Audit Logs Viewed")], name=f"x-{name}.jsonl")
    target = folder / path.name
    path.rename(target)
    moment = time.time() - age_seconds
    os.utime(target, (moment, moment))
    return target


def test_reads_alone_wait_until_old_or_many_enough(paths: Paths) -> None:
    _read_file(paths, "r1")
    now = time.time()
    assert reads_waiting_reason(pending_landing_files(paths.landing), paths.landing, now=now) is not None
    later = now + READS_MAX_WAIT.total_seconds()
    assert reads_waiting_reason(pending_landing_files(paths.landing), paths.landing, now=later) is None
    many = [paths.landing / "audit-reads" / f"r{n}.jsonl" for n in range(READS_BATCH_FILES)]
    assert reads_waiting_reason([_read_file(paths, "r2"), *many[1:]], paths.landing, now=now) is None
    land_records(paths, [event("e1")], name="a.jsonl")
    assert reads_waiting_reason(pending_landing_files(paths.landing), paths.landing, now=now) is None


def test_the_sensor_ingests_reads_with_the_next_landed_file(paths: Paths) -> None:
    store = AuditStore(home=str(paths.home))
    with dg.instance_for_test() as instance:
        _read_file(paths, "r1")
        alone = landing_sensor(dg.build_sensor_context(instance=instance, resources=pipeline_resources(store)))
        assert isinstance(alone, dg.SensorResult) and not alone.run_requests
        assert "audited read" in str(alone.skip_reason)
        land_records(paths, [event("e1")], name="a.jsonl")
        together = landing_sensor(dg.build_sensor_context(instance=instance, resources=pipeline_resources(store)))
        assert isinstance(together, dg.SensorResult) and len(together.run_requests or []) == 1
    counts = ingest_now(paths)
    assert counts.ingested == 2 and pending_landing_files(paths.landing) == []


def test_the_sensor_ingests_reads_that_waited_long_enough(paths: Paths) -> None:
    store = AuditStore(home=str(paths.home))
    _read_file(paths, "r1", age_seconds=READS_MAX_WAIT.total_seconds() + 1)
    with dg.instance_for_test() as instance:
        result = landing_sensor(dg.build_sensor_context(instance=instance, resources=pipeline_resources(store)))
    assert isinstance(result, dg.SensorResult) and len(result.run_requests or []) == 1
