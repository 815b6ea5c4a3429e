"""`audit-pipeline users`: who may open the Audit Logs page and API, with which role, for which org."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from audit_pipeline.access import ROLES, AccessError, add_user, list_users, revoke_user
from audit_pipeline.access.roles import AUDIT_LOGS_PERMISSION
from audit_pipeline.cli.output import CliError, add_format_flag, print_json
from audit_pipeline.settings import paths_from_env


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "users",
        help="add, list and revoke the users of the Audit Logs page and API",
        description="Users belong to one org and have a role; viewing audit logs needs "
        f"{AUDIT_LOGS_PERMISSION} (or admin); only admins may configure the audit log export. Each user gets "
        "an API token, printed once and stored only as a SHA-256 digest.",
    )
    actions = parser.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user and print their API token (shown only this once)")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--org", required=True, help="the org whose audit logs the user may see")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--name", help="display name recorded with the user's own audit events")
    add_format_flag(add)
    add.set_defaults(handler=handle_add)

    listing = actions.add_parser("list", help="list users, revoked ones included")
    add_format_flag(listing)
    listing.set_defaults(handler=handle_list)

    revoke = actions.add_parser("revoke", help="end a user's access; their token and sessions stop working")
    revoke.add_argument("email", metavar="EMAIL")
    add_format_flag(revoke)
    revoke.set_defaults(handler=handle_revoke)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def handle_add(args: argparse.Namespace) -> int:
    try:
        paths = paths_from_env().ensure()
        issued = add_user(paths, args.email, args.org, args.role, args.name)
    except AccessError as error:
        raise CliError(str(error)) from error
    if args.format == "json":
        print_json({**issued.user.public_fields(), "token": issued.token})
    else:
        user = issued.user
        sys.stdout.write(f"added {user.email} to org {user.org_id} as {user.role}\n"
                         f"token (shown only now): {issued.token}\n")
    return 0


def handle_list(args: argparse.Namespace) -> int:
    users = list_users(paths_from_env())
    if args.format == "json":
        print_json([user.public_fields() for user in users])
        return 0
    if not users:
        sys.stdout.write("no users yet: add one with `audit-pipeline users add EMAIL --org ORG --role ROLE`")
        sys.stdout.write("\n")
        return 0
    rows = [("EMAIL", "ORG", "ROLE", "NAME", "CREATED", "REVOKED")] + [
        (u.email, u.org_id, u.role, u.name or "-", _when(u.created_at), _when(u.revoked_at)) for u in users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")
    return 0


def handle_revoke(args: argparse.Namespace) -> int:
    try:
        user = revoke_user(paths_from_env().ensure(), args.email)
    except AccessError as error:
        raise CliError(str(error)) from error
    if args.format == "json":
        print_json(user.public_fields())
    else:
        sys.stdout.write(f"revoked {user.email} (org {user.org_id}) at {_when(user.revoked_at)}\n")
    return 0
