"""Landing from an S3 prefix (AUDIT_PIPELINE_LANDING=s3://bucket/prefix/) against the local S3 stand-in with IAM
checks on: the landing sensor sees what waits, the CLI's ingestion run (a Dagster run) reads the objects through
DuckDB, quarantines what is broken, records every key and archives it, and never ingests a key twice."""

from __future__ import annotations

import gzip
import json

import dagster as dg
import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.schedules.landing_sensor import landing_sensor
from audit_pipeline.settings import HOME_ENV, Paths
from audit_pipeline.storage.database import reader
from audit_pipeline.storage.lake import CATALOG_ENV, DATA_ENV
from audit_pipeline.storage.s3_landing import LANDING_ENV
from tests.aws_sandbox import aws_sandbox, give_the_pipeline_buckets  # noqa: F401 - fixture
from tests.conftest import event, pipeline_resources
from tests.fault_helpers import COMMIT_BARRIER_ENV, child_environment, child_processes, start_python

BUCKET = "audit-landing"
PREFIX = "feeds/acme/"
CLI = "from tests.fault_helpers import cli_child_main; cli_child_main()"


def _allow_the_pipeline_its_landing_bucket(sandbox: LocalAwsSandbox) -> None:
    give_the_pipeline_buckets(sandbox, "audit-landing", {BUCKET: ""})


def _put(sandbox: LocalAwsSandbox, key: str, body: bytes) -> None:
    sandbox.admin_client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def _lines(records: list[dict[str, object] | str]) -> bytes:
    return ("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n").encode()


def _sensor(paths: Paths, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources=pipeline_resources(AuditStore(home=str(paths.home))))
    result = landing_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _ingest(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["ingest", "--format", "json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_objects_under_the_prefix_are_ingested_once_and_archived(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _allow_the_pipeline_its_landing_bucket(aws_sandbox)
    monkeypatch.setenv(LANDING_ENV, f"s3://{BUCKET}/{PREFIX}")
    _put(aws_sandbox, f"{PREFIX}2026/11/20/a.jsonl", _lines([event("e1"), event("e2"), "{not json"]))
    _put(aws_sandbox, f"{PREFIX}2026/11/20/b.jsonl.gz", gzip.compress(_lines([event("e3"), event("e1")])))
    _put(aws_sandbox, f"{PREFIX}README.txt", b"not a landing file")
    _put(aws_sandbox, "feeds/globex/c.jsonl", _lines([event("g1", org_id="globex")]))  # another prefix

    with dg.instance_for_test() as instance:
        first = _sensor(paths, instance)
        assert len(first.run_requests or []) == 1, "two objects wait under the prefix"
        again = _sensor(paths, instance, first.cursor)
        assert not again.run_requests and "already requested" in str(again.skip_reason)

        counts = _ingest(capsys)
        assert (counts["ingested"], counts["duplicates"], counts["quarantined"]) == (3, 1, 1), counts

        after = _sensor(paths, instance, first.cursor)
        assert not after.run_requests and "nothing waits" in str(after.skip_reason)

    keys = aws_sandbox.list_keys(BUCKET)
    assert f"{PREFIX}README.txt" in keys and "feeds/globex/c.jsonl" in keys, "only landing files of the prefix"
    assert not any(key.startswith(PREFIX) and key.endswith((".jsonl", ".gz")) for key in keys), keys
    archived = [key for key in keys if key.startswith("archive/")]
    assert sorted(key.split("/", 3)[3] for key in archived) == [f"{PREFIX}2026/11/20/a.jsonl",
                                                                f"{PREFIX}2026/11/20/b.jsonl.gz"]
    with reader(paths) as connection:
        names = sorted(r[0] for r in connection.execute("SELECT file_name FROM ingested_files").fetchall())
        assert names == [f"s3://{BUCKET}/{PREFIX}2026/11/20/a.jsonl", f"s3://{BUCKET}/{PREFIX}2026/11/20/b.jsonl.gz"]
        quarantined = connection.execute("SELECT source_file, reason_code FROM quarantine").fetchall()
        assert quarantined == [(f"s3://{BUCKET}/{PREFIX}2026/11/20/a.jsonl", "malformed_json")]
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (3,)

    # A key left under the prefix after its commit (a crash before the move) is known by its content.
    _put(aws_sandbox, f"{PREFIX}2026/11/20/a.jsonl", _lines([event("e1"), event("e2"), "{not json"]))
    counts = _ingest(capsys)
    assert (counts["files_skipped"], counts["ingested"]) == (1, 0), counts
    assert f"{PREFIX}2026/11/20/a.jsonl" not in aws_sandbox.list_keys(BUCKET, PREFIX)
    with reader(paths) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (3,)


def test_an_unusable_landing_setting_is_one_line(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(LANDING_ENV, "s3://only-a-bucket")
    assert main(["ingest"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "AUDIT_PIPELINE_LANDING must look like s3://bucket/prefix/" in error


def test_two_machines_over_the_same_prefix_at_once_store_and_record_each_object_once(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    _allow_the_pipeline_its_landing_bucket(aws_sandbox)
    monkeypatch.setenv(LANDING_ENV, f"s3://{BUCKET}/{PREFIX}")
    sent = set()
    for f in range(6):
        records = [event(f"f{f}-{n}", org_id=("acme", "globex")[n % 2]) for n in range(300)]
        sent |= {r["event_id"] for r in records}
        _put(aws_sandbox, f"{PREFIX}{f}.jsonl", _lines(records))  # type: ignore[arg-type]

    # Two machines (homes and Dagster instances of their own) on one lake: one Dagster instance would run the
    # two ingestions one after the other (its `duckdb` pool has one slot).
    shared = paths.home.parent / "shared"
    monkeypatch.setenv(CATALOG_ENV, str(shared / "catalog.sqlite"))
    monkeypatch.setenv(DATA_ENV, str(shared / "lake"))
    barrier = paths.home.parent / "barrier"
    barrier.mkdir()
    with child_processes() as started:
        # Both runs list and read every object before either commits, as two machines' runs can.
        runs = [start_python(CLI, ["ingest", "--format", "json"], child_environment(**{
            COMMIT_BARRIER_ENV: str(barrier), HOME_ENV: str(paths.home.parent / machine),
            "DAGSTER_HOME": str(paths.home.parent / machine / "dagster")})) for machine in ("a", "b")]
        started += runs
        outcomes = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outcomes]

    with reader(paths) as connection:
        stored = [r[0] for r in connection.execute("SELECT event_id FROM events").fetchall()]
        recorded = connection.execute(
            "SELECT count(*), count(DISTINCT file_sha256) FROM ingested_files").fetchone()
    assert sorted(stored) == sorted(sent), "every event stored once"
    assert recorded == (6, 6), "every object recorded once, whichever run committed it"
    assert not aws_sandbox.list_keys(BUCKET, PREFIX), "and archived"
    counts = [json.loads(out) for out, _ in outcomes]
    assert sorted(c["ingested"] for c in counts) == [0, len(sent)], "the run that committed second stored nothing"


def test_audited_reads_under_the_prefix_wait_for_company_like_files(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    _allow_the_pipeline_its_landing_bucket(aws_sandbox)
    monkeypatch.setenv(LANDING_ENV, f"s3://{BUCKET}/{PREFIX}")
    for n in range(2):
        _put(aws_sandbox, f"{PREFIX}audit-reads/read-{n}.jsonl", _lines([event(f"read-{n}", log_type="Audit",
                                                                                action="Audit Logs Viewed")]))
    with dg.instance_for_test() as instance:
        alone = _sensor(paths, instance)
        assert not alone.run_requests and "only 2 audited read(s) waiting" in str(alone.skip_reason)
        _put(aws_sandbox, f"{PREFIX}data.jsonl", _lines([event("e1")]))
        together = _sensor(paths, instance)
        assert len(together.run_requests or []) == 1, "a data object brings the reads along"
