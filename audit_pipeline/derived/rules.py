"""The suspicious-activity rules: names, severities, thresholds. Documented in docs/suspicious-activity.md."""

from __future__ import annotations

from datetime import timedelta

CRITICAL = "critical"
HIGH = "high"
MEDIUM = "medium"
LOW = "low"
SEVERITIES = (CRITICAL, HIGH, MEDIUM, LOW)

# (a) Many failed logins for one user in a short time: password guessing or credential stuffing.
FAILED_LOGIN_BURST = "failed_login_burst"
FAILED_LOGIN_BURST_THRESHOLD = 5
FAILED_LOGIN_BURST_WINDOW = timedelta(minutes=10)

# (b) A successful login from an address the user never logged in from, once the user has a history.
LOGIN_FROM_NEW_IP = "login_from_new_ip"
NEW_IP_MIN_PRIOR_LOGINS = 3

# (c) A role change that grants an admin role to someone who did not have one.
ROLE_RAISED_TO_ADMIN = "role_raised_to_admin"
ADMIN_ROLE_PATTERN = "%admin%"

# (d) Administrative changes outside working hours (UTC): before 06:00, from 22:00, or on a weekend.
OFF_HOURS_ADMIN_ACTION = "off_hours_admin_action"
ADMIN_LOG_TYPES = ("User Management", "Policy", "Settings", "Integration")
WORKDAY_START_HOUR = 6
WORKDAY_END_HOUR = 22
WEEKEND_ISO_DAYS = (6, 7)

# (e) The audit trail's own export reconfigured, worst of all switched off.
AUDIT_EXPORT_CHANGED = "audit_export_changed"
AUDIT_EXPORT_CONFIGURED_ACTION = "Audit Log Export Configured"

# (f) One person removing many users in a short time.
MASS_USER_REMOVAL = "mass_user_removal"
USER_REMOVED_ACTION = "User Removed"
MASS_USER_REMOVAL_THRESHOLD = 5
MASS_USER_REMOVAL_WINDOW = timedelta(hours=1)

RULES = (FAILED_LOGIN_BURST, LOGIN_FROM_NEW_IP, ROLE_RAISED_TO_ADMIN, OFF_HOURS_ADMIN_ACTION,
         AUDIT_EXPORT_CHANGED, MASS_USER_REMOVAL)
