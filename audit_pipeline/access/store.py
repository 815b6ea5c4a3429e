"""The users table in the lake, and a cached token lookup for the web server.

Only the `users` commands write it, each in one short transaction; the web server reads it read-only and keeps
the active users in memory until the lake has a new snapshot.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from audit_pipeline.access.roles import ROLES, Role
from audit_pipeline.access.tokens import digests_match, issue_token, token_digest
from audit_pipeline.domain.events import MAX_ID_CHARS, MAX_TEXT_CHARS
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, lake

WRITE_WAIT_SECONDS = 30.0
MAX_EMAIL_CHARS = 254
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

USER_COLUMNS = "email, org_id, role, name, token_sha256, created_at, revoked_at"


class AccessError(ValueError):
    """A user-management request that cannot be done as asked (bad email, unknown user, ...)."""


@dataclass(frozen=True)
class User:
    email: str
    org_id: str
    role: Role
    name: str | None
    token_sha256: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public_fields(self) -> dict[str, Any]:
        """Everything but the token digest, for listings."""
        return {"email": self.email, "org_id": self.org_id, "role": self.role, "name": self.name,
                "created_at": self.created_at, "revoked_at": self.revoked_at, "active": self.active}


@dataclass(frozen=True)
class IssuedToken:
    """A new user and their token; the token exists only here and is never stored."""

    user: User
    token: str


def normalize_email(text: str) -> str:
    email = text.strip().lower()
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email):
        raise AccessError(f"{text!r} is not an email address")
    return email


def _checked_text(label: str, text: str, limit: int) -> str:
    value = text.strip()
    if not value:
        raise AccessError(f"{label} is empty")
    if len(value) > limit:
        raise AccessError(f"{label} is longer than {limit} characters")
    if _CONTROL_CHARS.search(value):
        raise AccessError(f"{label} contains control characters")
    return value


def _checked_role(role: str) -> Role:
    if role not in ROLES:
        raise AccessError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _user(row: tuple[Any, ...]) -> User:
    email, org_id, role, name, digest, created_at, revoked_at = row
    return User(email, org_id, role, name, digest, created_at, revoked_at)


def _find(connection: duckdb.DuckDBPyConnection, email: str) -> User | None:
    row = connection.execute(f"SELECT {USER_COLUMNS} FROM users WHERE email = ?", [email]).fetchone()
    return _user(row) if row else None


def add_user(paths: Paths, email: str, org_id: str, role: str, name: str | None = None) -> IssuedToken:
    """Give EMAIL access to ORG's audit logs with ROLE; a revoked user gets a fresh token and new settings."""
    email = normalize_email(email)
    org_id = _checked_text("org", org_id, MAX_ID_CHARS)
    checked_role = _checked_role(role)
    display_name = _checked_text("name", name, MAX_TEXT_CHARS) if name is not None else None
    token = issue_token()

    def write(connection: duckdb.DuckDBPyConnection) -> User | None:
        existing = _find(connection, email)
        if existing is not None and existing.active:
            raise AccessError(
                f"{email} already has access (org {existing.org_id}, role {existing.role}); "
                "revoke it first to issue a new token"
            )
        connection.execute("DELETE FROM users WHERE email = ?", [email])
        connection.execute(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, now(), NULL)",
            [email, org_id, checked_role, display_name, token_digest(token)],
        )
        return _find(connection, email)

    user = database.write_transaction(paths, write, wait_seconds=WRITE_WAIT_SECONDS, what="user change")
    assert user is not None
    return IssuedToken(user=user, token=token)


def revoke_user(paths: Paths, email: str) -> User:
    """End EMAIL's access: the token and every session signed in with it stop working."""
    email = normalize_email(email)

    def write(connection: duckdb.DuckDBPyConnection) -> User | None:
        existing = _find(connection, email)
        if existing is None:
            raise AccessError(f"no user {email}")
        if not existing.active:
            raise AccessError(f"{email} was already revoked at {existing.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
        connection.execute("UPDATE users SET revoked_at = now() WHERE email = ?", [email])
        return _find(connection, email)

    user = database.write_transaction(paths, write, wait_seconds=WRITE_WAIT_SECONDS, what="user change")
    assert user is not None
    return user


def list_users(paths: Paths) -> list[User]:
    """Every user, revoked ones included, by org then email."""
    try:
        with database.reader(paths) as connection:
            rows = connection.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY org_id, email").fetchall()
    except database.DatabaseMissingError:
        return []
    return [_user(row) for row in rows]


class UserDirectory:
    """The active users, re-read only when the lake has a new snapshot."""

    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._lock = threading.Lock()
        self._signature: int | None = None
        self._by_email: dict[str, User] = {}
        self._by_digest: dict[str, User] = {}

    def user_for_token(self, token: str) -> User | None:
        digest = token_digest(token)
        user = self._current()[1].get(digest)
        if user is None or not digests_match(user.token_sha256, digest):
            return None
        return user

    def active_user(self, email: str) -> User | None:
        return self._current()[0].get(email)

    def _snapshot(self) -> int | None:
        try:
            with database.reader(self._paths) as connection:
                row = connection.execute(f"FROM ducklake_current_snapshot('{lake.ALIAS}')").fetchone()
        except database.DatabaseMissingError:
            return None
        return int(row[0]) if row else None

    def _current(self) -> tuple[dict[str, User], dict[str, User]]:
        with self._lock:
            # Taken before reading: a write that lands during the read changes the file again and is seen
            # by the next request.
            signature = self._snapshot()
            if signature is None or signature != self._signature:
                active = [user for user in list_users(self._paths) if user.active]
                self._by_email = {user.email: user for user in active}
                self._by_digest = {user.token_sha256: user for user in active}
                self._signature = signature
            return self._by_email, self._by_digest
