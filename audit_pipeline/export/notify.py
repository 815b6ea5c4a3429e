"""Sending an alert: a JSON POST to the configured webhook, and a Slack message when Slack is configured."""

from __future__ import annotations

import json
import urllib.request

from audit_pipeline.export.alerts import Alert, AlertChannels

TIMEOUT_SECONDS = 15


class AlertNotSentError(RuntimeError):
    """A configured channel refused or did not answer; the streak stays unannounced and is tried again."""


def _post_webhook(url: str, alert: Alert) -> None:
    # channels_from_env admits only http(s) URLs.
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(alert.as_json()).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "audit-pipeline-alerts"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
    except OSError as error:
        raise AlertNotSentError(f"webhook {url} did not take the alert: {error}") from error


def _post_slack(channels: AlertChannels, alert: Alert) -> None:
    from dagster_slack import SlackResource

    client = SlackResource(token=channels.slack_token or "").get_client()
    if channels.slack_api_url:
        client.base_url = channels.slack_api_url.rstrip("/") + "/"
    try:
        client.chat_postMessage(channel=channels.slack_channel or "", text=alert.text())
    except Exception as error:
        raise AlertNotSentError(f"Slack did not take the alert: {error}") from error


def send(channels: AlertChannels, alert: Alert) -> list[str]:
    """Every configured channel gets the alert; returns the channels used."""
    used = []
    if channels.webhook_url:
        _post_webhook(channels.webhook_url, alert)
        used.append("webhook")
    if channels.slack_token and channels.slack_channel:
        _post_slack(channels, alert)
        used.append("slack")
    return used
