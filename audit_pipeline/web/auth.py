"""Who is asking: a Bearer token (API) or a signed session cookie (page), checked against the access store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.requests import Request

from audit_pipeline.access import User, UserDirectory, can_view_audit_logs
from audit_pipeline.access.roles import AUDIT_LOGS_PERMISSION
from audit_pipeline.access.tokens import MAX_TOKEN_CHARS
from audit_pipeline.web.sessions import SESSION_COOKIE, SessionSigner


class NotSignedInError(Exception):
    """No valid token or session came with the request."""


class PermissionMissingError(Exception):
    """The user is known but their role does not allow what they asked for."""

    def __init__(
        self, user: User, permission: str = AUDIT_LOGS_PERMISSION, action: str = "viewing audit logs"
    ) -> None:
        super().__init__(f"{action} needs the {permission} permission; {user.email} has {user.role}")
        self.user = user
        self.permission = permission


class OrgForbiddenError(Exception):
    """The user asked for an org other than their own."""

    def __init__(self, user: User, org_id: str) -> None:
        super().__init__(f"{user.email} may only view the audit logs of org {user.org_id}")
        self.user = user
        self.org_id = org_id


class Authenticator:
    def __init__(self, directory: UserDirectory, signer: SessionSigner, clock: Callable[[], datetime]) -> None:
        self._directory = directory
        self._signer = signer
        self._clock = clock

    def user_for_token(self, token: str) -> User | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        return self._directory.user_for_token(token)

    def session_cookie(self, user: User) -> str:
        return self._signer.sign(user.email, user.token_sha256, self._clock())

    def user_of(self, request: Request) -> User | None:
        """The user a request speaks for; an Authorization header, when present, is the only credential used."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            return self.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session = self._signer.verify(cookie, self._clock())
        if session is None:
            return None
        user = self._directory.active_user(session.email)
        if user is None or not self._signer.matches(session, user.token_sha256):
            return None
        return user

    def audit_reader(self, request: Request) -> User:
        """The user, if they may read audit logs; otherwise the error that says why not."""
        user = self.user_of(request)
        if user is None:
            raise NotSignedInError()
        if not can_view_audit_logs(user.role):
            raise PermissionMissingError(user)
        return user

