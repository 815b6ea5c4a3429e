"""The benchmark harness runs end to end on 10k events and reports every figure and target (not their values)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
QUICK_EVENTS = 10_000
SECTION_OPTIONS = ("ingest", "export", "memory", "batch", "window", "query")
SECTIONS = ("bulk_ingest", "export", "export_memory", "small_batch_ingest", "window_export", "query")
TARGETS = ("small-batch ingest, large vs small history", "bulk ingest", "export (plain)", "export (gzip)",
           "hourly export, large vs small history", "page p95 while ingesting (worst shape)", "export peak RSS")
# Listed, unmeasured (the smoke run leaves their section out).
SHARED_TARGETS = ("exports due at once, 2 workers vs 1 (PostgreSQL)", "ingest from 2 workers at once (PostgreSQL)",
                  "page p95 while ingesting, PostgreSQL catalog (worst shape)")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    completed = subprocess.run(
        # Every section but the shared deployment's, whose PostgreSQL server and worker processes would add two
        # minutes; what that section measures is tested by tests/test_shared_nothing.py.
        [sys.executable, "-m", "benchmarks.run", "--quick", "--sections", ",".join(SECTION_OPTIONS),
         "--out", str(out), "--data", str(out / "data")],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=900,
        env={**os.environ, "AUDIT_PIPELINE_HOME": str(out / "home")},
    )
    return completed, out


@pytest.mark.slow
def test_quick_run_writes_every_figure_and_target(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    completed, out = quick_run
    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads((out / "latest.json").read_text())

    assert set(result["figures"]) == set(SECTIONS)
    assert [t["target"] for t in result["targets"]] == [*TARGETS, *SHARED_TARGETS]
    for target in result["targets"]:
        if target["target"] in SHARED_TARGETS:
            assert target["measured"] is None and target["holds"] is None, target
            continue
        assert isinstance(target["measured"], int | float), target
        assert target["holds"] in (True, False)
    for section in result["figures"].values():
        assert len(section["load_before"]) == 3 and len(section["load_after"]) == 3
    assert result["machine"]["cores"] and result["machine"]["packages"]["duckdb"]
    assert result["command"].startswith("python -m benchmarks.run --quick")


@pytest.mark.slow
def test_quick_run_measures_the_generated_events(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    completed, out = quick_run
    assert completed.returncode == 0, completed.stderr[-4000:]
    figures = json.loads((out / "latest.json").read_text())["figures"]

    batch = figures["small_batch_ingest"]
    assert batch["small_history_events"] == batch["large_history_events"] == QUICK_EVENTS
    assert batch["batch_events"] == 1_000
    for label in ("small", "large"):
        assert batch[f"{label}_steps"]["audit_events"] > 0 and len(batch[f"{label}_steps"]) > 1
        assert batch[f"{label}_raw_seconds"] > 0
    bulk = figures["bulk_ingest"]
    assert bulk["events"] == QUICK_EVENTS
    assert bulk["ingest_step_seconds"] > 0 and bulk["views_seconds"] > 0
    assert bulk["raw_seconds"] > 0 and bulk["raw_native_seconds"] > 0
    assert figures["export"]["events"] == QUICK_EVENTS
    assert figures["export_memory"]["events"] == QUICK_EVENTS
    assert figures["window_export"]["window_events_exported"] > 0
    assert figures["window_export"]["large_raw_seconds"] > 0
    query = figures["query"]
    assert query["shapes"] >= 20 and len(query["per_shape"]) == query["shapes"]
    assert len({shape["shape"] for shape in query["per_shape"]}) == query["shapes"]
    for shape in query["per_shape"]:
        assert set(shape["page"]) == {"p50_ms", "p95_ms"}
        assert set(shape["quiet_page"]) == {"p50_ms", "p95_ms"}
    assert any("raw_page" in shape for shape in query["per_shape"])
    # The pages were measured while the background writer committed into the same lake.
    assert query["ingest_runs_during_measurement"] >= 1
    assert query["commits_during_measurement"] >= 0


@pytest.mark.slow
def test_quick_run_writes_the_markdown_report(quick_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    completed, out = quick_run
    assert completed.returncode == 0, completed.stderr[-4000:]
    report = (out / "benchmarks.md").read_text()

    assert "python -m benchmarks.run --quick" in report
    for target in TARGETS:
        assert f"| {target} |" in report
    for title in ("## Small-batch ingestion as the history grows", "## Bulk ingestion", "## Export",
                  "## Hourly export as the history grows", "## Page latency while ingesting", "## Export memory"):
        assert title in report
    for target in TARGETS:
        assert target in completed.stdout


def test_bad_arguments_exit_2_with_a_message() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--only", "ingest,nonsense"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert "choose among ingest, export, memory, batch, window, query" in completed.stderr
