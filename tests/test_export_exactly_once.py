"""Exactly once: every event of the org lands in the bucket once, whatever fails and however often it is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import duckdb
import pytest

from audit_pipeline.export import runner
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.errors import ExportDeliveryError
from audit_pipeline.export.files import write_parts
from audit_pipeline.export.locking import ExportAlreadyRunningError, export_lock
from audit_pipeline.export.runner import ExportResult, run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import (  # noqa: F401 - fixture
    EXPORT_ACTION,
    assert_exported_exactly_once,
    aws_sandbox,
    configure_export,
    read_lines,
)
from tests.conftest import event, ingest_now, land_records

SMALL_PARTS = 2_000


def ingest(paths: Paths, records: list[dict[str, object]], name: str) -> None:
    land_records(paths, records, name=name)
    ingest_now(paths)


def export(paths: Paths, config: ExportConfig, run_id: str, part_bytes: int = SMALL_PARTS) -> ExportResult:
    return run_export(paths, config, S3Destination(config), run_id=run_id, part_bytes=part_bytes)


def batch(prefix: str, count: int, **fields: object) -> list[dict[str, object]]:
    return [event(f"{prefix}-{i}", **fields) for i in range(count)]


def test_windows_follow_ingestion_and_parts_split_deterministically(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("first", 40), "one.jsonl")
    first = export(paths, config, "run-1")
    assert first.plan.events == 40
    assert len(first.objects) > 1, "a small part size splits the export"
    assert sum(o.events for o in first.objects) == 40
    assert all(o.bytes <= SMALL_PARTS + 1_000 for o in first.objects)
    ingest(paths, batch("second", 7), "two.jsonl")
    second = export(paths, config, "run-2")
    assert (second.plan.from_seq, second.plan.events) == (first.plan.to_seq, 7)
    assert second.plan.previous_cutoff_at == first.plan.cutoff_at
    keys = first.object_keys + second.object_keys
    assert keys == sorted(keys), "file names sort in export order"
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_late_event_goes_in_the_next_export(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("now", 3), "one.jsonl")
    export(paths, config, "run-1")
    last_week = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ingest(paths, [event("late", occurred_at=last_week)], "late.jsonl")
    second = export(paths, config, "run-2")
    assert second.plan.events == 1
    lines = [line for o in second.objects for line in read_lines(aws_sandbox, "acme-audit", o.key)]
    assert [line["event_id"] for line in lines] == ["late"]
    assert lines[0]["occurred_at"].startswith(last_week[:10])
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_empty_window_writes_one_system_event(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("a", 2), "one.jsonl")
    first = export(paths, config, "run-1")
    ingest(paths, batch("other-org", 3, org_id="globex"), "two.jsonl")
    empty = export(paths, config, "run-2")
    assert empty.plan.events == 0 and len(empty.objects) == 1
    lines = read_lines(aws_sandbox, "acme-audit", empty.object_keys[0])
    assert len(lines) == 1
    marker = lines[0]
    assert (marker["log_type"], marker["action"], marker["org_id"]) == ("System", EXPORT_ACTION, "acme")
    assert marker["occurred_at"] == empty.plan.cutoff_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    info = marker["additional_info"]
    assert info["events_exported"] == 0
    assert info["window"]["from_seq"] == first.plan.to_seq
    assert info["window"]["previous_cutoff"] == first.plan.cutoff_at.isoformat().replace("+00:00", "Z")
    third = export(paths, config, "run-3")
    third_marker = read_lines(aws_sandbox, "acme-audit", third.object_keys[0])[0]
    assert third_marker["event_id"] != marker["event_id"]
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_two_orgs_never_mix(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    acme = configure_export(paths, aws_sandbox)
    globex = configure_export(paths, aws_sandbox, name="globex-prod", org_id="globex", bucket="globex-audit",
                              prefix="", gzip=True)
    records = [event(f"e{i}", org_id="acme" if i % 3 else "globex") for i in range(60)]
    ingest(paths, records, "mixed.jsonl")
    export(paths, acme, "run-a1")
    globex_result = export(paths, globex, "run-g1")
    assert all(k.startswith("audit-logs/org_id=globex/") and k.endswith(".json.gz")
               for k in globex_result.object_keys)
    ingest(paths, [event(f"f{i}", org_id="globex" if i % 2 else "acme") for i in range(10)], "more.jsonl")
    export(paths, globex, "run-g2")
    export(paths, acme, "run-a2")
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")
    assert_exported_exactly_once(paths, aws_sandbox, "globex-audit", "globex")


def test_sts_denied_then_fixed_delivers_everything_once(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox, create_role=False)
    aws_sandbox.create_customer_role("acme-prod-role", external_id="an-old-external-id-that-is-wrong-000",
                                     bucket="acme-audit", prefix=config.prefix)
    ingest(paths, batch("a", 5), "one.jsonl")
    with pytest.raises(ExportDeliveryError) as denied:
        export(paths, config, "run-1")
    assert denied.value.step == "assume-role"
    assert "trust policy" in str(denied.value) and config.external_id in str(denied.value)
    assert aws_sandbox.list_keys("acme-audit") == []
    ingest(paths, batch("b", 4), "two.jsonl")
    iam = aws_sandbox.admin_client("iam")
    iam.delete_role_policy(RoleName="acme-prod-role", PolicyName="audit-log-export")
    iam.delete_role(RoleName="acme-prod-role")
    aws_sandbox.create_customer_role("acme-prod-role", external_id=config.external_id, bucket="acme-audit",
                                     prefix=config.prefix)
    retried = export(paths, config, "run-2")
    assert retried.plan.resumed and retried.plan.export_number == 1
    assert retried.plan.events == 5, "the retry delivers the planned window; the rest comes next"
    following = export(paths, config, "run-3")
    assert following.plan.events == 4
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_s3_unreachable_then_back(paths: Paths, aws_sandbox: LocalAwsSandbox,  # noqa: F811
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("a", 30), "one.jsonl")
    with monkeypatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # STS answers, S3 does not
        with pytest.raises(ExportDeliveryError) as unreachable:
            export(paths, config, "run-1")
    assert unreachable.value.step == "upload" and "could not reach Amazon S3" in str(unreachable.value)

    aws_sandbox.stop()
    with pytest.raises(ExportDeliveryError) as down:
        export(paths, config, "run-2")
    assert "could not reach" in str(down.value)
    aws_sandbox.start()

    retried = export(paths, config, "run-3")
    assert retried.plan.resumed and retried.plan.events == 30
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_a_run_that_meets_another_writer_after_planning_delivers_its_own_plan_once(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("a", 25), "one.jsonl")
    writes = []

    def conflicting_once(*args: object, **kwargs: object) -> object:
        writes.append(1)
        if len(writes) == 1:
            raise duckdb.TransactionException("TransactionContext Error: Transaction conflict: another writer")
        return write_parts(*args, **kwargs)

    monkeypatch.setattr(runner, "write_parts", conflicting_once)
    result = export(paths, config, "run-1")
    assert len(writes) == 2, "the plan was made again after the conflict"
    assert result.plan.export_number == 1 and result.plan.events == 25
    assert not result.plan.resumed, "one run's own plan is not a retry of an earlier run"
    assert export(paths, config, "run-2").plan.export_number == 2
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_crash_after_upload_before_bookkeeping_rewrites_the_same_keys(
    paths: Paths, aws_sandbox: LocalAwsSandbox, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    ingest(paths, batch("a", 25), "one.jsonl")

    def killed(*_: object, **__: object) -> None:
        raise SystemExit("killed between the upload and the bookkeeping")

    with monkeypatch.context() as patch:
        patch.setattr(runner, "mark_delivered", killed)
        with pytest.raises(SystemExit):
            export(paths, config, "run-1")
    uploaded = aws_sandbox.list_keys("acme-audit")
    assert uploaded
    ingest(paths, batch("b", 3), "two.jsonl")
    retried = export(paths, config, "run-2")
    assert retried.plan.resumed
    assert retried.digest is not None
    assert sorted([*retried.object_keys, retried.digest.key]) == uploaded, \
        "the retry overwrote exactly the same objects (data files and digest)"
    export(paths, config, "run-3")
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")


def test_one_export_of_a_config_at_a_time(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox)
    with export_lock(paths, config.name), pytest.raises(ExportAlreadyRunningError):
        export(paths, config, "run-1")
    assert aws_sandbox.list_keys("acme-audit") == []
    export(paths, config, "run-2")


def test_windows_are_contiguous_over_many_exports(paths: Paths, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    config = configure_export(paths, aws_sandbox)
    results = []
    for round_number in range(4):
        ingest(paths, batch(f"r{round_number}", round_number * 3), f"r{round_number}.jsonl")
        results.append(export(paths, config, f"run-{round_number}"))
    for earlier, later in pairwise(results):
        assert later.plan.from_seq == earlier.plan.to_seq
        assert later.plan.previous_cutoff_at == earlier.plan.cutoff_at
    assert_exported_exactly_once(paths, aws_sandbox, "acme-audit", "acme")
