"""The JSON shapes of the API, as published in its OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong and, when it can be fixed, how.")


class PermissionErrorBody(ErrorBody):
    missing_permission: str | None = Field(default=None, examples=["read_write"])


class Me(BaseModel):
    email: str
    name: str | None
    org_id: str
    role: str
    can_view_audit_logs: bool


class Event(BaseModel):
    event_id: str
    org_id: str
    occurred_at: datetime
    log_type: str
    action: str
    user_id: str | None
    user_email: str | None
    user_name: str | None
    user_role: str | None
    source_ip: str | None
    user_agent: str | None
    outcome: str
    additional_info: dict[str, Any]
    received_at: datetime
    ingest_seq: int
    display_user: str = Field(description="What the User column shows: name, else email, else id, else System.")
    display_additional_info: str = Field(description="What the Additional Info column shows.")


class TimeRange(BaseModel):
    period: str
    since: datetime | None = Field(description="Inclusive start (UTC); null means no lower bound.")
    until: datetime | None = Field(description="Exclusive end (UTC); null means up to now and beyond.")


class EventList(BaseModel):
    total: int = Field(description="How many events match the filters, across all pages.")
    limit: int
    offset: int
    range: TimeRange
    events: list[Event]


class Facets(BaseModel):
    """Counts per value under the current filters; each facet ignores only its own selection."""

    action: dict[str, int]
    user: dict[str, int]
    log_type: dict[str, int]


class Finding(BaseModel):
    org_id: str
    rule: str
    severity: str
    user: str | None
    first_at: datetime
    last_at: datetime
    event_count: int
    event_ids: list[str]
    reason: str


class SuspiciousActivity(BaseModel):
    available: bool = Field(description="False until the suspicious_activity table has been built.")
    findings: list[Finding]
