"""How events, facets and pages are shown: plain data for the templates, which only lay it out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from audit_pipeline.derived import rules
from audit_pipeline.query.logs import display_additional_info, display_user
from audit_pipeline.web.params import ViewRequest

LOG_TYPE_ICONS: dict[str, str] = {
    "authentication": "key", "scan": "scan", "notification": "bell", "ticketing": "ticket",
    "user management": "users", "policy": "shield", "settings": "gear", "integration": "plug",
    "audit": "eye", "system": "chip",
}
DEFAULT_ICON = "tag"
DEFAULT_PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
FACET_LABELS = (("action", "Action", "action"), ("user", "User", "user"), ("log_type", "Log Type", "type"))
RULE_LABELS: dict[str, str] = {
    rules.FAILED_LOGIN_BURST: "Burst of failed logins",
    rules.LOGIN_FROM_NEW_IP: "Login from a new IP",
    rules.ROLE_RAISED_TO_ADMIN: "Role raised to admin",
    rules.OFF_HOURS_ADMIN_ACTION: "Admin action outside working hours",
    rules.AUDIT_EXPORT_CHANGED: "Audit log export changed",
    rules.MASS_USER_REMOVAL: "Many users removed",
}


def rule_label(rule: str) -> str:
    """A rule's name as a person writes it; an unknown rule's identifier in words."""
    return RULE_LABELS.get(rule) or rule.replace("_", " ").capitalize()


def utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def log_type_icon(log_type: str) -> str:
    return LOG_TYPE_ICONS.get(log_type.lower(), DEFAULT_ICON)


@dataclass(frozen=True)
class EventRow:
    user: str
    user_detail: str
    action: str
    failed: bool
    info: str
    log_type: str
    icon: str
    occurred_iso: str
    occurred_utc: str
    details: tuple[tuple[str, str], ...]


def event_row(event: dict[str, Any]) -> EventRow:
    identity = [str(event[f]) for f in ("user_email", "user_id") if event.get(f)]
    details = [("Event ID", event["event_id"]), ("Outcome", event["outcome"])]
    details += [(label, str(event[key])) for key, label in (
        ("user_email", "Email"), ("user_id", "User ID"), ("user_role", "Role"),
        ("source_ip", "Source IP"), ("user_agent", "User agent"),
    ) if event.get(key)]
    if event.get("additional_info"):
        details.append(("All details", json.dumps(event["additional_info"], ensure_ascii=False)))
    details.append(("Received", utc_text(event["received_at"])))
    return EventRow(
        user=display_user(event),
        user_detail=" · ".join(identity) or "no user: a system event",
        action=event["action"],
        failed=event["outcome"] == "failure",
        info=display_additional_info(event),
        log_type=event["log_type"],
        icon=log_type_icon(event["log_type"]),
        occurred_iso=utc_iso(event["occurred_at"]),
        occurred_utc=utc_text(event["occurred_at"]),
        details=tuple(details),
    )


@dataclass(frozen=True)
class FacetOption:
    value: str
    count: int
    selected: bool


@dataclass(frozen=True)
class FacetPane:
    label: str
    param: str
    options: tuple[FacetOption, ...]
    truncated: bool


def facet_panes(view: ViewRequest, counts: dict[str, dict[str, int]], top: int) -> list[FacetPane]:
    """The three filter lists, each with its counts, and every selected value shown (first, even at zero)."""
    selected = {"action": view.actions, "user": view.users, "log_type": view.log_types}
    panes = []
    for facet, label, param in FACET_LABELS:
        facet_counts = counts.get(facet, {})
        lowered = {value.lower(): value for value in facet_counts}
        chosen = {lowered.get(value.lower(), value) for value in selected[facet]}
        options = [FacetOption(value, count, value in chosen) for value, count in facet_counts.items()]
        options += [FacetOption(value, 0, True) for value in selected[facet]
                    if lowered.get(value.lower(), value) not in facet_counts]
        # Selected values first, so a choice never scrolls out of sight; each group keeps the count order.
        options.sort(key=lambda option: not option.selected)
        panes.append(FacetPane(label, param, tuple(options), truncated=len(facet_counts) >= top))
    return panes


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    first_shown: int
    last_shown: int
    previous_url: str | None
    next_url: str | None
    first_url: str | None


def pager(view: ViewRequest, path: str, page: int, size: int, total: int) -> Pager:
    pages = max(1, -(-total // size))
    first_shown = (page - 1) * size + 1 if total and page <= pages else 0
    last_shown = min(page * size, total) if first_shown else 0
    extra: dict[str, str | int] = {"size": size} if size != DEFAULT_PAGE_SIZE else {}
    return Pager(
        page=page,
        pages=pages,
        first_shown=first_shown,
        last_shown=last_shown,
        previous_url=view.url(path, page=min(page - 1, pages), **extra) if page > 1 else None,
        next_url=view.url(path, page=page + 1, **extra) if page < pages else None,
        first_url=view.url(path, **extra) if page > 1 else None,
    )

