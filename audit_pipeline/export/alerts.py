"""Alerts on export runs: one message when a config's exports start failing, one when they recover.

The decision is pure (`on_failure`, `on_success` given whether the current streak was already announced);
the streak's state lives in the store (`alert_state`), the sending in `notify`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

WEBHOOK_ENV = "AUDIT_PIPELINE_ALERT_WEBHOOK"
SLACK_TOKEN_ENV = "AUDIT_PIPELINE_ALERT_SLACK_TOKEN"  # noqa: S105 - the variable's name, not a token
SLACK_CHANNEL_ENV = "AUDIT_PIPELINE_ALERT_SLACK_CHANNEL"
# Slack's Web API base; only changed to talk to a local stand-in.
SLACK_API_URL_ENV = "AUDIT_PIPELINE_ALERT_SLACK_API_URL"

FAILING = "export_failing"
RECOVERED = "export_recovered"


@dataclass(frozen=True)
class AlertChannels:
    webhook_url: str | None = None
    slack_token: str | None = None
    slack_channel: str | None = None
    slack_api_url: str | None = None

    @property
    def any(self) -> bool:
        return bool(self.webhook_url or (self.slack_token and self.slack_channel))


def channels_from_env() -> AlertChannels:
    def setting(name: str) -> str | None:
        return os.environ.get(name, "").strip() or None

    webhook = setting(WEBHOOK_ENV)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ValueError(f"{WEBHOOK_ENV}={webhook!r}: the webhook must be an http:// or https:// URL")
    return AlertChannels(webhook, setting(SLACK_TOKEN_ENV), setting(SLACK_CHANNEL_ENV),
                         setting(SLACK_API_URL_ENV))


@dataclass(frozen=True)
class Alert:
    kind: str
    export_name: str
    run_id: str
    at: datetime
    error: str | None = None
    consecutive_failures: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "event": self.kind, "export": self.export_name, "run_id": self.run_id,
            "at": self.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "error": self.error, "consecutive_failures": self.consecutive_failures,
        }

    def text(self) -> str:
        if self.kind == FAILING:
            return (f"Audit log export {self.export_name} is failing (run {self.run_id}): {self.error}. "
                    "Nothing is lost: the next successful run delivers the whole window.")
        return f"Audit log export {self.export_name} recovered: run {self.run_id} delivered the pending window."


def on_failure(
    *, announced: bool, export_name: str, run_id: str, error: str | None, consecutive_failures: int,
    at: datetime,
) -> Alert | None:
    """The first failure of a streak is announced; the ones after it are not."""
    if announced:
        return None
    return Alert(FAILING, export_name, run_id, at, error or "the run failed", consecutive_failures)


def on_success(*, announced: bool, export_name: str, run_id: str, at: datetime) -> Alert | None:
    """A success ends an announced streak with one recovery message; otherwise nothing to say."""
    return Alert(RECOVERED, export_name, run_id, at) if announced else None
