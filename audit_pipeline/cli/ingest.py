"""`audit-pipeline ingest`: land files and run ingestion plus the derived views through Dagster."""

from __future__ import annotations

import argparse
import shutil
import uuid
from pathlib import Path
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json, progress
from audit_pipeline.pipeline_runs import run_ingest_job
from audit_pipeline.settings import Paths, paths_from_env
from audit_pipeline.storage.landing_files import LANDING_SUFFIXES, is_landing_file


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "ingest",
        help="copy files or folders into the landing folder and ingest everything waiting there",
        description="Copy NDJSON / JSON-array files (optionally .gz) into the landing folder, then ingest "
        "them and refresh the investigation views in a Dagster run. Invalid records are quarantined "
        "with a reason and reported in the counts; that is still a success.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="files or folders to ingest (default: only what is already in the landing folder)")
    add_format_flag(parser)
    parser.set_defaults(handler=handle)


def collect_inputs(arguments: list[Path]) -> list[Path]:
    """Every landing file named by the arguments; unusable arguments are a CliError."""
    files: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(p for p in argument.rglob("*") if p.is_file() and is_landing_file(p))
            if not found:
                raise CliError(f"{argument} holds no {', '.join(LANDING_SUFFIXES)} files (optionally .gz)")
            files.extend(found)
        elif argument.is_file():
            if not is_landing_file(argument):
                raise CliError(f"{argument} is not a {', '.join(LANDING_SUFFIXES)} file (optionally .gz)")
            files.append(argument)
        else:
            raise CliError(f"no such file or folder: {argument}")
    return files


def land(files: list[Path], paths: Paths, *, verbose: bool) -> None:
    """Copy files into a fresh folder under landing; the copy appears there only when complete."""
    if not files:
        return
    batch = paths.landing / f"cli-{uuid.uuid4().hex[:12]}"
    staging = paths.home / ".landing-staging" / batch.name
    total_bytes = sum(f.stat().st_size for f in files)
    copied = 0
    for index, source in enumerate(files, start=1):
        target = staging / f"{index:06d}-{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += source.stat().st_size
        if verbose:
            progress(f"copied {index}/{len(files)} files ({copied / 1e6:.1f} of {total_bytes / 1e6:.1f} MB)")
    staging.rename(batch)


def handle(args: argparse.Namespace) -> int:
    paths = paths_from_env().ensure()
    files = collect_inputs(args.paths)
    land(files, paths, verbose=len(files) > 1 or any(f.stat().st_size > 50_000_000 for f in files))
    outcome = run_ingest_job(paths, on_progress=progress)
    summary = {
        "ingested": outcome.counts["ingested"],
        "duplicates": outcome.counts["duplicates"],
        "quarantined": outcome.counts["quarantined"],
        "files": outcome.counts["files_ingested"],
        "files_skipped": outcome.counts["files_skipped_already_ingested"],
        "total_events": outcome.counts["total_events"],
        "run_id": outcome.run_id,
    }
    if args.format == "json":
        print_json(summary)
    else:
        print(f"ingested {summary['ingested']}, duplicates {summary['duplicates']}, "
              f"quarantined {summary['quarantined']} "
              f"(files {summary['files']}, already ingested {summary['files_skipped']}; "
              f"{summary['total_events']} events stored; Dagster run {outcome.run_id})")
        if summary["quarantined"]:
            print("see which records and why: audit-pipeline quarantine")
    return 0
