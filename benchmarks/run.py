"""`python -m benchmarks.run`: measure every figure beside its raw-DuckDB ceiling and write the results.

Progress goes to stderr; the summary of targets to stdout. Exit code 0 when every figure was measured,
whether or not the targets hold (the results say which), 2 for bad arguments, 1 when a section failed.
"""

from __future__ import annotations

import argparse
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

from benchmarks import batch_bench, export_bench, ingest_bench, memory_bench, query_bench, window_bench
from benchmarks.datasets import DEFAULT_DATA_DIR, HOME_OVERRIDES, Datasets
from benchmarks.machine import REPOSITORY, machine_facts
from benchmarks.measure import Section, load_average, progress, stopwatch
from benchmarks.report import summary, write_json, write_markdown
from benchmarks.targets import evaluate

# The sections on the smaller inputs first, those on the large history after.
SECTIONS = ("ingest", "export", "memory", "batch", "window", "query")
QUICK_EVENTS = 10_000
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
    sections: tuple[str, ...]
    results: Path
    markdown: Path
    data: Path
    command: str


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
                        help="events in the large history for the small batch, the page and the hourly export "
                             "(default 10,000,000)")
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
                        help="times the bulk ingestion and export figures are measured; the median counts (default 1)")
    parser.add_argument("--repeats", type=_positive, default=10,
                        help="samples of each query shape (default 10)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EVENTS:,} events everywhere and few repeats: the smoke run")
    parser.add_argument("--only", type=_sections, default=SECTIONS, metavar="SECTION[,SECTION]",
                        help=f"run only these sections: {', '.join(SECTIONS)}")
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
        sections=args.only,
        results=(args.out / "latest.json") if args.out else DEFAULT_RESULTS,
        markdown=(args.out / "benchmarks.md") if args.out else DEFAULT_MARKDOWN,
        data=args.data.resolve(),
        command=command,
    )


def _section_runners(options: Options, data: Datasets, work: Path) -> dict[str, tuple[str, Callable[[], Any]]]:
    return {
        "batch": ("small_batch_ingest", lambda: batch_bench.run(
            data, work, small=options.small_history, large=options.history, batch_events=options.batch_events,
            rounds=options.batch_rounds)),
        "ingest": ("bulk_ingest", lambda: ingest_bench.run(data, work, events=options.events,
                                                           rounds=options.rounds)),
        "export": ("export", lambda: export_bench.run(data, work, events=options.events, rounds=options.rounds)),
        "window": ("window_export", lambda: window_bench.run(
            data, work, small=options.small_history, large=options.history, window_events=options.window_events,
            repeats=options.window_repeats)),
        "query": ("query", lambda: query_bench.run(data, work, history=options.history,
                                                   repeats=options.query_repeats,
                                                   batch_events=options.batch_events)),
        "memory": ("export_memory", lambda: memory_bench.run(data, work, events=options.memory_events)),
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
            key, measure = runners[name]
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
                    "sections": list(options.sections)},
        "machine": machine_facts(),
        "figures": figures,
        "targets": evaluate(figures),
    }


def _exit_on_terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    # A terminated run still removes its work folder and half-built cache entries (the `finally` blocks).
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    result = run(options)
    write_json(result, options.results)
    write_markdown(result, options.markdown)
    print(summary(result))
    print(f"\nresults: {options.results}\nreport:  {options.markdown}")
    failed = [name for name, figures in result["figures"].items() if "error" in figures]
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
