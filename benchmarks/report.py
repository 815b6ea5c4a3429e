"""The results: a JSON file for machines, a Markdown page for people, a summary on stdout."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ANALYSIS_FILE = Path(__file__).resolve().parent / "analysis.md"
SECTION_TITLES = {
    "ingest": "Ingest",
    "export": "Export",
    "window_export": "Hourly export as the history grows",
    "query": "Query latency",
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


def _ingest(figures: dict[str, Any]) -> list[str]:
    table = _table(["Events", "Input", "Pipeline", "Raw DuckDB", "Ratio", "CPU ratio", "Pipeline rate"], [[
        figures["events"], f"{figures['input_mib']} MiB in {figures['files']} files",
        _seconds_and_cpu(figures, "pipeline_"), _seconds_and_cpu(figures, "raw_"),
        f"{figures['ratio']:.2f}x", f"{figures['cpu_ratio']:.2f}x",
        f"{figures['pipeline_events_per_second']:,} events/s",
    ]])
    return [*table, f"Pipeline: {figures['pipeline']}. Raw: {figures['raw']}.", ""]


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
    table = _table(["Window", "History", "Median export", "Samples"], [
        [f"{figures['window_events_exported']:,} events", f"{figures['small_history_events']:,} events",
         f"{figures['small_history_seconds'] * 1000:.0f} ms",
         ", ".join(f"{s * 1000:.0f}" for s in figures["small_history_samples"]) + " ms"],
        [f"{figures['window_events_exported']:,} events", f"{figures['large_history_events']:,} events",
         f"{figures['large_history_seconds'] * 1000:.0f} ms",
         ", ".join(f"{s * 1000:.0f}" for s in figures["large_history_samples"]) + " ms"],
    ])
    return [*table, f"Ratio {figures['ratio']:.2f}x. Pipeline: {figures['pipeline']}.", ""]


def _query(figures: dict[str, Any]) -> list[str]:
    rows = [[s["shape"], f"{s['page']['p50_ms']:.1f}", f"{s['page']['p95_ms']:.1f}",
             f"{s['events_and_total']['p95_ms']:.1f}", f"{s['facets']['p95_ms']:.1f}", str(s["samples"])]
            for s in figures["per_shape"]]
    table = _table(["Shape", "Page p50 ms", "Page p95 ms", "Alone: events + total p95 ms", "Alone: facets p95 ms",
                    "Samples"], rows)
    return [
        f"{figures['shapes']} shapes over {figures['history_events']:,} events (org {figures['org']}), "
        f"up to {figures['repeats']} samples each after a warm-up; all pages p50 {figures['all_pages']['p50_ms']} ms, "
        f"p95 {figures['all_pages']['p95_ms']} ms. Opening a reader and counting the org: "
        f"{figures['open_reader_and_count_ms']} ms.",
        "",
        *table,
        f"A page is {figures['pipeline']}.",
        "",
    ]


def _memory(figures: dict[str, Any]) -> list[str]:
    table = _table(["Events", "Peak RSS", "Export time", "Objects"], [[
        figures["events"], f"{figures['peak_rss_mib']:,.0f} MiB", f"{figures['export_seconds']:.1f} s",
        figures["objects"],
    ]])
    return [*table, f"{figures['pipeline']}.", ""]


RENDERERS = {"ingest": _ingest, "export": _export, "window_export": _window, "query": _query,
             "export_memory": _memory}


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
                  *RENDERERS[section](figures)]
    if ANALYSIS_FILE.exists():
        lines += [ANALYSIS_FILE.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def write_markdown(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(result), encoding="utf-8")


def summary(result: dict[str, Any]) -> str:
    lines = ["", "target                                   measured          limit       holds"]
    for target in result["targets"]:
        measured = "not measured" if target["measured"] is None else f"{target['measured']:,.2f} {target['unit']}"
        holds = {True: "yes", False: "NO", None: "-"}[target["holds"]]
        lines.append(f"{target['target']:<40} {measured:<17} <= {target['limit']:<8,.1f} {holds}")
    return "\n".join(lines)
