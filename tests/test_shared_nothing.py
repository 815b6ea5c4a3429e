"""The shared deployment, proven with "machines" that share nothing but a PostgreSQL server and S3.

Each machine is a process with a home folder of its own; they meet only in the lake's PostgreSQL catalog, the
Dagster instance's PostgreSQL database, the lake's data bucket and the landing bucket, all local stand-ins
started by the tests (PostgreSQL from Debian's binaries, S3/STS/IAM from moto with IAM checks on):

- machines A and B ingest different landing prefixes at once, each as a Dagster run; A is SIGKILLed after its
  commit, mid-way through archiving, and started again;
- machine C exports three orgs' configs while they ingest, and again after;
- machine D serves the API and reads through it while they write; its audited reads land under A's prefix.

Then every event is in the lake once and in its org's bucket once, no bucket holds another org's event, and
Dagster's run history in PostgreSQL shows every run, the killed one included.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from audit_pipeline.access.store import add_user
from audit_pipeline.dagster_home import DAGSTER_PG_ENV, ensure_dagster_home
from audit_pipeline.domain.catalogue import READS_LOG_TYPE
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import HOME_ENV, Paths
from audit_pipeline.storage.database import reader
from audit_pipeline.storage.lake import CATALOG_ENV, DATA_ENV
from audit_pipeline.storage.s3_landing import LANDING_ENV
from tests.aws_sandbox import aws_sandbox, configure_export, give_the_pipeline_buckets  # noqa: F401 - fixture
from tests.conftest import event
from tests.fault_helpers import (
    KILL_AFTER_FIRST_ARCHIVE,
    KILL_POINT_ENV,
    bucket_lines,
    child_environment,
    child_processes,
    is_export_event,
    start_python,
)
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 - fixture
from tests.served_app import free_port

pytestmark = pytest.mark.slow

LAKE_BUCKET = "shared-lake"
LANDING_BUCKET = "shared-landing"
ORGS = ("acme", "globex", "initech")
CLI = "from tests.fault_helpers import cli_child_main; cli_child_main()"
# Machine C: the export of each config named, one Dagster run each, in one process.
EXPORTS = ("import sys, json; from audit_pipeline.cli.main import main; "
           "codes = [main(['export', 'run', name, '--format', 'json']) for name in sys.argv[1:]]; "
           "raise SystemExit(max(codes))")
WAIT_SECONDS = 300


@dataclass
class Deployment:
    root: Path
    shared: dict[str, str]  # what every machine is told: the catalog, the data path, Dagster's database
    sandbox: LocalAwsSandbox

    def machine(self, name: str, landing_prefix: str | None = None, **extra: str) -> dict[str, str]:
        home = self.root / name
        environment = child_environment(**self.shared, **extra)
        environment[HOME_ENV] = str(home)
        environment["DAGSTER_HOME"] = str(home / "dagster")
        environment.pop(LANDING_ENV, None)
        if landing_prefix is not None:
            environment[LANDING_ENV] = f"s3://{LANDING_BUCKET}/{landing_prefix}"
        return environment


def _allow_the_pipeline_its_buckets(sandbox: LocalAwsSandbox) -> None:
    give_the_pipeline_buckets(sandbox, "audit-pipeline-buckets", {LAKE_BUCKET: "", LANDING_BUCKET: ""})


@pytest.fixture
def deployment(
    paths: Paths, postgres_server: PostgresServer, aws_sandbox: LocalAwsSandbox,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> Iterator[Deployment]:
    _allow_the_pipeline_its_buckets(aws_sandbox)
    shared = {
        CATALOG_ENV: postgres_server.create_database(),
        DATA_ENV: f"s3://{LAKE_BUCKET}/lake/",
        DAGSTER_PG_ENV: postgres_server.create_database(),
    }
    # The test itself looks on as one more machine (its own home: `paths`), through the same shared settings.
    for name, value in shared.items():
        monkeypatch.setenv(name, value)
    yield Deployment(tmp_path / "machines", shared, aws_sandbox)


def _ndjson(records: list[dict[str, Any]]) -> bytes:
    return ("\n".join(json.dumps(r) for r in records) + "\n").encode()


def _land(sandbox: LocalAwsSandbox, prefix: str, files: Mapping[str, list[dict[str, Any]]]) -> None:
    s3 = sandbox.admin_client("s3")
    for name, records in files.items():
        s3.put_object(Bucket=LANDING_BUCKET, Key=f"{prefix}{name}", Body=_ndjson(records))


def _feed(feed: str, files: int, per_file: int) -> dict[str, list[dict[str, Any]]]:
    """Files of events of every org, mixed in each file, spread over several days."""
    landed: dict[str, list[dict[str, Any]]] = {}
    for f in range(files):
        landed[f"2026/11/{20 + f % 3}/{feed}-{f}.jsonl"] = [
            event(f"{feed}-{f}-{n}", org_id=ORGS[n % len(ORGS)],
                  occurred_at=f"2026-11-{18 + (n % 4)}T{n % 24:02d}:{n % 60:02d}:00Z",
                  user_email=f"user{n % 7}@{ORGS[n % len(ORGS)]}.test", source_ip=f"10.0.{f}.{n % 250}")
            for n in range(per_file)
        ]
    return landed


def _finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=WAIT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _wait_until_serving(base: str, token: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the API server stopped: {server.communicate()[1][-2000:]}"
        try:
            if httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the API server did not start")


def test_machines_sharing_only_postgres_and_s3_store_and_export_every_event_once(
    paths: Paths, deployment: Deployment,
) -> None:
    sandbox = deployment.sandbox
    configs: dict[str, ExportConfig] = {
        org: configure_export(paths, sandbox, name=f"{org}-prod", org_id=org, bucket=f"{org}-audit")
        for org in ORGS
    }
    feed_a, feed_b = _feed("a", files=4, per_file=600), _feed("b", files=4, per_file=600)
    # The same events re-sent through the other feed: stored once whichever machine commits first.
    feed_b["2026/11/22/b-resent.jsonl"] = feed_a["2026/11/20/a-0.jsonl"][:150]
    _land(sandbox, "feeds/a/", feed_a)
    _land(sandbox, "feeds/b/", feed_b)
    sent = {(r["org_id"], r["event_id"]) for records in (*feed_a.values(), *feed_b.values()) for r in records}
    token = add_user(paths, "reader@acme.test", "acme", "read_write", "Reader").token

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    totals: list[int] = []
    with child_processes() as started:
        server = start_python(CLI, ["serve", "--host", "127.0.0.1", "--port", str(port)],
                              deployment.machine("d", "feeds/a/"))
        started.append(server)
        _wait_until_serving(base, token, server)

        machine_a = start_python(CLI, ["ingest", "--format", "json"],
                                 deployment.machine("a", "feeds/a/", **{KILL_POINT_ENV: KILL_AFTER_FIRST_ARCHIVE}))
        machine_b = start_python(CLI, ["ingest", "--format", "json"], deployment.machine("b", "feeds/b/"))
        machine_c = start_python(EXPORTS, [c.name for c in configs.values()], deployment.machine("c"))
        started += [machine_a, machine_b, machine_c]
        while any(p.poll() is None for p in (machine_a, machine_b, machine_c)):
            response = httpx.get(f"{base}/api/v1/audit-logs", params={"limit": 1},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert response.status_code == 200, response.text
            totals.append(response.json()["total"])
            time.sleep(0.3)
        killed, ingested_b, first_exports = _finish(machine_a), _finish(machine_b), _finish(machine_c)

        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert ingested_b.returncode == 0, ingested_b.stderr[-3000:]
        assert first_exports.returncode == 0, first_exports.stderr[-3000:]
        assert totals == sorted(totals), "a reader never sees the store go back"

        restarted = _finish(start_python(CLI, ["ingest", "--format", "json"], deployment.machine("a", "feeds/a/")))
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        second_exports = _finish(start_python(EXPORTS, [c.name for c in configs.values()], deployment.machine("c")))
        assert second_exports.returncode == 0, second_exports.stderr[-3000:]
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    restarted_run = _json_lines(restarted.stdout)[0]
    # The kill came after A's commit, when one object had been archived: the three data files it left under the
    # prefix (and the audited reads its run had taken) are known by their content and skipped, not read again.
    assert restarted_run["files_skipped"] >= 3 and restarted_run["duplicates"] == 0, restarted_run
    reads = len(totals)  # every list read through the API is audited

    with reader(paths) as connection:
        stored = connection.execute("SELECT org_id, event_id, log_type FROM events").fetchall()
    keys = Counter((org, event_id) for org, event_id, _ in stored)
    assert max(keys.values()) == 1, "no event is stored twice"
    assert {key for key in keys if key[1].startswith(("a-", "b-"))} == sent, "no event is lost"
    assert sum(1 for org, _, log_type in stored if log_type == READS_LOG_TYPE and org == "acme") == reads, \
        "every read through the API is in the audit log"

    for org, config in configs.items():
        lines = bucket_lines(sandbox, config.bucket)
        assert {line["org_id"] for line in lines} == {org}, "no bucket holds another org's event"
        exported = Counter(line["event_id"] for line in lines if not is_export_event(line))
        assert max(exported.values()) == 1, "no event is exported twice"
        assert set(exported) == {event_id for key_org, event_id in keys if key_org == org}, \
            "every stored event of the org is in its bucket"

    for prefix in ("feeds/a/", "feeds/b/"):
        assert not sandbox.list_keys(LANDING_BUCKET, prefix), "every landed object was ingested and archived"

    export_run_ids = {r["run_id"] for r in _json_lines(first_exports.stdout) + _json_lines(second_exports.stdout)}
    ingest_run_ids = {_json_lines(ingested_b.stdout)[0]["run_id"], restarted_run["run_id"]}
    ensure_dagster_home(paths)  # the looking-on machine's instance: the same PostgreSQL database
    with dg.DagsterInstance.get() as instance:
        runs = {run.run_id: run for run in instance.get_runs()}
    assert export_run_ids | ingest_run_ids <= set(runs), "every machine's runs are in the shared run history"
    assert len(export_run_ids) == 2 * len(ORGS)
    assert all(runs[run_id].status == dg.DagsterRunStatus.SUCCESS for run_id in export_run_ids | ingest_run_ids)
    ingest_runs = [run for run in runs.values() if run.job_name == "ingest_job"]
    assert len(ingest_runs) == 3, "A's killed run, B's run and A's run after the restart"
    assert [run.status for run in ingest_runs].count(dg.DagsterRunStatus.STARTED) == 1, \
        "the killed run is there, still marked started: nothing on that machine lived to end it"
