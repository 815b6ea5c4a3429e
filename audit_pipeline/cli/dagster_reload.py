"""Saying on the CLI whether a running Dagster took a config change live."""

from __future__ import annotations

import argparse

from audit_pipeline.cli.output import progress
from audit_pipeline.dagster_reload import reload_code_locations


def announce_reload(args: argparse.Namespace) -> None:
    """One line: on stdout for the table format, on stderr for JSON so stdout stays one document."""
    message = reload_code_locations().message
    if getattr(args, "format", "table") == "json":
        progress(message)
    else:
        print(message)
