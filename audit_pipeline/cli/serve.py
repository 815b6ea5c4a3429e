"""`audit-pipeline serve`: the Audit Logs page and its JSON API."""

from __future__ import annotations

import argparse
from typing import Any

from audit_pipeline.access import list_users
from audit_pipeline.cli.output import CliError, progress
from audit_pipeline.settings import paths_from_env

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="serve the Audit Logs page and its JSON API",
        description="Serve the Audit Logs page (sign in with a token from `audit-pipeline users add`) and the "
        "JSON API (Authorization: Bearer <token>; OpenAPI at /openapi.json). Reads the lake read-only, "
        "so it keeps answering while ingestion and exports run.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import uvicorn

    from audit_pipeline.web.app import create_app

    if not 0 < args.port < 65536:
        raise CliError(f"--port must be from 1 to 65535, got {args.port}")
    paths = paths_from_env().ensure()
    if not any(user.active for user in list_users(paths)):
        progress("no users yet: add one with `audit-pipeline users add EMAIL --org ORG --role read_write`")
    progress(f"Audit Logs on http://{args.host}:{args.port}/audit-logs (home {paths.home})")
    try:
        uvicorn.run(create_app(paths), host=args.host, port=args.port, log_level="info",
                    server_header=False)
    except SystemExit as stop:
        if stop.code:
            raise CliError(f"could not serve on {args.host}:{args.port} (see the message above)") from stop
    return 0
