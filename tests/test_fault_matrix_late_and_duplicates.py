"""Fault matrix, source side: late events (old `occurred_at`) arriving between exports, and a source that
re-sends events and whole files. Windows are cut on ingestion order, so a late event goes in the next export;
a re-sent event is stored once, so it is exported once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import ExportResult, run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export, read_lines  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import assert_bucket_holds_exactly, is_export_event

BUCKET = "acme-audit"
SMALL_PARTS = 1_500


def export(paths: Paths, config: ExportConfig, run_id: str) -> ExportResult:
    return run_export(paths, config, S3Destination(config), run_id=run_id, part_bytes=SMALL_PARTS)


def exported_by(sandbox: LocalAwsSandbox, result: ExportResult) -> list[str]:
    return [line["event_id"] for key in result.object_keys for line in read_lines(sandbox, BUCKET, key)
            if not is_export_event(line)]


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_late_events_and_resent_events_are_exported_once_each(
    paths: Paths, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    now = datetime.now(UTC).replace(microsecond=0)
    on_time = [event(f"on-time-{i}", occurred_at=stamp(now - timedelta(minutes=i))) for i in range(12)]
    first_file = land_records(paths, on_time, name="on-time.jsonl").read_bytes()
    ingest_now(paths)
    first = export(paths, config, "run-1")
    assert sorted(exported_by(aws_sandbox, first)) == sorted(r["event_id"] for r in on_time)

    late = [event(f"late-{i}", occurred_at=stamp(now - timedelta(days=days)))
            for i, days in enumerate((2, 30, 30, 400))]
    land_records(paths, late, name="late.jsonl")
    (paths.landing / "on-time-again.jsonl").write_bytes(first_file)  # the whole file sent twice
    resent = [*on_time[:3], late[1]]  # already exported, and not exported yet
    land_records(paths, resent, name="resent.jsonl")
    conflicting = {**on_time[4], "action": "Logout"}  # an id reused for another event
    land_records(paths, [conflicting], name="conflicting.jsonl")
    counts = ingest_now(paths)
    assert (counts.ingested, counts.duplicates, counts.quarantined) == (len(late), len(resent), 1)
    assert counts.files_skipped == 1

    second = export(paths, config, "run-2")
    assert second.plan.events == len(late)
    assert sorted(exported_by(aws_sandbox, second)) == sorted(r["event_id"] for r in late)
    cutoff = second.plan.cutoff_at
    assert all(f"/dt={cutoff:%Y-%m-%d}/hour={cutoff:%H}/" in key for key in second.object_keys), \
        "files are placed by the export's cutoff, not by when the events happened"
    assert first.object_keys[-1] < second.object_keys[0], "file names sort in export order"

    land_records(paths, [*late, on_time[0]], name="resent-again.jsonl")
    again = ingest_now(paths)
    assert (again.ingested, again.duplicates) == (0, len(late) + 1)
    third = export(paths, config, "run-3")
    assert third.plan.events == 0
    [marker] = [line for key in third.object_keys for line in read_lines(aws_sandbox, BUCKET, key)]
    assert is_export_event(marker), "an empty window still tells the customer the export ran"

    assert_bucket_holds_exactly(paths, aws_sandbox, BUCKET, "acme",
                                [r["event_id"] for r in on_time + late])
