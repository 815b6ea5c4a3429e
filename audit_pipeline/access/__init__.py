"""Who may read audit logs: users, their org, their role, and the hash of their API token.

Kept in the lake's `users` table, written only by the `users` commands and read by the web page; tokens are
shown once and stored only as SHA-256 digests.
"""

from audit_pipeline.access.roles import (
    ADMIN,
    READ_ONLY,
    READ_WRITE,
    ROLES,
    Role,
    can_manage_exports,
    can_view_audit_logs,
)
from audit_pipeline.access.store import (
    AccessError,
    IssuedToken,
    User,
    UserDirectory,
    add_user,
    list_users,
    revoke_user,
)

__all__ = [
    "ADMIN",
    "READ_ONLY",
    "READ_WRITE",
    "ROLES",
    "AccessError",
    "IssuedToken",
    "Role",
    "User",
    "UserDirectory",
    "add_user",
    "can_manage_exports",
    "can_view_audit_logs",
    "list_users",
    "revoke_user",
]
