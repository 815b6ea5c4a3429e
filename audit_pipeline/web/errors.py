"""Errors as the asker expects them: JSON for /api/, a page for the browser. Never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from audit_pipeline.access import can_view_audit_logs
from audit_pipeline.query.filters import QueryError
from audit_pipeline.storage.database import DatabaseBusyError
from audit_pipeline.web.auth import NotSignedInError, OrgForbiddenError, PermissionMissingError
from audit_pipeline.web.context import web_context
from audit_pipeline.web.read_audit import ReadNotRecordedError

RETRY_AFTER_SECONDS = "5"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page(request: Request, template: str, status_code: int, values: dict[str, object]) -> Response:
    return web_context(request).templates.TemplateResponse(request, template, values, status_code=status_code)


def _error_page(request: Request, status_code: int, title: str, messages: list[str]) -> Response:
    return _page(request, "error.html", status_code, {
        "user": None, "title": title, "messages": messages, "back_url": "/audit-logs",
    })


async def not_signed_in(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": "sign in: send Authorization: Bearer <token>"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _page(request, "sign_in.html", 401, {"user": None, "next_url": target, "message": None})


async def permission_missing(request: Request, error: Exception) -> Response:
    assert isinstance(error, PermissionMissingError)
    if _is_api(request):
        return JSONResponse({"detail": str(error), "missing_permission": error.permission}, status_code=403)
    # No links to views the user cannot open (a read_write user refused Settings still reads the logs).
    return _page(request, "forbidden.html", 403, {
        "user": error.user, "message": str(error), "missing_permission": error.permission,
        "hide_views": not can_view_audit_logs(error.user.role),
    })


async def org_forbidden(request: Request, error: Exception) -> Response:
    assert isinstance(error, OrgForbiddenError)
    if _is_api(request):
        return JSONResponse({"detail": str(error), "missing_permission": None}, status_code=403)
    return _page(request, "forbidden.html", 403, {
        "user": error.user, "message": str(error), "missing_permission": None,
    })


async def bad_query(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=400)
    return _error_page(request, 400, "These filters cannot be shown", [str(error)])


async def invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if _is_api(request):
        return await request_validation_exception_handler(request, error)
    messages = [f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'request'}: {problem['msg']}"
                for problem in error.errors()]
    return _error_page(request, 422, "These filters cannot be shown", messages)


async def unavailable(request: Request, error: Exception) -> Response:
    message = str(error) if isinstance(error, ReadNotRecordedError) else (
        "the audit log is busy; try again in a few seconds")
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=503, headers=headers)
    response = _error_page(request, 503, "Try again in a moment", [message])
    response.headers.update(headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NotSignedInError, not_signed_in)
    app.add_exception_handler(PermissionMissingError, permission_missing)
    app.add_exception_handler(OrgForbiddenError, org_forbidden)
    app.add_exception_handler(QueryError, bad_query)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ReadNotRecordedError, unavailable)
    app.add_exception_handler(DatabaseBusyError, unavailable)
