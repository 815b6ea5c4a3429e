"""The steps every audit-log read shares: who may read, within which org, and the audit event it leaves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from audit_pipeline.access import User
from audit_pipeline.web.auth import OrgForbiddenError
from audit_pipeline.web.context import web_context
from audit_pipeline.web.params import ViewRequest, view_request
from audit_pipeline.web.read_audit import LOGS_SEARCHED, LOGS_VIEWED


def audit_reader(request: Request) -> User:
    """Dependency: the signed-in user with read/write permission (401 / 403 otherwise)."""
    return web_context(request).authenticator.audit_reader(request)


def own_org_view(
    user: Annotated[User, Depends(audit_reader)], view: Annotated[ViewRequest, Depends(view_request)]
) -> ViewRequest:
    """Dependency: the requested view, refused with 403 when it names an org other than the user's."""
    if view.org is not None and view.org != user.org_id:
        raise OrgForbiddenError(user, view.org)
    return view


def view_action(view: ViewRequest) -> str:
    return LOGS_SEARCHED if view.narrows() else LOGS_VIEWED


def record_read(request: Request, user: User, action: str, details: dict[str, Any]) -> None:
    """Write the audit event of this read; raises ReadNotRecordedError (-> 503) rather than read unaudited."""
    web_context(request).read_log.record(
        user, action,
        source_ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        details=details,
    )
