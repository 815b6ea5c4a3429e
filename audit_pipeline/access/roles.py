"""The two roles and what each may do."""

from __future__ import annotations

from typing import Literal

Role = Literal["read_write", "read_only"]
READ_WRITE: Role = "read_write"
READ_ONLY: Role = "read_only"
ROLES: tuple[Role, ...] = (READ_WRITE, READ_ONLY)

# The platform's rule: viewing audit logs needs the read/write permission.
AUDIT_LOGS_PERMISSION: Role = READ_WRITE


def can_view_audit_logs(role: str) -> bool:
    return role == AUDIT_LOGS_PERMISSION
