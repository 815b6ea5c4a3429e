"""The documented log types and their actions. Unknown ones are accepted and counted, never rejected."""

from __future__ import annotations

from types import MappingProxyType

LOG_TYPES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "Authentication": ("Login", "Logout", "Login Failed", "MFA Challenge", "MFA Failed", "Password Reset"),
    "Scan": ("Scan Now", "Scan Completed", "Scan Failed", "Scan Scheduled"),
    "Notification": ("Slack Alert Sent", "Email Sent", "Teams Message Sent"),
    "Ticketing": ("Jira Ticket Opened", "Jira Ticket Closed"),
    "User Management": ("User Invited", "Role Changed", "User Removed", "API Token Created"),
    "Policy": ("Policy Created", "Policy Updated", "Policy Deleted", "Policy Exception Granted"),
    "Settings": ("Settings Changed", "Audit Log Export Configured"),
    "Integration": ("Integration Connected", "Integration Disconnected", "Connector Enabled"),
    "Audit": ("Audit Logs Viewed", "Audit Logs Searched", "Audit Logs Downloaded"),
    "System": ("Audit Log Export", "Audit Log Replay", "Maintenance", "System Notice"),
})

READS_LOG_TYPE = "Audit"
READ_ACTIONS = LOG_TYPES[READS_LOG_TYPE]
ALL_ACTIONS = frozenset(action for actions in LOG_TYPES.values() for action in actions)


def is_known(log_type: str, action: str) -> bool:
    return action in LOG_TYPES.get(log_type, ())


def catalogue_markdown() -> str:
    lines = ["| Log type | Actions |", "| --- | --- |"]
    lines += [f"| {log_type} | {', '.join(actions)} |" for log_type, actions in LOG_TYPES.items()]
    return "\n".join(lines)
