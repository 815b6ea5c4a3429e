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
    "shared_deployment": "Shared deployment: several workers on a PostgreSQL catalog",
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
    rows = [[t["target"], _value(t["measured"]) + f" {t['unit']}",
             f"{t.get('comparison', '<=')} {_value(t['limit'])} {t['unit']}", _holds(t["holds"]), t["meaning"]]
            for t in result["targets"]]
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


def _part_failed(figures: dict[str, Any]) -> list[str]:
    return [f"Not measured: this part failed ({figures['error']}).", ""]


def _usage(run: dict[str, Any]) -> str:
    """Where the CPU went during a run: the machine's busy cores, the catalog server's CPU, its transactions."""
    text = f"{run['machine_busy_cores']:.2f} cores busy"
    if "other_processes_cpu_seconds" in run:
        text += f" ({run['other_processes_cpu_seconds']:.1f} s CPU of it other processes')"
    catalog = run.get("catalog")
    if catalog:
        text += f", catalog server {run['catalog_server_cpu_seconds']:.1f} s CPU"
        text += (f", catalog {catalog['commits']:,} transactions committed / {catalog['rollbacks']:,} rolled back, "
                 f"{catalog['snapshots']:,} snapshots")
    return text


HEALTH_STEP = "audit_log_export_export_health_"


def _export_steps(steps: dict[str, float]) -> str:
    """The export run's steps, each config's health check summed into one entry."""
    health = [seconds for step, seconds in steps.items() if step.startswith(HEALTH_STEP)]
    shown = {step.removeprefix("audit_log_export_") if step != "audit_log_export" else step: seconds
             for step, seconds in steps.items() if not step.startswith(HEALTH_STEP)}
    if health:
        shown[f"export_health_<config> x{len(health)}"] = sum(health)
    return _steps(shown)


def _conflicts(met: dict[str, int] | None) -> str:
    """What the retried writes met: another writer's change to a table, or an error retried as such."""
    if not met:
        return ""
    tables = [f"{what} ({count}x)" for what, count in met.items() if what.startswith("table ")]
    others = [f"`{what}` ({count}x)" for what, count in met.items() if not what.startswith("table ")]
    return "".join([
        "; the retried writes met another writer's change to " + ", ".join(tables) if tables else "",
        "; retried writes failed with " + ", ".join(others) if others else ""])


def _last_error(text: str) -> str:
    """The command's own error line (`audit-pipeline: ...`) out of its stderr, else its last line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    own = [number for number, line in enumerate(lines) if line.startswith("audit-pipeline:")]
    line = " ".join(lines[own[-1]:]) if own else (lines or [""])[-1]
    return line if len(line) <= 260 else f"{line[:110]} ... {line[-140:]}"


def _shared_exports(figures: dict[str, Any]) -> list[str]:
    if "error" in figures:
        return ["### Exports due at the same hour", "", *_part_failed(figures)]
    sizes = figures["events_per_config"]
    rows = []
    for kind, label in (("postgres", "PostgreSQL"), ("sqlite", "SQLite (one machine)")):
        if kind not in figures:
            continue
        measured = figures[kind]
        one, two = measured["worker_1"], measured["worker_2"]
        rows.append([
            label, f"{one['seconds']:.1f} s ({one['cpu_seconds']:.1f} s CPU)",
            f"{two['seconds']:.1f} s ({two['cpu_seconds']:.1f} s CPU)", f"{measured['ratio']:.2f}x",
            f"{one['per_worker'][0]['export_run_seconds']['median']:.2f} s",
            " / ".join(f"{w['export_run_seconds']['median']:.2f}" for w in two["per_worker"]) + " s",
            f"{one['machine_busy_cores']:.2f} / {two['machine_busy_cores']:.2f}"
            + (f" ({one['other_processes_cpu_seconds']:.0f} / {two['other_processes_cpu_seconds']:.0f} s CPU other "
               "processes)" if "other_processes_cpu_seconds" in one else ""),
            str(sum(w["retried_writes"] for w in two["per_worker"])),
            f"{one['benchmark_process_cpu_seconds']:.1f} / {two['benchmark_process_cpu_seconds']:.1f} s",
        ])
    table = _table(["Catalog", "1 worker", "2 workers", "2 / 1", "Export run, 1 worker (median)",
                    "Export run, 2 workers (median per worker)", "Busy cores 1 / 2", "Retried writes, 2 workers",
                    "moto S3 CPU 1 / 2"], rows)
    lines = [
        "### Exports due at the same hour", "",
        f"{figures['configs']} export configs, one per org, {figures['events']:,} events in all (windows of "
        f"{sizes['min']:,} to {sizes['max']:,} events, median {sizes['median']:,}), plain JSON to the local moto S3 "
        "(IAM checks on, each customer role with the optional read policy, so the checks read the objects back). "
        "Each export is a Dagster run of the export job in the worker's process (`run_export_now`, as `audit-pipeline "
        "export run` runs it: the export and every check of it); each worker is a process with its own home on the "
        "shared lake, set up before the go. Wall clock from the go to the last export's end; CPU is the workers'.",
        "", *table,
    ]
    rounds = [f"{label}: 1 worker " + ", ".join(f"{x:.1f}" for x in figures[kind]["samples"]["worker_1"])
              + " s; 2 workers " + ", ".join(f"{x:.1f}" for x in figures[kind]["samples"]["worker_2"]) + " s"
              for kind, label in (("postgres", "PostgreSQL"), ("sqlite", "SQLite"))
              if len(figures.get(kind, {}).get("samples", {}).get("worker_1", [])) > 1]
    if rounds:
        lines += [f"Rounds (the median counts): {'; '.join(rounds)}.", ""]
    postgres = figures.get("postgres")
    if postgres:
        one = postgres["worker_1"]["per_worker"][0]
        lines += [f"Steps of one export run (median, 1 worker, PostgreSQL; the Dagster run took "
                  f"{one['dagster_run_seconds_median']:.2f} s of {one['export_run_seconds']['median']:.2f} s): "
                  f"{_export_steps(one['steps_median'])}.", ""]
    for kind, label in (("postgres", "PostgreSQL"), ("sqlite", "SQLite")):
        for workers in ("worker_1", "worker_2") if kind in figures else ():
            run = figures[kind][workers]
            split = "; ".join(f"worker {number}: {w['configs']} configs, {w['events']:,} events, {w['seconds']:.1f} s "
                              f"({w['cpu_seconds']:.1f} s CPU, set-up {w['setup_seconds']:.1f} s before the go, "
                              f"{w['retried_writes']} retried writes)"
                              for number, w in enumerate(run["per_worker"], 1))
            workers_label = "1 worker" if run["workers"] == 1 else f"{run['workers']} workers"
            lines += [f"{label}, {workers_label}: {split}; {_usage(run)}"
                      f"{_conflicts(run.get('retried_writes_met'))}.", ""]
    not_passed = [check for kind in ("postgres", "sqlite") if kind in figures
                  for workers in ("worker_1", "worker_2") for check in figures[kind][workers]["checks_not_passed"]]
    if not_passed:
        lines += ["Checks that did not pass: " + "; ".join(not_passed[:5]), ""]
    return lines


def _shared_ingest(figures: dict[str, Any]) -> list[str]:
    if "error" in figures:
        return ["### Ingestion by two machines at once", "", *_part_failed(figures)]
    rows = []
    events = figures["events_per_worker"]
    for label, run in (("one worker alone", figures["one_worker"]), ("two workers at once", figures["two_workers"])):
        for worker in run["per_worker"]:
            rows.append([f"{label}: feed {worker['feed']}", events,
                         f"{worker['seconds']:.1f} s ({worker['cpu_seconds']:.1f} s CPU)",
                         f"{events / worker['seconds']:,.0f}", str(worker["attempts"]),
                         f"{worker['steps'].get('audit_events', 0.0):.1f} s",
                         f"{sum(s for step, s in worker['steps'].items() if step != 'audit_events'):.1f} s",
                         str(worker["retried_writes"])])
        if run["workers"] > 1:
            rows.append([f"{label}: together", run["events"],
                         f"{run['seconds']:.1f} s ({run['cpu_seconds']:.1f} s CPU)",
                         f"**{run['events_per_second']:,}**", "", "", "", ""])
    table = _table(["Run", "Events", "audit-pipeline ingest, end to end", "Events/s", "Attempts",
                    "Ingest step (all attempts)", "Views (all attempts)", "Retried writes"], rows)
    one, two = figures["one_worker"], figures["two_workers"]
    checked = two["lake"]
    failures = [f"feed {w['feed']} attempt {number} ({attempt['seconds']:.1f} s): {_last_error(attempt['error'])}"
                for run in (one, two) for w in run["per_worker"]
                for number, attempt in enumerate(w["failed_attempts"], 1)]
    return [
        "### Ingestion by two machines at once", "",
        f"`audit-pipeline ingest --format json FILES` of {figures['events_per_worker']:,} generated events per worker "
        "(3 orgs, 92 days; the second worker's feed another seed: other ids, the same orgs and days), each worker a "
        "process with a home of its own on one PostgreSQL catalog and one data path, each lake fresh. Timed end to "
        "end as an operator waits for the command; two workers from their common start until both ended.",
        "", *table,
        f"Combined throughput {two['events_per_second']:,} events/s against {one['events_per_second']:,} alone: "
        f"**{figures['speedup']:.2f}x**. The lake afterwards: {checked['stored']:,} events stored, "
        f"{checked['stored_distinct']:,} distinct (org_id, event_id), {checked['distinct_ingest_seq']:,} distinct "
        f"ingest_seq, {checked['lost']:,} generated events missing, {checked['not_generated']:,} stored that were not "
        "generated.",
        "",
        f"One worker: {_usage(one)}. Two workers: {_usage(two)}{_conflicts(two.get('retried_writes_met'))}.",
        "",
        *([f"Failed attempts, each run again on what waited in its landing folder: {' | '.join(failures)}", ""]
          if failures else []),
    ]


def _shared_page(figures: dict[str, Any], sqlite: dict[str, Any] | None) -> list[str]:
    if "error" in figures:
        return ["### Page latency on the PostgreSQL catalog", "", *_part_failed(figures)]
    if sqlite is not None and ("error" in sqlite or "per_shape" not in sqlite):
        sqlite = None

    def summary_row(label: str, page: dict[str, Any]) -> list[str]:
        return [label, f"{page['worst_shape_p95_ms']:,.1f} ms ({page['worst_shape']})",
                f"{page['all_pages']['p50_ms']:,.1f} / {page['all_pages']['p95_ms']:,.1f} ms",
                f"{page['quiet_all_pages']['p50_ms']:,.1f} / {page['quiet_all_pages']['p95_ms']:,.1f} ms",
                f"{page['attach_and_count_ms']:,.1f} ms", f"{page['open_reader_and_count_ms']:,.1f} ms",
                f"{page['commits_during_measurement']:,} in {page['measurement_seconds']:.0f} s"]

    rows = ([summary_row("SQLite (the query section)", sqlite)] if sqlite else []) + [
        summary_row("PostgreSQL", figures)]
    summary_table = _table(["Catalog", "Worst shape p95 while ingesting", "All pages p50 / p95 while ingesting",
                            "Quiet lake p50 / p95", "Attach + count", "Reader + count", "Commits meanwhile"], rows)
    sqlite_shapes = {s["shape"]: s for s in sqlite["per_shape"]} if sqlite else {}
    shape_rows = []
    for shape in figures["per_shape"]:
        other = sqlite_shapes.get(shape["shape"])
        shape_rows.append([shape["shape"], f"{other['page']['p95_ms']:.1f}" if other else "-",
                           f"{shape['page']['p95_ms']:.1f}", f"{other['quiet_page']['p95_ms']:.1f}" if other else "-",
                           f"{shape['quiet_page']['p95_ms']:.1f}", str(shape["samples"])])
    shape_table = _table(["Shape", "SQLite page p95 ms", "PostgreSQL page p95 ms", "SQLite quiet p95 ms",
                          "PostgreSQL quiet p95 ms", "PostgreSQL samples"], shape_rows)
    if sqlite is None:
        where = "the query section (SQLite) is not in these results"
    elif sqlite.get("measured_by"):
        where = (f"the SQLite figures are the query section's, measured by an earlier run "
                 f"(`{sqlite['measured_by']['command']}`, {sqlite['measured_by']['started_at']})")
    else:
        where = "the SQLite figures are the query section's, measured by this run"
    return [
        "### Page latency on the PostgreSQL catalog", "",
        f"The page figure of the query section, repeated on the same {figures['history_events']:,}-event history "
        "built with its catalog in PostgreSQL (the same synthetic events, the same views), with the same background "
        f"`audit-pipeline ingest` loop of {figures['writer_batch_events']:,}-event files writing into it; {where}.",
        "", *summary_table, *shape_table,
    ]


def _shared(figures: dict[str, Any], everything: dict[str, Any]) -> list[str]:
    lines = []
    if figures.get("failed_parts"):
        lines += [f"Parts that failed: {', '.join(figures['failed_parts'])}.", ""]
    lines += _shared_exports(figures.get("exports", {"error": "not run"}))
    lines += _shared_ingest(figures.get("ingest", {"error": "not run"}))
    lines += _shared_page(figures.get("page", {"error": "not run"}), everything.get("query"))
    lines += [f"{figures.get('catalog_server', '')}.", ""]
    return lines


RENDERERS = {"small_batch_ingest": _batch, "bulk_ingest": _bulk, "export": _export, "window_export": _window,
             "query": _query, "export_memory": _memory}
# Renderers that show a section beside another's figures (`everything`: every section of the results).
RENDERERS_WITH_CONTEXT = {"shared_deployment": _shared}


def _render(section: str, figures: dict[str, Any], everything: dict[str, Any]) -> list[str]:
    if "error" in figures:
        return [f"Not measured: the section failed ({figures['error']}).", ""]
    if section in RENDERERS_WITH_CONTEXT:
        return RENDERERS_WITH_CONTEXT[section](figures, everything)
    return RENDERERS[section](figures)


def _measured_by(figures: dict[str, Any]) -> list[str]:
    earlier = figures.get("measured_by")
    if not earlier:
        return []
    return [f"Kept from an earlier run: `{earlier['command']}`, {earlier['started_at']}, commit {earlier['commit']}.",
            ""]


def _kept(result: dict[str, Any]) -> list[str]:
    kept = [SECTION_TITLES[key] for key, figures in result["figures"].items() if figures.get("measured_by")]
    if not kept:
        return [""]
    return [f"- Kept from earlier runs (each section says which): {'; '.join(kept)}", ""]


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
        *_kept(result),
        "## Targets",
        "",
        *_targets(result),
    ]
    for section, figures in result["figures"].items():
        lines += [f"## {SECTION_TITLES[section]}", "", *_measured_by(figures),
                  f"Load before: {figures['load_before']}, after: {figures['load_after']}; "
                  f"{figures['section_seconds']:.0f} s.", "",
                  *_render(section, figures, result["figures"])]
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
    width = max(40, *(len(target["target"]) for target in result["targets"]))
    lines = ["", f"{'target':<{width}} measured          limit       holds"]
    for target in result["targets"]:
        measured = "not measured" if target["measured"] is None else f"{target['measured']:,.2f} {target['unit']}"
        holds = {True: "yes", False: "NO", None: "-"}[target["holds"]]
        lines.append(f"{target['target']:<{width}} {measured:<17} {target.get('comparison', '<=')} "
                     f"{target['limit']:<8,.1f} {holds}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
