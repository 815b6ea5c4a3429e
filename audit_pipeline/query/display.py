"""What the User and Additional Info columns of the audit-log list show for an event.

The same columns exist in SQL in the `audit_log` view (`audit_pipeline.derived.expressions`); these Python
versions follow the same rules and labels, and a test checks that both give the same text for every event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from audit_pipeline.derived.expressions import (
    INFO_DISPLAY_FIELDS,
    MAX_INFO_DISPLAY_CHARS,
    MINOR_INFO_DISPLAY_FIELDS,
)
from audit_pipeline.query.sql import SYSTEM_USER

SEPARATOR = " · "


def display_user(event: Mapping[str, Any]) -> str:
    """The user's name, else email, else id; "System" for events no user caused (same rule as the facet)."""
    for field in ("user_name", "user_email", "user_id"):
        value = event.get(field)
        if value:
            return str(value)
    return SYSTEM_USER


def display_additional_info(event: Mapping[str, Any]) -> str:
    """The details that say what the event was about (`Scan ID: ...`, a role change, a ticket, ...).

    When an event has none of those, the actor's role is shown instead; minor details such as the login
    type follow. At most `MAX_INFO_DISPLAY_CHARS` characters; empty when there is nothing to show.
    """
    info = _details(event.get("additional_info"))
    main = _joined([_role_change(info), *_labelled(info, INFO_DISPLAY_FIELDS)])
    if main is None and event.get("user_role"):
        main = f"Role: {event['user_role']}"
    joined = _joined([main, *_labelled(info, MINOR_INFO_DISPLAY_FIELDS)])
    return (joined or "")[:MAX_INFO_DISPLAY_CHARS]


def _role_change(info: Mapping[str, Any]) -> str | None:
    new_role = _text(info, "new_role") or _text(info, "member_roles")
    if new_role is None:
        return None
    old_role = _text(info, "old_role")
    return f"Role: {old_role + ' → ' if old_role is not None else ''}{new_role}"


def _labelled(info: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> list[str | None]:
    return [None if (text := _text(info, key)) is None else f"{label}: {text}" for key, label in fields]


def _joined(parts: list[str | None]) -> str | None:
    return SEPARATOR.join(p for p in parts if p is not None) or None


def _text(info: Mapping[str, Any], key: str) -> str | None:
    """One value as text: a list's items joined by commas, an object as compact JSON; empty means none."""
    value = info.get(key)
    if isinstance(value, list):
        items = [_scalar_text(item) for item in value if item is not None]
        return ", ".join(items) if items else None
    if isinstance(value, dict):
        return _compact_json(value)
    if value is None:
        return None
    return _scalar_text(value) or None


def _scalar_text(value: object) -> str:
    return value if isinstance(value, str) else _compact_json(value)


def _compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _details(info: object) -> dict[str, Any]:
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            return {}
    return dict(info) if isinstance(info, Mapping) else {}
