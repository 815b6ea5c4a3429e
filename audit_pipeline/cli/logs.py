"""`audit-pipeline logs`: list, filter and search audit events, or count them per facet.

Reads the lake's newest snapshot read-only, through the same query layer as the web page, so both show the same
numbers. Without a period or --since/--until every stored event is in scope (the CLI is for scripting).
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from audit_pipeline.cli.output import CliError, print_json, to_json
from audit_pipeline.query import (
    PERIODS,
    EventPage,
    LogFilter,
    QueryError,
    count_events,
    display_additional_info,
    display_user,
    facets,
    list_events,
    parse_time,
    period_bounds,
)
from audit_pipeline.query.logs import EVENT_COLUMNS
from audit_pipeline.settings import paths_from_env
from audit_pipeline.storage.database import DatabaseBusyError, DatabaseMissingError, reader

NO_EVENTS_YET = "no events yet: run `audit-pipeline ingest` first"
FORMATS = ("table", "json", "csv")
DEFAULT_LIMIT = 50
DEFAULT_TOP = 50
TABLE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("User", 24), ("Action", 24), ("Additional Info", 40), ("Log Type", 16), ("Date (UTC)", 19),
)
ORG_COLUMN = ("Org", 12)
FACET_TITLES = {"action": "Action", "user": "User", "log_type": "Log Type"}


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "logs",
        help="list, filter and search audit events (or count them per action, user and log type)",
        description="List audit events newest first, filtered like the Audit Logs page. Repeated options "
        "of one kind are ORed (--action Login --action Logout); different options are ANDed. Without "
        "--period or --since/--until every stored event is in scope. `logs facets` counts events per "
        "action, user and log type; each facet ignores its own filter so other values stay visible.",
    )
    parser.add_argument("view", nargs="?", choices=("list", "facets"), default="list",
                        help="list the events (default) or count them per facet")
    parser.add_argument("--org", action="append", default=[], metavar="ORG", help="org id (repeatable)")
    parser.add_argument("--period", metavar="|".join(PERIODS),
                        help="events of the last hour, day, 7/30/90 days (default all)")
    parser.add_argument("--since", metavar="TIME",
                        help="from this time, inclusive: RFC 3339 (2026-11-20T10:00:00Z) or a date (UTC)")
    parser.add_argument("--until", metavar="TIME",
                        help="up to this time, exclusive; a date includes that whole day (UTC)")
    parser.add_argument("--action", action="append", default=[], metavar="A",
                        help="action name, exact, any case (repeatable)")
    parser.add_argument("--user", action="append", default=[], metavar="U",
                        help="user id, email or name, exact, any case (repeatable); "
                        "for part of one use --search user:TEXT")
    parser.add_argument("--log-type", action="append", default=[], metavar="L",
                        help="log type, exact, any case (repeatable)")
    parser.add_argument("--search", metavar="TEXT",
                        help="case-insensitive text in user, role, action, log type, IP or details; "
                        'words are ANDed, "a phrase" is one word, user:X action:X type:X narrow a word')
    parser.add_argument("--limit", default=str(DEFAULT_LIMIT), metavar="N",
                        help=f"events per page (default {DEFAULT_LIMIT})")
    parser.add_argument("--offset", default="0", metavar="N", help="events to skip (default 0)")
    parser.add_argument("--top", default=str(DEFAULT_TOP), metavar="N",
                        help=f"values per facet for `logs facets` (default {DEFAULT_TOP})")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default table; csv only for the list)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        flt = filter_from_args(args, now=datetime.now(UTC))
        limit, offset, top = (_integer(name, getattr(args, name)) for name in ("limit", "offset", "top"))
        if args.view == "facets" and args.format == "csv":
            raise CliError("--format csv is only for the event list; use table or json for facets")
        with _snapshot() as conn:
            if args.view == "facets":
                counts = facets(conn, flt, top=top)
                total = count_events(conn, flt) if args.format == "table" else 0
            else:
                page = list_events(conn, flt, limit=limit, offset=offset)
            hint = users_hint(conn, flt) if args.view == "list" and page.total == 0 else None
    except QueryError as error:
        raise CliError(str(error)) from None
    if args.view == "facets":
        print_facets(counts, total, args.format)
    else:
        print_page(page, args.format, with_org=len(flt.orgs) != 1)
    if hint:
        sys.stderr.write(f"audit-pipeline: {hint}\n")
    return 0


def users_hint(conn: duckdb.DuckDBPyConnection, flt: LogFilter) -> str | None:
    """When --user matched nothing: how many events each value finds as part of a user, if any.

    --user, like the page's User filter, matches a user id, email or name exactly; `--search user:TEXT`
    matches part of one."""
    found = []
    for value in flt.users:
        phrase = 'user:"' + value.replace('"', "") + '"'
        widened = replace(flt, users=(), search=f"{flt.search or ''} {phrase}".strip())
        count = count_events(conn, widened)
        if count:
            found.append(f"{count} event(s) with {phrase}")
    if not found:
        return None
    names = ", ".join(repr(value) for value in flt.users)
    return (f"no event has a user id, email or name equal to {names} (--user matches whole values); "
            f"as part of a user: {'; '.join(found)} (use --search)")


def filter_from_args(args: argparse.Namespace, *, now: datetime) -> LogFilter:
    """The LogFilter the options describe; QueryError for anything the query layer would refuse."""
    if args.period is not None and (args.since is not None or args.until is not None):
        raise QueryError("--period cannot be combined with --since/--until; use one or the other")
    since, until = period_bounds(args.period or "all", now)
    if args.since is not None:
        since = parse_time(args.since)
    if args.until is not None:
        until = parse_time(args.until, end=True)
    if since is not None and until is not None and until <= since:
        raise QueryError(f"--until {args.until} must be later than --since {args.since}")
    return LogFilter(
        orgs=tuple(args.org), since=since, until=until, actions=tuple(args.action),
        users=tuple(args.user), log_types=tuple(args.log_type), search=args.search,
    )


def _integer(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise QueryError(f"--{name} must be a whole number, got {text!r}") from None


@contextmanager
def _snapshot() -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        with reader(paths_from_env()) as conn:
            yield conn
    except DatabaseMissingError:
        raise CliError(NO_EVENTS_YET) from None
    except DatabaseBusyError as error:
        raise CliError(str(error)) from None


def print_page(page: EventPage, output_format: str, *, with_org: bool = False) -> None:
    """`with_org` adds an Org column to the table (when the events can come from several orgs)."""
    if output_format == "json":
        print_json({"total": page.total, "limit": page.limit, "offset": page.offset, "events": page.events})
    elif output_format == "csv":
        write_csv(page.events)
    else:
        sys.stdout.write(render_table(page, with_org=with_org) + "\n")


def write_csv(events: list[dict[str, Any]]) -> None:
    """A header of the event fields, then one row per event; additional_info as JSON text."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for event in events:
        writer.writerow([_csv_value(event[column]) for column in EVENT_COLUMNS])


def _csv_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return to_json(value)
    return "" if value is None else value


def render_table(page: EventPage, *, with_org: bool = False) -> str:
    columns = (*((ORG_COLUMN,) if with_org else ()), *TABLE_COLUMNS)
    lines = [f"Total: {page.total}"]
    lines.append("  ".join(fit(title, width) for title, width in columns).rstrip())
    lines.append("  ".join("-" * width for _, width in columns))
    for event in page.events:
        cells = (*((event["org_id"],) if with_org else ()), display_user(event), event["action"],
                 display_additional_info(event), event["log_type"], event["occurred_at"].strftime("%Y-%m-%d %H:%M:%S"))
        lines.append("  ".join(fit(cell, width) for cell, (_, width) in zip(cells, columns, strict=True))
                     .rstrip())
    lines.append(_showing(page))
    return "\n".join(lines)


def _showing(page: EventPage) -> str:
    if not page.events:
        return f"showing 0 of {page.total}" + (f" (offset {page.offset})" if page.offset else "")
    return f"showing {page.offset + 1}-{page.offset + len(page.events)} of {page.total}"


def print_facets(counts: dict[str, dict[str, int]], total: int, output_format: str) -> None:
    if output_format == "json":
        print_json(counts)
        return
    lines = [f"Total: {total}"]
    for facet, title in FACET_TITLES.items():
        lines.append("")
        lines.append(title)
        values = counts.get(facet, {})
        if not values:
            lines.append("  (none)")
        width = max((len(str(n)) for n in values.values()), default=1)
        lines.extend(f"  {str(n).rjust(width)}  {fit(value, 60).rstrip()}" for value, n in values.items())
    sys.stdout.write("\n".join(lines) + "\n")


def fit(text: str, width: int) -> str:
    """`text` on one line, cut with an ellipsis and padded to `width` terminal columns (wide characters count 2)."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    if _columns(flat) <= width:
        return flat + " " * (width - _columns(flat))
    kept, used = [], 0
    for ch in flat:
        if used + _char_columns(ch) > width - 1:
            break
        kept.append(ch)
        used += _char_columns(ch)
    return "".join(kept) + "…" + " " * (width - 1 - used)


def _columns(text: str) -> int:
    return sum(_char_columns(ch) for ch in text)


def _char_columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
