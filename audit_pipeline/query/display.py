"""What the User and Additional Info columns of the audit-log list show for an event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from audit_pipeline.domain.events import DETAIL_ALIASES
from audit_pipeline.query.sql import SYSTEM_USER

DETAIL_LABELS: dict[str, str] = {
    "scan_id": "Scan ID",
    "member_roles": "Member roles",
    "login_type": "Login type",
    "ticket_id": "Ticket ID",
    "ticketing_vendor": "Ticketing vendor",
    "messaging_vendor": "Messaging vendor",
    "slack_user": "Slack user",
    "channel": "Channel",
    "severity": "Severity",
    "workflow_name": "Workflow",
    "pr_url": "PR URL",
}
# The documented details first, in the platform's order; any other keys follow as stored.
_DETAIL_ORDER = {snake: index for index, snake in enumerate(DETAIL_ALIASES.values())}


def display_user(event: Mapping[str, Any]) -> str:
    """The user's name, else email, else id; "System" for events no user caused (same rule as the facet)."""
    for field in ("user_name", "user_email", "user_id"):
        value = event.get(field)
        if value:
            return str(value)
    return SYSTEM_USER


def display_additional_info(event: Mapping[str, Any]) -> str:
    """The user role and the event's details as `Label: value` pairs separated by `; `."""
    parts: list[str] = []
    if event.get("user_role"):
        parts.append(f"Role: {event['user_role']}")
    details = _details(event.get("additional_info"))
    for key in sorted(details, key=lambda k: _DETAIL_ORDER.get(k, len(_DETAIL_ORDER))):
        value = details[key]
        if value is None or value == "" or value == []:
            continue
        parts.append(f"{DETAIL_LABELS.get(key, key)}: {_display_value(value)}")
    return "; ".join(parts)


def _details(info: object) -> dict[str, Any]:
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            return {"additional_info": info}
    return dict(info) if isinstance(info, Mapping) else {}


def _display_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_display_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)
