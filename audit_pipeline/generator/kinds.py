"""What happens in an org and how often: each kind is one action, its details, who does it and when."""

from __future__ import annotations

from dataclasses import dataclass

ANYONE = "anyone"
PRIVILEGED = "privileged"
SYSTEM = "system"

DIURNAL = "diurnal"  # mostly office hours, some evenings and weekends
OFFICE = "office"  # administrative changes: weekdays inside working hours only
ANY_TIME = "any_time"  # the platform itself, around the clock


@dataclass(frozen=True)
class Kind:
    log_type: str
    action: str
    weight: float
    detail: str
    actor: str = ANYONE
    hours: str = DIURNAL
    starts_scan: bool = False


KINDS: tuple[Kind, ...] = (
    Kind("Authentication", "Login", 30.0, "login"),
    Kind("Authentication", "Logout", 9.0, "none"),
    Kind("Authentication", "Login Failed", 2.2, "login_failed"),
    Kind("Authentication", "MFA Challenge", 8.0, "mfa"),
    Kind("Authentication", "MFA Failed", 0.5, "mfa"),
    Kind("Authentication", "Password Reset", 0.4, "none"),
    Kind("Scan", "Scan Now", 6.0, "scan", starts_scan=True),
    Kind("Scan", "Scan Scheduled", 4.0, "scan", starts_scan=True),
    Kind("Scan", "Scan Completed", 0.0, "scan_completed"),
    Kind("Scan", "Scan Failed", 0.0, "scan_failed"),
    Kind("Notification", "Slack Alert Sent", 6.0, "slack"),
    Kind("Notification", "Email Sent", 3.0, "email"),
    Kind("Notification", "Teams Message Sent", 1.0, "teams"),
    Kind("Ticketing", "Jira Ticket Opened", 3.5, "jira"),
    Kind("Ticketing", "Jira Ticket Closed", 2.5, "jira"),
    Kind("User Management", "User Invited", 0.5, "invite", PRIVILEGED, OFFICE),
    Kind("User Management", "Role Changed", 0.3, "role_change", PRIVILEGED, OFFICE),
    Kind("User Management", "User Removed", 0.2, "target_user", PRIVILEGED, OFFICE),
    Kind("User Management", "API Token Created", 0.4, "token", PRIVILEGED, OFFICE),
    Kind("Policy", "Policy Created", 0.4, "policy", PRIVILEGED, OFFICE),
    Kind("Policy", "Policy Updated", 1.2, "policy", PRIVILEGED, OFFICE),
    Kind("Policy", "Policy Deleted", 0.15, "policy", PRIVILEGED, OFFICE),
    Kind("Policy", "Policy Exception Granted", 0.4, "policy_exception", PRIVILEGED, OFFICE),
    Kind("Settings", "Settings Changed", 0.6, "setting", PRIVILEGED, OFFICE),
    Kind("Settings", "Audit Log Export Configured", 0.002, "export_config", PRIVILEGED, OFFICE),
    Kind("Integration", "Integration Connected", 0.25, "integration", PRIVILEGED, OFFICE),
    Kind("Integration", "Integration Disconnected", 0.08, "integration", PRIVILEGED, OFFICE),
    Kind("Integration", "Connector Enabled", 0.1, "integration", PRIVILEGED, OFFICE),
    Kind("Audit", "Audit Logs Viewed", 3.0, "audit_view"),
    Kind("Audit", "Audit Logs Searched", 2.0, "audit_search"),
    Kind("Audit", "Audit Logs Downloaded", 0.3, "audit_download", PRIVILEGED),
    Kind("System", "Audit Log Export", 4.0, "system_export", SYSTEM, ANY_TIME),
    Kind("System", "Maintenance", 0.05, "system_message", SYSTEM, ANY_TIME),
    Kind("System", "System Notice", 0.15, "system_message", SYSTEM, ANY_TIME),
)

SCAN_FAILURE_SHARE = 0.1
SCAN_MEDIAN_SECONDS = 240.0
SCAN_DURATION_SIGMA = 0.8


def kind_index(action: str) -> int:
    return next(i for i, kind in enumerate(KINDS) if kind.action == action)
