"""`audit-pipeline logs`."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("logs", help="(not yet available)")
    parser.set_defaults(handler=lambda args: 0)
