"""Fault matrix, property-based: random interleavings of ingest batches (with late and re-sent events, and
another org's events), exports, and failures injected into exports (STS denying the role, S3 unreachable after
some parts, the process dying mid-upload or between the upload and the bookkeeping).

A model kept in Python says which events each export must hold: a new export takes every event of the org
stored since the previous plan; a failed export keeps its plan, and the next run delivers that plan again,
unchanged. After every export the bucket holds no event twice and nothing outside the model; at the end,
after the pending work is delivered, it holds every event of the org exactly once.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_pipeline.export import runner
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.errors import ASSUME_ROLE_STEP, UPLOAD_STEP, ExportDeliveryError
from audit_pipeline.export.runner import Destination, ExportResult, run_export
from audit_pipeline.local_aws import LocalAwsSandbox, local_aws_sandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import configure_export
from tests.conftest import event, ingest_now, land_records
from tests.fault_helpers import (
    FailingDestination,
    SimulatedCrash,
    assert_bucket_holds_exactly,
    assert_no_duplicates,
    bucket_lines,
    exported_ids,
    is_export_event,
    process_dies,
    s3_unreachable,
)

STS_DENIED = "sts-denied"
S3_DOWN = "s3-down-after-parts"
DIES_MID_UPLOAD = "dies-mid-upload"
DIES_BEFORE_BOOKKEEPING = "dies-before-bookkeeping"
UPLOAD_FAILURES = (S3_DOWN, DIES_MID_UPLOAD)


@dataclass(frozen=True)
class Ingest:
    org_events: int
    other_org_events: int
    late: bool
    resent: int


@dataclass(frozen=True)
class Export:
    failure: str | None
    parts_before_failure: int


ingests = st.one_of(
    st.builds(Ingest, org_events=st.integers(1, 10), other_org_events=st.integers(0, 3), late=st.booleans(),
              resent=st.integers(0, 3)),
    st.builds(Ingest, org_events=st.just(0), other_org_events=st.integers(1, 3), late=st.booleans(),
              resent=st.integers(0, 3)),
)
exports = st.builds(
    Export,
    failure=st.sampled_from([None, None, STS_DENIED, S3_DOWN, DIES_MID_UPLOAD, DIES_BEFORE_BOOKKEEPING]),
    parts_before_failure=st.integers(0, 2),
)
# Rounds of "maybe ingest, then export", plus a trailing ingest at times, so failures meet fresh events.
interleavings = st.tuples(
    st.lists(st.tuples(st.none() | ingests, exports), min_size=2, max_size=4),
    st.none() | ingests,
).map(lambda drawn: [step for round_ in drawn[0] for step in round_ if step is not None]
      + ([drawn[1]] if drawn[1] else []))


@dataclass
class Model:
    """What the bucket must hold, computed from what the test sent, independently of the export code."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    unplanned: list[str] = field(default_factory=list)
    pending: list[str] | None = None
    delivered: list[str] = field(default_factory=list)

    @property
    def org_ids(self) -> list[str]:
        return [r["event_id"] for r in self.sent if r["org_id"] == "acme"]


@dataclass
class Example:
    paths: Paths
    sandbox: LocalAwsSandbox
    config: ExportConfig
    part_bytes: int
    model: Model = field(default_factory=Model)
    runs: itertools.count[int] = field(default_factory=itertools.count)
    real: S3Destination | None = None
    denied: S3Destination | None = None

    def ingest(self, step: Ingest, number: int) -> None:
        when = "2025-03-01T08:00:00Z" if step.late else "2026-11-20T10:00:00Z"
        fresh = [event(f"s{number}-acme-{i}", occurred_at=when) for i in range(step.org_events)]
        fresh += [event(f"s{number}-globex-{i}", org_id="globex") for i in range(step.other_org_events)]
        resent = self.model.sent[-step.resent:] if step.resent else []
        land_records(self.paths, [*resent, *fresh], name=f"step-{number}.jsonl")
        counts = ingest_now(self.paths)
        assert (counts.ingested, counts.duplicates, counts.quarantined) == (len(fresh), len(resent), 0)
        self.model.sent += fresh
        self.model.unplanned += [r["event_id"] for r in fresh if r["org_id"] == "acme"]

    def destination(self, step: Export) -> Destination:
        # Clients are made once per example: building boto3 clients costs more than the export itself here.
        if step.failure == STS_DENIED:  # the role trusts another external id than the one presented
            if self.denied is None:
                wrong = replace(self.config, external_id="an-external-id-the-role-does-not-trust")
                self.denied = S3Destination(wrong)
            return self.denied
        if self.real is None:
            self.real = S3Destination(self.config)
        real = self.real
        if step.failure == S3_DOWN:
            return FailingDestination(real, step.parts_before_failure, s3_unreachable)
        if step.failure == DIES_MID_UPLOAD:
            return FailingDestination(real, step.parts_before_failure, process_dies)
        return real

    def export(self, step: Export) -> None:
        model = self.model
        resuming = model.pending is not None
        if model.pending is None:  # every run plans first, so even a failed one fixes what it holds
            model.pending, model.unplanned = model.unplanned, []
        planned = model.pending
        crash = mock.patch.object(runner, "mark_delivered", side_effect=SimulatedCrash("killed"))
        try:
            with crash if step.failure == DIES_BEFORE_BOOKKEEPING else contextlib.nullcontext():
                result = run_export(self.paths, self.config, self.destination(step),
                                    run_id=f"run-{next(self.runs)}", part_bytes=self.part_bytes)
        except ExportDeliveryError as error:
            assert (error.step, step.failure) in ((ASSUME_ROLE_STEP, STS_DENIED), (UPLOAD_STEP, S3_DOWN))
        except SimulatedCrash:
            assert step.failure in (DIES_MID_UPLOAD, DIES_BEFORE_BOOKKEEPING)
        else:
            assert step.failure in (None, *UPLOAD_FAILURES), "an injected failure went unnoticed"
            self.check_delivered(result, planned, resuming)
            model.delivered += planned
            model.pending = None
        self.check_bucket()

    def check_delivered(self, result: ExportResult, planned: list[str], resuming: bool) -> None:
        assert result.plan.resumed == resuming
        assert result.plan.events == len(planned)
        lines = bucket_lines(self.sandbox, self.config.bucket, result.object_keys)
        if planned:
            assert sorted(line["event_id"] for line in lines) == sorted(planned)
        else:
            assert len(lines) == 1 and is_export_event(lines[0])

    def check_bucket(self) -> None:
        """Between exports: nothing twice, everything delivered is there, nothing outside the plans."""
        ids = exported_ids(self.sandbox, self.config.bucket)
        assert_no_duplicates(ids)
        assert set(self.model.delivered) <= set(ids) <= set(self.model.delivered) | set(self.model.pending or [])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalAwsSandbox]:
    """One local AWS for the whole property run; each example gets its own bucket, role and home folder."""
    with local_aws_sandbox() as started, started.exporter_environment():
        yield started


examples = itertools.count()


@settings(max_examples=15, deadline=None)
@given(steps=interleavings, gzip=st.booleans(), part_bytes=st.sampled_from([900, 1_800, 1_800, 1_000_000]))
def test_any_interleaving_of_ingests_exports_and_failures_exports_each_event_once(
    sandbox: LocalAwsSandbox, steps: list[Ingest | Export], gzip: bool, part_bytes: int
) -> None:
    number = next(examples)
    with tempfile.TemporaryDirectory() as home:
        paths = Paths(Path(home) / "home").ensure()
        config = configure_export(paths, sandbox, name=f"prop-{number}", bucket=f"prop-{number}-audit",
                                  prefix="exports", gzip=gzip)
        example = Example(paths, sandbox, config, part_bytes)
        for index, step in enumerate(steps):
            if isinstance(step, Ingest):
                example.ingest(step, index)
            else:
                example.export(step)
        example.export(Export(None, 0))  # the pending export, if any, or a new one
        example.export(Export(None, 0))  # whatever the pending one did not hold
        assert_bucket_holds_exactly(paths, sandbox, config.bucket, "acme", example.model.org_ids)
        assert sorted(example.model.delivered) == sorted(example.model.org_ids)
