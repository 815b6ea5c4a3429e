"""The audit event: the one definition of its fields, their rules and their input aliases.

The SQL validation in `audit_pipeline.storage.validation` is generated from the constants here, and a test
checks that both accept and reject the same records.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = "1.0"

MAX_RECORD_BYTES = 1024 * 1024
MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 1024

SYSTEM_LOG_TYPE = "System"
USER_FIELDS = ("user_id", "user_email", "user_name")
OUTCOMES = ("success", "failure")

RFC3339_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
IP_PATTERN = r"^[0-9A-Fa-f:.]{2,45}$"

# Canonical field -> its name in the platform API's camelCase records.
CAMEL_ALIASES: dict[str, str] = {
    "event_id": "id",
    "org_id": "orgId",
    "occurred_at": "date",
    "log_type": "logType",
    "action": "logName",
    "user_id": "userId",
    "user_email": "userEmail",
    "user_name": "userName",
    "user_role": "userRole",
    "source_ip": "ipAddress",
    "user_agent": "userAgent",
    "additional_info": "additionalInfo",
}

# Detail fields of the platform API that are kept in additional_info under a snake_case name.
DETAIL_ALIASES: dict[str, str] = {
    "scanId": "scan_id",
    "memberRoles": "member_roles",
    "loginType": "login_type",
    "ticketId": "ticket_id",
    "ticketingVendor": "ticketing_vendor",
    "messagingVendor": "messaging_vendor",
    "slackUser": "slack_user",
    "channel": "channel",
    "severity": "severity",
    "workflowName": "workflow_name",
    "prURL": "pr_url",
}

REQUIRED_TEXT_FIELDS = ("event_id", "org_id", "log_type", "action")
OPTIONAL_TEXT_FIELDS = ("user_id", "user_email", "user_name", "user_role", "source_ip", "user_agent")
CANONICAL_FIELDS = (
    "event_id", "org_id", "occurred_at", "log_type", "action", "user_id", "user_email", "user_name",
    "user_role", "source_ip", "user_agent", "outcome", "additional_info",
)
PIPELINE_FIELDS = ("received_at", "ingest_seq")
# Input names that are never copied into additional_info: the canonical ones, their aliases, and the
# fields the pipeline itself sets.
RESERVED_INPUT_KEYS = frozenset(
    (*CANONICAL_FIELDS, *CAMEL_ALIASES.values(), *PIPELINE_FIELDS, "schema_version")
)

FAILURE_ACTION_PATTERN = "fail|denied|rejected"
_FAILURE_WORDS = re.compile(FAILURE_ACTION_PATTERN, re.IGNORECASE)


def default_outcome(action: str) -> str:
    """The outcome of a record that does not say: failure when the action name says so."""
    return "failure" if _FAILURE_WORDS.search(action) else "success"


class AuditEvent(BaseModel):
    """One audit event as it is stored and exported."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    event_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="Unique within an org.")
    org_id: str = Field(min_length=1, max_length=MAX_ID_CHARS, description="The tenant the event belongs to.")
    occurred_at: datetime = Field(description="When it happened; RFC 3339 with an offset, stored in UTC.")
    log_type: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, examples=["Authentication", "Scan"])
    action: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, examples=["Login", "Scan Now"])
    user_id: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    user_email: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    user_name: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    user_role: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    source_ip: str | None = Field(default=None, pattern=IP_PATTERN)
    user_agent: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    outcome: Literal["success", "failure"] = "success"
    additional_info: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_with_offset(cls, value: object) -> object:
        if not isinstance(value, str | datetime):
            raise ValueError("occurred_at must be an RFC 3339 string")
        if isinstance(value, str) and not re.fullmatch(RFC3339_PATTERN, value):
            raise ValueError("occurred_at must be RFC 3339 with a UTC offset, e.g. 2026-11-01T10:00:00Z")
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("occurred_at must carry a UTC offset")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _someone_did_it(self) -> AuditEvent:
        if self.log_type != SYSTEM_LOG_TYPE and not any(getattr(self, f) for f in USER_FIELDS):
            raise ValueError("one of user_id, user_email or user_name is required unless log_type is System")
        return self

    @classmethod
    def from_input(cls, record: dict[str, Any]) -> AuditEvent:
        """Validate a record in the canonical or the camelCase shape, as ingestion does."""
        return cls.model_validate(normalize_input(record))


def normalize_input(record: dict[str, Any]) -> dict[str, Any]:
    """Map aliases to canonical names and keep every unknown key inside additional_info.

    additional_info = the unknown top-level keys (platform detail fields renamed to snake_case), then the
    record's own additional_info merged over them by JSON Merge Patch.
    """
    canonical: dict[str, Any] = {}
    for field in CANONICAL_FIELDS:
        camel = CAMEL_ALIASES.get(field)
        if record.get(field) is not None:
            canonical[field] = record[field]
        elif camel is not None and record.get(camel) is not None:
            canonical[field] = record[camel]
    extras: dict[str, Any] = {k: v for k, v in record.items() if k not in RESERVED_INPUT_KEYS}
    renames: dict[str, Any] = {}
    for camel, snake in DETAIL_ALIASES.items():
        if camel != snake:
            renames[camel] = None
            renames[snake] = record.get(camel)
    extras = merge_patch(extras, renames)
    explicit = canonical.get("additional_info", {})
    if isinstance(explicit, dict):
        canonical["additional_info"] = merge_patch(extras, explicit)
    if isinstance(canonical.get("outcome"), str):
        canonical["outcome"] = canonical["outcome"].lower()
    elif "outcome" not in canonical and isinstance(canonical.get("action"), str):
        canonical["outcome"] = default_outcome(canonical["action"])
    return canonical


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396), the rule DuckDB's json_merge_patch applies during ingestion."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def event_json_schema() -> dict[str, Any]:
    """The published JSON Schema of an exported event (canonical fields plus pipeline fields)."""
    schema = AuditEvent.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:audit-pipeline:schema:audit-event:{SCHEMA_VERSION}"
    schema["title"] = "AuditEvent"
    schema["properties"]["received_at"] = {
        "type": "string", "format": "date-time",
        "description": "When the pipeline ingested the event (UTC); set by the pipeline, never by input.",
    }
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    schema["x-schema-version"] = SCHEMA_VERSION
    return schema


def utc_now() -> datetime:
    return datetime.now(UTC)
