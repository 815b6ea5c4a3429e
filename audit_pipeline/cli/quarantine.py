"""`audit-pipeline quarantine`: the records ingestion refused, with where they came from and why."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json
from audit_pipeline.settings import paths_from_env
from audit_pipeline.storage import quarantine
from audit_pipeline.storage.database import DatabaseMissingError, reader


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--limit takes a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("--limit cannot be negative")
    return value


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "quarantine", help="list records that ingestion refused, with their reasons",
        description="Counts by reason, then the newest quarantined records (source file, line, reason, raw text). "
        "The original files stay in the archive folder.",
    )
    parser.add_argument("--reason", help="only this reason code, e.g. malformed_json")
    parser.add_argument("--limit", type=_non_negative, default=20, help="records to show (default 20)")
    add_format_flag(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        with reader(paths_from_env()) as connection:
            counts = quarantine.reason_counts(connection)
            records = quarantine.recent(connection, reason_code=args.reason, limit=args.limit)
    except DatabaseMissingError:
        raise CliError("no events yet: run `audit-pipeline ingest` first") from None
    if args.format == "json":
        print_json({"by_reason": counts, "total": sum(counts.values()), "records": [asdict(r) for r in records]})
        return 0
    print(f"Quarantined: {sum(counts.values())}")
    for code, count in counts.items():
        print(f"  {code:<24} {count}")
    for record in records:
        print(f"\n{record.source_file}:{record.line_number}  [{record.reason_code}] {record.reason}")
        print(f"  {record.raw_preview!r}" + (" …" if record.raw_bytes > quarantine.PREVIEW_CHARS else ""))
    return 0
