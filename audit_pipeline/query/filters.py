"""What an investigator asks for: the filters of the audit-log list, periods and time bounds.

A `LogFilter` is validated when it is built, so every reader (CLI, web page, notebook) rejects the same bad
input with the same `QueryError` message before any SQL runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from audit_pipeline.domain.catalogue import READS_LOG_TYPE

PERIODS = ("1h", "24h", "7d", "30d", "90d", "all")
PERIOD_LENGTHS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}

MAX_SEARCH_CHARS = 500
MAX_FILTER_VALUES = 200
MAX_PAGE_SIZE = 10_000

_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class QueryError(ValueError):
    """Filter or paging input that cannot be answered; the message says what to change."""


@dataclass(frozen=True)
class LogFilter:
    """The filters of the audit-log list; every part is optional and the parts are ANDed.

    Within `actions`, `users` and `log_types` the values are ORed; they match exactly but ignore case.
    A user value matches the user id, email or name (or "System" for events without a user).
    `orgs` match org ids exactly. `since` is inclusive and `until` exclusive; both must be aware and are
    kept in UTC. Blank values are dropped, and a blank search means no search. `hide_reads_of` names a
    viewer (by email) whose own audited reads (the Audit log type's "Audit Logs Viewed/Searched/Downloaded")
    are left out unless `log_types` selects Audit: the page shows them only to whoever asks for them.
    """

    orgs: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    actions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    log_types: tuple[str, ...] = ()
    search: str | None = None
    hide_reads_of: str | None = None

    def __post_init__(self) -> None:
        for name in ("orgs", "actions", "users", "log_types"):
            object.__setattr__(self, name, _clean_values(name, getattr(self, name)))
        object.__setattr__(self, "since", _as_utc("since", self.since))
        object.__setattr__(self, "until", _as_utc("until", self.until))
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise QueryError(
                f"until ({_rfc3339(self.until)}) must be after since ({_rfc3339(self.since)})"
            )
        object.__setattr__(self, "search", _clean_search(self.search))
        if self.hide_reads_of is not None and not isinstance(self.hide_reads_of, str):
            raise QueryError(f"hide_reads_of must be an email, got {type(self.hide_reads_of).__name__}")

    def is_empty(self) -> bool:
        return all(not getattr(self, f.name) for f in fields(self))

    def hides_reads(self) -> bool:
        """Whether the viewer's own audited reads are left out (a viewer is named, Audit is not selected)."""
        return bool(self.hide_reads_of) and all(t.lower() != READS_LOG_TYPE.lower() for t in self.log_types)


def _clean_values(name: str, values: object) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, tuple | list | set | frozenset):
        raise QueryError(f"{name} must be a sequence of strings, got {type(values).__name__}")
    cleaned: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            raise QueryError(f"{name} values must be strings, got {type(value).__name__}")
        if value.strip():
            cleaned[value] = None
    if len(cleaned) > MAX_FILTER_VALUES:
        raise QueryError(f"at most {MAX_FILTER_VALUES} {name} values can be selected, got {len(cleaned)}")
    return tuple(cleaned)


def _clean_search(search: str | None) -> str | None:
    if search is None:
        return None
    if not isinstance(search, str):
        raise QueryError(f"search must be a string, got {type(search).__name__}")
    if len(search) > MAX_SEARCH_CHARS:
        raise QueryError(f"search is {len(search)} characters long; the limit is {MAX_SEARCH_CHARS}")
    return search if search.strip() else None


def _as_utc(name: str, value: datetime | None) -> datetime | None:
    return None if value is None else _require_utc(name, value)


def _require_utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise QueryError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise QueryError(f"{name} must carry a time zone (naive datetimes are ambiguous)")
    return value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def period_bounds(period: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(since, until) of a period that ends now; `all` has no bounds.

    `until` stays open, so events stamped slightly in the future (a client clock running ahead) still show.
    """
    if period not in PERIODS:
        raise QueryError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")
    now_utc = _require_utc("now", now)
    if period == "all":
        return None, None
    return now_utc - PERIOD_LENGTHS[period], None


def parse_time(text: str, *, end: bool = False) -> datetime:
    """An aware UTC datetime from RFC 3339 (`2026-11-20T10:00:00Z`) or a date (`2026-11-20`).

    A date means its midnight UTC; with `end=True` (an `until` bound, which is exclusive) it means the next
    midnight, so `--until 2026-11-20` includes the whole of that day.
    """
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as error:
            raise QueryError(f"{text!r} is not a valid date: {error}") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise QueryError(
            f"{text!r} is not a time: use RFC 3339 with an offset (2026-11-20T10:00:00Z) or a date (2026-11-20)"
        )
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    offset = "+00:00" if match["offset"] in ("Z", "z") else match["offset"]
    try:
        parsed = datetime.fromisoformat(f"{match['base'][:10]}T{match['base'][11:]}.{fraction}{offset}")
    except ValueError as error:
        raise QueryError(f"{text!r} is not a valid time: {error}") from None
    return parsed.astimezone(UTC)


def check_paging(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_PAGE_SIZE:
        raise QueryError(f"limit must be an integer from 0 to {MAX_PAGE_SIZE}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError(f"offset must be a non-negative integer, got {offset!r}")
