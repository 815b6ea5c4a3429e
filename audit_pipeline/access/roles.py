"""The three roles and what each may do."""

from __future__ import annotations

from typing import Literal

Role = Literal["read_write", "read_only", "admin"]
READ_WRITE: Role = "read_write"
READ_ONLY: Role = "read_only"
ADMIN: Role = "admin"
ROLES: tuple[Role, ...] = (READ_WRITE, READ_ONLY, ADMIN)

# The platform's rule: viewing audit logs needs the read/write permission, which an admin has too.
AUDIT_LOGS_PERMISSION: Role = READ_WRITE
# Reading or changing the export settings (Settings -> Audit Logs -> Configuration) is for admins only.
EXPORT_SETTINGS_PERMISSION: Role = ADMIN


def can_view_audit_logs(role: str) -> bool:
    return role in (AUDIT_LOGS_PERMISSION, ADMIN)


def can_manage_exports(role: str) -> bool:
    return role == EXPORT_SETTINGS_PERMISSION
