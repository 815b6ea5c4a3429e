"""The filters of a view as they arrive in the URL, shared by the page, the API and the downloads.

Parsing only: turning the URL into a `LogFilter` for the viewer's org. What the filters mean, and every bit
of matching and search, belongs to `audit_pipeline.query`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Query

from audit_pipeline.domain.events import MAX_ID_CHARS, MAX_TEXT_CHARS
from audit_pipeline.query.filters import MAX_SEARCH_CHARS, LogFilter, QueryError, parse_time, period_bounds

Period = Literal["1h", "24h", "7d", "30d", "90d", "all", "custom"]
PERIOD_LABELS: dict[str, str] = {
    "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days",
    "90d": "Last 90 days", "all": "All time", "custom": "Custom range",
}
DEFAULT_PERIOD: Period = "7d"
# Suspicious-activity findings are shown by the period they were still active in.
FindingsPeriod = Literal["24h", "7d", "30d", "90d", "all"]
FINDINGS_PERIODS: tuple[FindingsPeriod, ...] = ("24h", "7d", "30d", "90d", "all")
DEFAULT_FINDINGS_PERIOD: FindingsPeriod = "30d"
MAX_TIME_CHARS = 64


@dataclass(frozen=True)
class ViewRequest:
    """What the viewer asked to see; `period` is "custom" exactly when since or until is given."""

    period: Period = DEFAULT_PERIOD
    since: str | None = None
    until: str | None = None
    search: str | None = None
    actions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    log_types: tuple[str, ...] = ()
    org: str | None = None

    def log_filter(self, org_id: str, now: datetime, *, hide_reads_of: str | None = None) -> LogFilter:
        """The filter of this view within `org_id`; a QueryError says what to fix.

        `hide_reads_of` (the page passes the viewer's email) leaves that viewer's own audited reads out
        unless the Audit log type is selected."""
        for label, values in (("action", self.actions), ("user", self.users), ("type", self.log_types)):
            for value in values:
                if len(value) > MAX_TEXT_CHARS:
                    raise QueryError(f"a {label} value is longer than {MAX_TEXT_CHARS} characters")
        if self.period == "custom":
            since = parse_time(self.since) if self.since else None
            until = parse_time(self.until, end=True) if self.until else None
        else:
            since, until = period_bounds(self.period, now)
        return LogFilter(orgs=(org_id,), since=since, until=until, actions=self.actions, users=self.users,
                         log_types=self.log_types, search=self.search, hide_reads_of=hide_reads_of)

    def narrows(self) -> bool:
        """Whether the viewer searched or picked filter values (a search) rather than just looked."""
        return bool((self.search or "").strip() or self.actions or self.users or self.log_types)

    def as_record(self) -> dict[str, Any]:
        """The view's parameters, as recorded in the audit event of the read."""
        record: dict[str, Any] = {"period": self.period}
        if self.period == "custom":
            record.update({"since": self.since, "until": self.until})
        if self.search:
            record["search"] = self.search
        for key, values in (("actions", self.actions), ("users", self.users), ("log_types", self.log_types)):
            if values:
                record[key] = list(values)
        return record

    def query_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = [("period", self.period)]
        if self.period == "custom":
            pairs += [(key, value) for key, value in (("since", self.since), ("until", self.until)) if value]
        if self.search:
            pairs.append(("q", self.search))
        pairs += [("action", v) for v in self.actions]
        pairs += [("user", v) for v in self.users]
        pairs += [("type", v) for v in self.log_types]
        return pairs

    def url(self, path: str, **extra: str | int) -> str:
        """`path` with this view's filters (and `extra` parameters) in the query string."""
        return f"{path}?{urlencode([*self.query_pairs(), *((k, str(v)) for k, v in extra.items())])}"


def view_request(
    period: Annotated[Period | None, Query(
        description="The period ending now; `custom` uses since/until. Default 7d, or custom when since or "
        "until is given.")] = None,
    since: Annotated[str | None, Query(
        max_length=MAX_TIME_CHARS, description="Custom range start (inclusive): RFC 3339 with an offset, "
        "or a date meaning its midnight UTC.", examples=["2026-11-20T10:00:00Z"])] = None,
    until: Annotated[str | None, Query(
        max_length=MAX_TIME_CHARS, description="Custom range end (exclusive): RFC 3339 with an offset, or a "
        "date meaning the whole of that day (UTC).", examples=["2026-11-21"])] = None,
    q: Annotated[str | None, Query(
        max_length=MAX_SEARCH_CHARS, description='Search: words and "quoted phrases" (all must match, '
        "case-insensitive substrings) with optional user:, action: and type: qualifiers.",
        examples=['user:alice "scan now"'])] = None,
    action: Annotated[list[str] | None, Query(description="Actions to show (any of them).")] = None,
    user: Annotated[list[str] | None, Query(
        description="Users to show (any of them); a value matches a user id, email or name.")] = None,
    log_type: Annotated[list[str] | None, Query(
        alias="type", description="Log types to show (any of them).")] = None,
    org: Annotated[str | None, Query(
        max_length=MAX_ID_CHARS, description="Your org id; any other org is refused with 403.")] = None,
) -> ViewRequest:
    custom = bool(since or until)
    if period is not None and period != "custom" and custom:
        raise QueryError(f"period {period} and a custom range (since/until) cannot be combined; "
                         "use period=custom with since and/or until")
    if period == "custom" and not custom:
        raise QueryError("a custom period needs since and/or until")
    return ViewRequest(
        period="custom" if custom else period or DEFAULT_PERIOD,
        since=since or None,
        until=until or None,
        search=q,
        actions=_values(action),
        users=_values(user),
        log_types=_values(log_type),
        org=org or None,
    )


def _values(values: list[str] | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values or () if v.strip()))
