"""The results: a JSON file for machines, a Markdown page for people, a summary on stdout."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ANALYSIS_FILE = Path(__file__).resolve().parent / "analysis.md"
SECTION_TITLES = {
    "small_batch_ingest": "Small-batch ingestion as the history grows",
    "bulk_ingest": "Bulk ingestion",
    "export": "Export",
    "window_export": "Hourly export as the history grows",
    "query": "Page latency while ingesting",
    "export_memory": "Export memory",
}


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(staging, path)


def _value(value: object) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _holds(holds: object) -> str:
    return {True: "yes", False: "**no**", None: "not measured"}[holds]  # type: ignore[index]


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_value(cell) if not isinstance(cell, str) else cell for cell in row) + " |"
              for row in rows]
    return [*lines, ""]


def _targets(result: dict[str, Any]) -> list[str]:
    rows = [[t["target"], _value(t["measured"]) + f" {t['unit']}", f"<= {_value(t['limit'])} {t['unit']}",
             _holds(t["holds"]), t["meaning"]] for t in result["targets"]]
    return _table(["Target", "Measured", "Limit", "Holds", "What it is"], rows)


def _seconds_and_cpu(figures: dict[str, Any], prefix: str) -> str:
    return f"{figures[f'{prefix}seconds']:.2f} s ({figures[f'{prefix}cpu_seconds']:.2f} s CPU)"


def _steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{step} {seconds:.2f} s" for step, seconds in steps.items())


def _batch(figures: dict[str, Any]) -> list[str]:
    rows = [[f"{figures[f'{label}_history_events']:,} events", _seconds_and_cpu(figures, f"{label}_"),
             f"{figures[f'{label}_ingest_step_seconds']:.2f} s", f"{figures[f'{label}_views_seconds']:.2f} s",
             f"{figures[f'{label}_outside_run_seconds']:.2f} s",
             f"{figures[f'{label}_raw_seconds'] * 1000:.0f} ms ({figures[f'{label}_raw_ratio']:,.1f}x)",
             ", ".join(f"{run['seconds']:.2f}" for run in figures[f"{label}_runs"]) + " s"]
            for label in ("small", "large")]
    table = _table(["History", "audit-pipeline ingest, end to end", "Ingest step", "Views", "Outside the run",
                    "Raw INSERT into the lake", "Samples"], rows)
    return [
        f"{figures['batch_events']:,} generated events in one `audit-pipeline ingest`, median of "
        f"{figures['rounds']} runs per history, each on a fresh copy of the home.",
        "", *table,
        f"Ratio large/small {figures['ratio']:.2f}x (CPU {figures['cpu_ratio']:.2f}x).",
        "",
        f"Steps, small history: {_steps(figures['small_steps'])}.",
        "",
        f"Steps, large history: {_steps(figures['large_steps'])}.",
        "",
        f"Pipeline: {figures['pipeline']}. Raw: {figures['raw']}. 'Outside the run' is the command's start-up "
        "(Python, imports, loading the definitions) and landing the files, before and after the Dagster run.",
        "",
    ]


def _bulk(figures: dict[str, Any]) -> list[str]:
    table = _table(["Events", "Input", "audit-pipeline ingest", "Raw INSERT into the lake", "Ratio", "CPU ratio",
                    "Raw native CTAS", "Pipeline rate"], [[
        figures["events"], f"{figures['input_mib']} MiB in {figures['files']} files",
        _seconds_and_cpu(figures, "pipeline_"), _seconds_and_cpu(figures, "raw_"),
        f"{figures['ratio']:.2f}x", f"{figures['cpu_ratio']:.2f}x",
        f"{_seconds_and_cpu(figures, 'raw_native_')}: pipeline {figures['native_ratio']:.2f}x",
        f"{figures['pipeline_events_per_second']:,} events/s",
    ]])
    return [*table,
            f"Split (Dagster step timings, median): ingest step {figures['ingest_step_seconds']:.2f} s "
            f"({figures['ingest_step_ratio']:.2f}x the raw lake insert), views {figures['views_seconds']:.2f} s, "
            f"the Dagster run {figures['dagster_run_seconds']:.2f} s of {figures['pipeline_seconds']:.2f} s.",
            "",
            f"Steps: {_steps(figures['steps'])}.",
            "",
            f"Pipeline: {figures['pipeline']}. Raw: {figures['raw']}. Raw native: {figures['raw_native']}.", ""]


def _export(figures: dict[str, Any]) -> list[str]:
    rows = []
    for variant in ("plain", "gzip"):
        rows.append([variant, _seconds_and_cpu(figures, f"raw_{variant}_")] + [
            f"{_seconds_and_cpu(figures, f'pipeline_{kind}_{variant}_')}: {figures[f'{kind}_{variant}_ratio']:.2f}x, "
            f"CPU {figures[f'{kind}_{variant}_cpu_ratio']:.2f}x"
            for kind in ("s3", "local")
        ])
    table = _table(["Format", "Raw DuckDB COPY", "Pipeline to local S3", "Pipeline, local part files only"], rows)
    return [f"{figures['events']:,} events of {figures['orgs']} orgs, one first export per org.", "", *table,
            f"Pipeline: {figures['pipeline']}. Raw: {figures['raw']}.", ""]


def _window(figures: dict[str, Any]) -> list[str]:
    table = _table(["Window", "History", "Median export", "Raw COPY (ratio)", "Samples"], [
        [f"{figures['window_events_exported']:,} events", f"{figures[f'{label}_history_events']:,} events",
         f"{figures[f'{label}_history_seconds'] * 1000:.0f} ms",
         f"{figures[f'{label}_raw_seconds'] * 1000:.0f} ms ({figures[f'{label}_raw_ratio']:,.1f}x)",
         ", ".join(f"{s * 1000:.0f}" for s in figures[f"{label}_history_samples"]) + " ms"]
        for label in ("small", "large")
    ])
    return [*table, f"Ratio {figures['ratio']:.2f}x (raw COPY large/small {figures['raw_ratio']:.2f}x). "
            f"Pipeline: {figures['pipeline']}. Raw: {figures['raw']}.", ""]


def _query(figures: dict[str, Any]) -> list[str]:
    rows = [[s["shape"], f"{s['page']['p50_ms']:.1f}", f"{s['page']['p95_ms']:.1f}",
             f"{s['events_and_total']['p95_ms']:.1f}", f"{s['facets']['p95_ms']:.1f}",
             f"{s['quiet_page']['p95_ms']:.1f}", f"{s['raw_page']['p95_ms']:.1f}" if "raw_page" in s else "-",
             str(s["samples"])]
            for s in figures["per_shape"]]
    table = _table(["Shape", "Page p50 ms", "Page p95 ms", "Alone: events + total p95 ms", "Alone: facets p95 ms",
                    "Quiet lake: page p95 ms", "Raw SQL page p95 ms", "Samples"], rows)
    raw = figures.get("raw_all_pages") or {}
    return [
        f"{figures['shapes']} shapes over {figures['history_events']:,} events (org {figures['org']}), "
        f"up to {figures['repeats']} samples each after a warm-up, while a background `audit-pipeline ingest` loop "
        f"of {figures['writer_batch_events']:,}-event files wrote into the same lake: "
        f"{figures['commits_during_measurement']:,} commits (catalog snapshots) during the "
        f"{figures['measurement_seconds']:.0f} s of measurement, {figures['ingest_runs_finished_during_measurement']} "
        f"ingest runs finished in it ({figures['events_ingested_during_measurement']:,} events), runs of "
        + ", ".join(f"{s:.1f}" for s in figures["ingest_run_seconds"]) + " s.",
        "",
        f"All pages while ingesting: p50 {figures['all_pages']['p50_ms']} ms, p95 {figures['all_pages']['p95_ms']} ms; "
        f"on the quiet lake afterwards ({figures['quiet_repeats']} samples per shape): p50 "
        f"{figures['quiet_all_pages']['p50_ms']} ms, p95 {figures['quiet_all_pages']['p95_ms']} ms; the raw SQL page "
        f"(shapes without text or user): p50 {raw.get('p50_ms', '-')} ms, p95 {raw.get('p95_ms', '-')} ms. "
        f"Attaching the lake in a new process and counting the org: {figures['attach_and_count_ms']} ms; "
        f"a reader cursor and the count once attached: {figures['open_reader_and_count_ms']} ms.",
        "",
        *table,
        f"A page is {figures['pipeline']}. Raw: {figures['raw']}.",
        "",
    ]


def _memory(figures: dict[str, Any]) -> list[str]:
    table = _table(["Events", "Peak RSS", "Export time", "Objects"], [[
        figures["events"], f"{figures['peak_rss_mib']:,.0f} MiB", f"{figures['export_seconds']:.1f} s",
        figures["objects"],
    ]])
    return [*table, f"{figures['pipeline']}.", ""]


RENDERERS = {"small_batch_ingest": _batch, "bulk_ingest": _bulk, "export": _export, "window_export": _window,
             "query": _query, "export_memory": _memory}


def markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    lines = [
        "# Benchmarks: the pipeline beside raw DuckDB",
        "",
        "Generated by `make bench` (`python -m benchmarks.run`); do not edit by hand: rerun it.",
        "",
        f"- Command: `{result['command']}`",
        f"- Run: {result['started_at']}, {result['duration_seconds']:.0f} s in all",
        f"- Machine: {machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}, Python {machine['python']}",
        f"- Packages: {packages}",
        f"- Commit: {machine['commit']}",
        f"- Load average (1, 5, 15 min) at the start: {result['load_before']}, at the end: {result['load_after']}"
        " (the machine has "
        f"{machine['cores']} cores: a load above that means other work shared them and slowed every figure)",
        "",
        "## Targets",
        "",
        *_targets(result),
    ]
    for section, figures in result["figures"].items():
        lines += [f"## {SECTION_TITLES[section]}", "",
                  f"Load before: {figures['load_before']}, after: {figures['load_after']}; "
                  f"{figures['section_seconds']:.0f} s.", "",
                  *(RENDERERS[section](figures) if "error" not in figures
                    else [f"Not measured: the section failed ({figures['error']}).", ""])]
    if ANALYSIS_FILE.exists():
        lines += [ANALYSIS_FILE.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def write_markdown(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(result), encoding="utf-8")


def main(argv: list[str]) -> int:
    """`python -m benchmarks.report RESULTS.json PAGE.md`: render the page again from stored results."""
    if len(argv) != 2:
        print("usage: python -m benchmarks.report RESULTS.json PAGE.md", file=sys.stderr)
        return 2
    write_markdown(json.loads(Path(argv[0]).read_text(encoding="utf-8")), Path(argv[1]))
    return 0


def summary(result: dict[str, Any]) -> str:
    lines = ["", "target                                   measured          limit       holds"]
    for target in result["targets"]:
        measured = "not measured" if target["measured"] is None else f"{target['measured']:,.2f} {target['unit']}"
        holds = {True: "yes", False: "NO", None: "-"}[target["holds"]]
        lines.append(f"{target['target']:<40} {measured:<17} <= {target['limit']:<8,.1f} {holds}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
