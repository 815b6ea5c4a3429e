"""Query latency: what the Audit Logs page asks for, over the history of H events, through `audit_pipeline.query`.

A page is the first page of events WITH the total and the facet counts, in one call as the web page asks
(`list_events_with_facets`, which matches a search once for both) on a reader connection to the history
(with the daily rollup and free-text index the investigation assets build); each sample also times the two
halves as the CLI asks for them (`list_events`, `facets`). Every shape is scoped to one
org (a page shows its own org only) and runs once to warm up, then `repeats` times (fewer once a shape has
taken SHAPE_BUDGET_SECONDS), the shapes taking turns so a burst of load elsewhere spreads over all of them.
The values searched for (users, a scan id, an IP) are read from the history first, so each shape matches
what an investigator would find.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from audit_pipeline.query.filters import LogFilter
from audit_pipeline.query.logs import facets, latest_event_time, list_events, list_events_with_facets
from audit_pipeline.storage import database
from benchmarks.datasets import Datasets
from benchmarks.measure import median, percentile, progress, stopwatch

ORG = "acme"
PAGE_SIZE = 50
TARGET_SECONDS = 0.1
# A shape far over the target needs no more samples to show it: after MIN_SAMPLES it stops once it has taken
# SHAPE_BUDGET_SECONDS in all, which bounds the section's time on a slow or busy machine.
MIN_SAMPLES = 3
SHAPE_BUDGET_SECONDS = 10.0


@dataclass(frozen=True)
class Shape:
    name: str
    flt: LogFilter
    offset: int = 0


@dataclass
class Timings:
    page: list[float] = field(default_factory=list)
    events_and_total: list[float] = field(default_factory=list)
    facets: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """Real values from the history for the shapes to look for."""

    now: datetime
    users: list[str]
    scan_id: str
    outside_ip: str
    total_90d: int


def probe(connection: duckdb.DuckDBPyConnection) -> Probe:
    now = latest_event_time(connection)
    if now is None:
        raise RuntimeError("the history holds no events")
    users = [str(r[0]) for r in connection.execute(
        "SELECT user_email FROM events WHERE org_id = ? AND user_email IS NOT NULL "
        "GROUP BY ALL ORDER BY count(*) DESC, user_email LIMIT 3", [ORG]).fetchall()]
    scan = connection.execute(
        "SELECT additional_info->>'scan_id' FROM events WHERE org_id = ? AND log_type = 'Scan' "
        "AND occurred_at >= ? ORDER BY occurred_at DESC LIMIT 1 OFFSET 500",
        [ORG, now - timedelta(days=20)]).fetchone()
    ip = connection.execute(
        "SELECT source_ip FROM events WHERE org_id = ? AND source_ip LIKE '203.%' LIMIT 1", [ORG]).fetchone()
    total = connection.execute(
        "SELECT count(*) FROM events WHERE org_id = ? AND occurred_at >= ?", [ORG, now - timedelta(days=90)]
    ).fetchone()
    return Probe(now=now, users=users, scan_id=str(scan[0]) if scan else "scn_0",
                 outside_ip=str(ip[0]) if ip else "203.0.113.7", total_90d=int(total[0]) if total else 0)


def shapes(found: Probe) -> list[Shape]:
    now = found.now

    def last(days: float) -> LogFilter:
        return LogFilter(orgs=(ORG,), since=now - timedelta(days=days))

    def with_(base: LogFilter, **changes: object) -> LogFilter:
        return replace(base, **changes)  # type: ignore[arg-type]

    first_name = found.users[0].split(".", 1)[0]
    day = (now - timedelta(days=17)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        Shape("period 24h", last(1)),
        Shape("period 7d", last(7)),
        Shape("period 30d", last(30)),
        Shape("period 90d", last(90)),
        Shape("all time", LogFilter(orgs=(ORG,))),
        Shape("one day (since/until)", LogFilter(orgs=(ORG,), since=day, until=day + timedelta(days=1))),
        Shape("action Login, 7d", with_(last(7), actions=("Login",))),
        Shape("actions x3, 30d", with_(last(30), actions=("Login", "Logout", "Login Failed"))),
        Shape("user, 30d", with_(last(30), users=(found.users[0],))),
        Shape("users x3, 30d", with_(last(30), users=tuple(found.users))),
        Shape("log type Scan, 30d", with_(last(30), log_types=("Scan",))),
        Shape("log types x2, 90d", with_(last(90), log_types=("Policy", "User Management"))),
        Shape("action + user + type, 90d",
              with_(last(90), actions=("Login Failed",), users=(found.users[1],), log_types=("Authentication",))),
        Shape("text 'failed', 7d", with_(last(7), search="failed")),
        Shape("text scan id, 30d", with_(last(30), search=found.scan_id)),
        Shape("text IP, 90d", with_(last(90), search=found.outside_ip)),
        Shape("phrase \"Jira Ticket\", 30d", with_(last(30), search='"Jira Ticket"')),
        Shape("text without match, 90d", with_(last(90), search="no-such-thing-anywhere")),
        Shape("text 'failed', 24h", with_(last(1), search="failed")),
        # A quote inside a word: escaped in additional_info's JSON text, so searched there as `\"`.
        Shape("text with a quote, 7d", with_(last(7), search='mfa":t')),
        Shape(f"user:{first_name}, 30d", with_(last(30), search=f"user:{first_name}")),
        Shape("action:mfa, 30d", with_(last(30), search="action:mfa")),
        Shape("type:policy, all time", LogFilter(orgs=(ORG,), search="type:policy")),
        Shape(f"user:{first_name} action:login sso, 90d",
              with_(last(90), search=f"user:{first_name} action:login sso")),
        Shape("page at offset 10,000, 30d", last(30), offset=10_000),
        Shape("page at offset 100,000, 90d", last(90), offset=100_000),
        Shape("last page, 90d", last(90), offset=max(found.total_90d - PAGE_SIZE, 0)),
    ]


def _page(connection: duckdb.DuckDBPyConnection, shape: Shape, timings: Timings) -> None:
    """One page as the web page asks for it (one call), then its two halves as the CLI asks for each."""
    with stopwatch() as page:
        list_events_with_facets(connection, shape.flt, limit=PAGE_SIZE, offset=shape.offset)
    with stopwatch() as listed:
        list_events(connection, shape.flt, limit=PAGE_SIZE, offset=shape.offset)
    with stopwatch() as counted:
        facets(connection, shape.flt)
    timings.page.append(page.seconds)
    timings.events_and_total.append(listed.seconds)
    timings.facets.append(counted.seconds)


def _summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(samples, 0.5) * 1000, 1), "p95_ms": round(percentile(samples, 0.95) * 1000, 1)}


def _opening_seconds(database_file: Path) -> float:
    """How long opening a reader takes, as each request of the page does before its queries."""
    with stopwatch() as watch, database.reader(database_file) as connection:
        connection.execute("SELECT count(*) FROM events WHERE org_id = ?", [ORG]).fetchone()
    return watch.seconds


def run(data: Datasets, *, history: int, repeats: int) -> dict[str, object]:
    database_file = data.investigated_history(history)
    opening = median([_opening_seconds(database_file) for _ in range(5)])
    with database.reader(database_file) as connection:
        found = probe(connection)
        planned = shapes(found)
        timings = {shape.name: Timings() for shape in planned}
        progress(f"query: {len(planned)} shapes x {repeats} over {history:,} events (warm-up first)")
        for shape in planned:
            _page(connection, shape, Timings())
        for number in range(repeats):
            for shape in planned:
                timing = timings[shape.name]
                if len(timing.page) < MIN_SAMPLES or sum(timing.page) < SHAPE_BUDGET_SECONDS:
                    _page(connection, shape, timing)
            progress(f"  round {number + 1}/{repeats} done")
    per_shape = []
    for shape in planned:
        timing = timings[shape.name]
        per_shape.append({
            "shape": shape.name,
            "filter": _describe(shape),
            "samples": len(timing.page),
            "page": _summary(timing.page),
            "events_and_total": _summary(timing.events_and_total),
            "facets": _summary(timing.facets),
        })
    everything = [s for t in timings.values() for s in t.page]
    worst = max(per_shape, key=lambda s: s["page"]["p95_ms"])  # type: ignore[index]
    over = [s["shape"] for s in per_shape if s["page"]["p95_ms"] > TARGET_SECONDS * 1000]  # type: ignore[index]
    return {
        "history_events": history,
        "org": ORG,
        "shapes": len(planned),
        "repeats": repeats,
        "page_size": PAGE_SIZE,
        "open_reader_and_count_ms": round(opening * 1000, 1),
        "all_pages": _summary(everything),
        "median_page_ms": round(median(everything) * 1000, 1),
        "worst_shape": worst["shape"],
        "worst_shape_p95_ms": worst["page"]["p95_ms"],  # type: ignore[index]
        "shapes_over_target": over,
        "per_shape": per_shape,
        "pipeline": "audit_pipeline.query.logs.list_events (first page with total) + facets, one reader connection",
    }


def _describe(shape: Shape) -> str:
    flt = shape.flt
    parts = {
        "since": flt.since.isoformat() if flt.since else None,
        "until": flt.until.isoformat() if flt.until else None,
        "actions": list(flt.actions) or None,
        "users": list(flt.users) or None,
        "log_types": list(flt.log_types) or None,
        "search": flt.search,
        "offset": shape.offset or None,
    }
    return json.dumps({k: v for k, v in parts.items() if v is not None})
