"""The `audit-pipeline` command: one subcommand module per area, all sharing output and error handling."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from audit_pipeline.cli import export, generate, ingest, logs, migrate, quarantine, serve, users
from audit_pipeline.cli.output import CliError
from audit_pipeline.dagster_home import DagsterSettingError, check_dagster_setting
from audit_pipeline.run_errors import PipelineRunError
from audit_pipeline.storage.lake import LakeConfigError
from audit_pipeline.storage.s3_landing import LandingConfigError, landing_from_env

COMMAND_MODULES = (generate, ingest, logs, quarantine, export, users, serve, migrate)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"audit-pipeline: {message} (see --help)\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="audit-pipeline",
        description="Land audit events in a DuckDB lakehouse, investigate them, and export them to S3.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Settings are checked before any work, so a wrong one is one line, not a failed run.
        landing_from_env()
        check_dagster_setting()
        code: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`... | head`): a normal end, not an error to report.
        _discard_stdout()
        return 0
    except CliError as error:
        sys.stderr.write(f"audit-pipeline: {error}\n")
        return error.exit_code
    except PipelineRunError as error:
        sys.stderr.write(f"audit-pipeline: {error} (its logs: the run in Dagster's run history)\n")
        return 1
    except (LakeConfigError, LandingConfigError, DagsterSettingError) as error:
        sys.stderr.write(f"audit-pipeline: {error}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("audit-pipeline: interrupted\n")
        return 130
    return code


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush at exit meets no closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
