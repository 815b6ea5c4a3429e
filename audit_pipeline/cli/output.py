"""Shared CLI plumbing: errors with exit codes, the --format flag, JSON printing, progress on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from typing import Any


class CliError(Exception):
    """A problem the user can fix; printed as one line on stderr."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_format_flag(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("table", "json")) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0],
                        help=f"output format (default {choices[0]})")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def print_json(value: Any) -> None:
    sys.stdout.write(to_json(value) + "\n")


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for --format json."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
