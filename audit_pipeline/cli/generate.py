"""`audit-pipeline generate`: realistic synthetic audit events as NDJSON files, reproducible for a seed."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json, progress
from audit_pipeline.domain.events import RFC3339_PATTERN
from audit_pipeline.generator.run import GeneratedEvents, generate_events

PROGRESS_FROM_EVENTS = 100_000


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "generate",
        help="write realistic synthetic audit events as NDJSON files",
        description="Several orgs and a few hundred users: logins (some failed), MFA, scans, alerts, tickets, "
        "role and policy changes, a share in the platform API's camelCase shape, and planted suspicious "
        "patterns for every suspicious-activity rule. The same --seed and --end give identical files.",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="folder for the events-*.jsonl files (e.g. the landing folder); must hold none yet")
    parser.add_argument("--events", type=int, default=10_000, metavar="N", help="how many events (default 10000)")
    parser.add_argument("--orgs", type=int, default=3, metavar="K", help="how many orgs (default 3)")
    parser.add_argument("--days", type=int, default=30, metavar="D", help="days of activity (default 30)")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    parser.add_argument("--end", metavar="RFC3339", help="end of the period, e.g. 2026-11-20T00:00:00Z "
                        "(default: now)")
    add_format_flag(parser)
    parser.set_defaults(handler=handle_generate)


def parse_end(text: str | None) -> datetime | None:
    if text is None:
        return None
    if not re.fullmatch(RFC3339_PATTERN, text):
        raise CliError(f"--end {text!r} is not RFC 3339 with a UTC offset, e.g. 2026-11-20T00:00:00Z")
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise CliError(f"--end {text!r} is not a valid date and time ({error})") from error


def handle_generate(args: argparse.Namespace) -> int:
    report = progress if args.events >= PROGRESS_FROM_EVENTS else None
    try:
        generated = generate_events(args.out.resolve(), events=args.events, orgs=args.orgs, days=args.days,
                                    seed=args.seed, end=parse_end(args.end), progress=report)
    except (ValueError, OSError) as error:
        raise CliError(str(error)) from error
    if args.format == "json":
        print_json({"files": [str(path) for path in generated.files], "events": generated.events})
    else:
        _print_table(generated)
    return 0


def _print_table(generated: GeneratedEvents) -> None:
    rows = [("FILE", "EVENTS")] + [
        (str(path), f"{count:,}") for path, count in zip(generated.files, generated.events_per_file, strict=True)
    ]
    width = max(len(row[0]) for row in rows)
    lines = [f"{name.ljust(width)}  {count.rjust(10)}" for name, count in rows]
    period = f"{generated.start:%Y-%m-%dT%H:%M:%SZ} to {generated.end:%Y-%m-%dT%H:%M:%SZ}"
    lines.append(f"{generated.events:,} events in {len(generated.files)} file(s), {period}")
    if generated.planted:
        planted = ", ".join(f"{rule} ({len(ids)})" for rule, ids in generated.planted.items())
        lines.append(f"planted suspicious events: {planted}")
    sys.stdout.write("\n".join(lines) + "\n")
