"""`python -m benchmarks.run`: measure every figure beside its raw-DuckDB ceiling and write the results.

Progress goes to stderr; the summary of targets to stdout. Exit code 0 when every figure was measured,
whether or not the targets hold (the results say which), 2 for bad arguments, 1 when a section failed.

Sections: ingest (bulk ingestion), export, memory (export peak RSS), batch (small batch as the history
grows), window (hourly export as the history grows), query (page latency while ingesting), shared (a shared
deployment on a PostgreSQL catalog: exports due at the same hour by 1 and 2 workers, ingestion by 2 machines
at once, the page on the large history; needs PostgreSQL's server binaries, `make postgres-deps`). A run of
some sections keeps the other sections' figures from the results file it writes over (each marked with the
run that measured it), unless --fresh.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import batch_bench, export_bench, ingest_bench, memory_bench, query_bench, shared_bench, window_bench
from benchmarks.datasets import DEFAULT_DATA_DIR, HOME_OVERRIDES, Datasets
from benchmarks.machine import REPOSITORY, machine_facts
from benchmarks.measure import Section, load_average, progress, stopwatch
from benchmarks.report import summary, write_json, write_markdown
from benchmarks.targets import evaluate

# The sections on the smaller inputs first, those on the large history after; the shared deployment last.
SECTIONS = ("ingest", "export", "memory", "batch", "window", "query", "shared")
# The key of each section's figures in the results.
SECTION_KEYS = {"ingest": "bulk_ingest", "export": "export", "memory": "export_memory", "batch": "small_batch_ingest",
                "window": "window_export", "query": "query", "shared": "shared_deployment"}
QUICK_EVENTS = 10_000
QUICK_SHARED_CONFIGS = 4
DEFAULT_RESULTS = REPOSITORY / "benchmarks" / "results" / "latest.json"
DEFAULT_MARKDOWN = REPOSITORY / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Options:
    events: int
    small_history: int
    history: int
    memory_events: int
    window_events: int
    batch_events: int
    batch_rounds: int
    rounds: int
    query_repeats: int
    window_repeats: int
    shared_configs: int
    shared_export_events: int
    shared_ingest_events: int
    sections: tuple[str, ...]
    results: Path
    markdown: Path
    data: Path
    command: str
    fresh: bool = False


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def _sections(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(SECTIONS)} (got {text!r})")
    return chosen


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--events", type=_positive, default=1_000_000,
                        help="events of the bulk ingestion and the export (default 1,000,000)")
    parser.add_argument("--small-history", type=_positive, default=1_000_000,
                        help="events in the small history of the small-batch and hourly-export figures "
                             "(default 1,000,000)")
    parser.add_argument("--history", type=_positive, default=10_000_000,
                        help="events in the large history for the small batch, the page (on each catalog) and "
                             "the hourly export (default 10,000,000)")
    parser.add_argument("--memory-events", type=_positive, default=5_000_000,
                        help="events in the export whose peak memory is measured (default 5,000,000)")
    parser.add_argument("--window-events", type=_positive, default=5_000,
                        help="events arriving in each hour of the hourly-export figure (default 5,000)")
    parser.add_argument("--batch-events", type=_positive, default=1_000,
                        help="events in the small batch ingested over each history (default 1,000), and in each "
                             "file the background writer ingests during the page figure")
    parser.add_argument("--batch-rounds", type=_positive, default=3,
                        help="times the small batch is ingested over each history; the median counts (default 3)")
    parser.add_argument("--rounds", type=_positive, default=1,
                        help="times the bulk ingestion, export and shared-export figures are measured; the median "
                             "counts (default 1)")
    parser.add_argument("--repeats", type=_positive, default=10,
                        help="samples of each query shape, on each catalog (default 10)")
    parser.add_argument("--shared-configs", type=_positive, default=20,
                        help="shared section: export configs due at the same hour, one org each (default 20)")
    parser.add_argument("--shared-export-events", type=_positive, default=250_000,
                        help="shared section: events of those orgs in all, the exports' windows (default 250,000)")
    parser.add_argument("--shared-ingest-events", type=_positive, default=1_000_000,
                        help="shared section: events each ingesting worker's feed holds (default 1,000,000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EVENTS:,} events everywhere, {QUICK_SHARED_CONFIGS} export configs in the "
                             "shared section and few repeats: the smoke run")
    parser.add_argument("--sections", "--only", dest="sections", type=_sections, default=SECTIONS,
                        metavar="SECTION[,SECTION]",
                        help=f"run only these sections: {', '.join(SECTIONS)} (e.g. --sections shared)")
    parser.add_argument("--fresh", action="store_true",
                        help="write only this run's sections; by default the sections not run keep their figures "
                             "from the existing results file")
    parser.add_argument("--out", type=Path, default=None,
                        help="write latest.json and benchmarks.md into this folder instead of "
                             "benchmarks/results/ and docs/")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR,
                        help="where generated data is cached (default benchmarks/.data)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks.run", *argv])
    quick = args.quick
    return Options(
        events=QUICK_EVENTS if quick else args.events,
        small_history=QUICK_EVENTS if quick else args.small_history,
        history=QUICK_EVENTS if quick else args.history,
        memory_events=QUICK_EVENTS if quick else args.memory_events,
        window_events=min(args.window_events, 500) if quick else args.window_events,
        batch_events=min(args.batch_events, 1_000) if quick else args.batch_events,
        batch_rounds=1 if quick else args.batch_rounds,
        rounds=1 if quick else args.rounds,
        query_repeats=1 if quick else args.repeats,
        window_repeats=2 if quick else 9,
        shared_configs=min(args.shared_configs, QUICK_SHARED_CONFIGS) if quick else args.shared_configs,
        shared_export_events=QUICK_EVENTS if quick else args.shared_export_events,
        shared_ingest_events=QUICK_EVENTS if quick else args.shared_ingest_events,
        sections=args.sections,
        fresh=args.fresh,
        results=(args.out / "latest.json") if args.out else DEFAULT_RESULTS,
        markdown=(args.out / "benchmarks.md") if args.out else DEFAULT_MARKDOWN,
        data=args.data.resolve(),
        command=command,
    )


def _section_runners(options: Options, data: Datasets, work: Path) -> dict[str, Callable[[], Any]]:
    return {
        "batch": lambda: batch_bench.run(
            data, work, small=options.small_history, large=options.history, batch_events=options.batch_events,
            rounds=options.batch_rounds),
        "ingest": lambda: ingest_bench.run(data, work, events=options.events, rounds=options.rounds),
        "export": lambda: export_bench.run(data, work, events=options.events, rounds=options.rounds),
        "window": lambda: window_bench.run(
            data, work, small=options.small_history, large=options.history, window_events=options.window_events,
            repeats=options.window_repeats),
        "query": lambda: query_bench.run(data, work, history=options.history, repeats=options.query_repeats,
                                         batch_events=options.batch_events),
        "memory": lambda: memory_bench.run(data, work, events=options.memory_events),
        "shared": lambda: shared_bench.run(
            data, work, configs=options.shared_configs, export_events=options.shared_export_events,
            ingest_events=options.shared_ingest_events, history=options.history, repeats=options.query_repeats,
            batch_events=options.batch_events, rounds=options.rounds),
    }


def run(options: Options) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    started = time.monotonic()
    load_before = load_average()
    # Every home the benchmark makes keeps its lake and its Dagster instance inside it.
    for name in HOME_OVERRIDES:
        os.environ.pop(name, None)
    data = Datasets(options.data)
    work_root = options.data / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=work_root))
    figures: dict[str, Any] = {}
    try:
        runners = _section_runners(options, data, work)
        for name in options.sections:
            key, measure = SECTION_KEYS[name], runners[name]
            progress(f"section {name}")
            section = Section(key)
            with stopwatch() as watch:
                try:
                    section.figures = measure()
                except Exception as error:  # one failed section must not lose the others
                    progress(f"section {name} failed:\n{traceback.format_exc()}")
                    section.figures = {"error": f"{type(error).__name__}: {error}"[:4000]}
            section.seconds = watch.seconds
            figures[key] = section.as_dict()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "command": options.command,
        "started_at": started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_seconds": round(time.monotonic() - started, 1),
        "load_before": load_before,
        "load_after": load_average(),
        "options": {"events": options.events, "small_history": options.small_history, "history": options.history,
                    "memory_events": options.memory_events, "window_events": options.window_events,
                    "batch_events": options.batch_events, "batch_rounds": options.batch_rounds,
                    "rounds": options.rounds,
                    "query_repeats": options.query_repeats, "window_repeats": options.window_repeats,
                    "shared_configs": options.shared_configs,
                    "shared_export_events": options.shared_export_events,
                    "shared_ingest_events": options.shared_ingest_events,
                    "sections": list(options.sections)},
        "machine": machine_facts(),
        "figures": figures,
        "targets": evaluate(figures),
    }


def keep_earlier_sections(result: dict[str, Any], path: Path) -> dict[str, Any]:
    """The result with the figures of the sections it did not measure taken from the results file at `path`.

    Each section kept says which run measured it (`measured_by`); the targets are evaluated again over all.
    """
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return result
    measured_by = {"command": previous.get("command"), "started_at": previous.get("started_at"),
                   "commit": previous.get("machine", {}).get("commit"),
                   "load_before": previous.get("load_before")}
    figures: dict[str, Any] = {}
    for key in SECTION_KEYS.values():
        if key in result["figures"]:
            figures[key] = result["figures"][key]
        elif isinstance(previous.get("figures", {}).get(key), dict):
            figures[key] = {**previous["figures"][key]}
            figures[key].setdefault("measured_by", measured_by)
    return {**result, "figures": figures, "targets": evaluate(figures)}


def failed_sections(result: dict[str, Any]) -> list[str]:
    """The sections of this run that failed, wholly or in part (a kept section's failure is not this run's)."""
    return [name for name, figures in result["figures"].items()
            if "measured_by" not in figures and ("error" in figures or figures.get("failed_parts"))]


def _exit_on_terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    # A terminated run still removes its work folder and half-built cache entries (the `finally` blocks).
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    result = run(options)
    if not options.fresh:
        result = keep_earlier_sections(result, options.results)
    write_json(result, options.results)
    write_markdown(result, options.markdown)
    print(summary(result))
    print(f"\nresults: {options.results}\nreport:  {options.markdown}")
    failed = failed_sections(result)
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
