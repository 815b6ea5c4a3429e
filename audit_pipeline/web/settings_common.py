"""What the export settings page and API share: the admin check, the CSRF check, views and error answers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from audit_pipeline.access import User, can_manage_exports
from audit_pipeline.access.roles import EXPORT_SETTINGS_PERMISSION
from audit_pipeline.export.config import ExportConfig, next_full_hour
from audit_pipeline.export.layout import export_folder
from audit_pipeline.export.policies import partition_of, permissions_policy, read_policy, trust_policy
from audit_pipeline.export.settings_fields import check_settings
from audit_pipeline.export.timing import next_export_at
from audit_pipeline.storage.database import DatabaseBusyError
from audit_pipeline.web.auth import NotSignedInError, PermissionMissingError
from audit_pipeline.web.context import web_context
from audit_pipeline.web.csrf import CsrfGuard, CsrfRejectedError, FormTooLargeError
from audit_pipeline.web.export_run_queue import RunRequest
from audit_pipeline.web.export_settings import ExportNotVisibleError, ExportSettingsService, SettingsRejectedError

SETTINGS_PATH = "/settings/audit-logs/configuration"
API_PATH = "/api/v1/audit-log-exports"
SETTINGS_ACTION = "reading or changing the audit log export settings"
# A page waits this long at most for the bookkeeping before showing exports without their health.
HEALTH_WAIT_SECONDS = 2.0


def settings_service(request: Request) -> ExportSettingsService:
    service: ExportSettingsService = request.app.state.export_settings
    return service


def csrf_guard(request: Request) -> CsrfGuard:
    guard: CsrfGuard = request.app.state.csrf
    return guard


def export_admin(request: Request) -> User:
    """Dependency: the signed-in admin (401 when not signed in, 403 naming the admin permission otherwise)."""
    user = web_context(request).authenticator.user_of(request)
    if user is None:
        raise NotSignedInError()
    if not can_manage_exports(user.role):
        raise PermissionMissingError(user, EXPORT_SETTINGS_PERMISSION, SETTINGS_ACTION)
    return user


async def csrf_checked(request: Request, user: Annotated[User, Depends(export_admin)]) -> None:
    """Dependency of every state-changing operation; who asks is checked first (401 / 403 before CSRF)."""
    await csrf_guard(request).check(request)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def s3_folder(bucket: str, prefix: str, org_id: str, cutoff_at: datetime) -> str:
    return f"s3://{bucket or '<bucket>'}/{export_folder(prefix, org_id, cutoff_at)}/"


def policies(config: ExportConfig) -> dict[str, Any]:
    partition = partition_of(config.role_arn)
    return {"trust_policy": trust_policy(config.external_id),
            "permissions_policy": permissions_policy(config.bucket, config.prefix, partition),
            "read_policy": read_policy(config.bucket, config.prefix, partition)}


def run_view(request: RunRequest | None) -> dict[str, Any] | None:
    if request is None:
        return None
    return {"request_id": request.request_id, "name": request.name, "state": request.state,
            "requested_by": request.requested_by, "requested_at": request.requested_at,
            "started_at": request.started_at, "finished_at": request.finished_at, "run_id": request.run_id,
            "export_number": request.export_number, "events_exported": request.events_exported,
            "object_keys": list(request.object_keys), "error": request.error}


def export_view(service: ExportSettingsService, config: ExportConfig, health: dict[str, Any] | None,
                now: datetime) -> dict[str, Any]:
    upcoming = next_export_at(config.first_export_at, config.frequency_hours, now)
    return {
        "name": config.name, "org_id": config.org_id, "bucket": config.bucket, "region": config.region,
        "prefix": config.prefix, "frequency_hours": config.frequency_hours, "role_arn": config.role_arn,
        "external_id": config.external_id, "gzip": config.gzip, "enabled": config.enabled,
        "created_at": config.created_at, "first_export_at": config.first_export_at,
        "next_export_at": upcoming if config.enabled else None,
        "layout": s3_folder(config.bucket, config.prefix, config.org_id, upcoming),
        "health": health, "last_run": run_view(service.runs.latest(config.name)),
    }


def preview(org_id: str, values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The folder files will appear under and the permissions policy, for settings being typed."""
    checked = check_settings(org_id, {"name": "preview", **values})
    errors = {name: message for name, message in checked.errors.items() if name != "name"}
    bucket = str(values.get("bucket") or "").strip()
    prefix = str(values.get("prefix") or "").strip().strip("/")
    role_arn = str(values.get("role_arn") or "")
    partition = partition_of(role_arn) if "role_arn" not in errors and role_arn else "aws"
    return {"layout": s3_folder(bucket, prefix, org_id, next_full_hour(now)),
            "permissions_policy": permissions_policy(bucket or "<bucket>", prefix, partition),
            "read_policy": read_policy(bucket or "<bucket>", prefix, partition), "errors": errors}


def export_health(service: ExportSettingsService, configs: list[ExportConfig],
                  now: datetime) -> dict[str, dict[str, Any]]:
    """Each export's state, last export, cutoff, lag and last error, by name (`export.health`'s rule).

    The bookkeeping is read from the lake's newest snapshot; should the lake stay unreadable for longer than
    a moment, the page shows the exports without their health instead of waiting (the state "unknown").
    """
    from audit_pipeline.export.delivery_status import last_deliveries
    from audit_pipeline.export.health import assess
    from audit_pipeline.export.run_history import failure_streaks

    try:
        deliveries = last_deliveries(service.paths, [c.config_id for c in configs],
                                     wait_seconds=HEALTH_WAIT_SECONDS)
    except DatabaseBusyError:
        return {c.name: {"state": "unknown", "last_error": "the pipeline is writing: reload in a moment"}
                for c in configs}
    streaks = failure_streaks(service.paths, [c.name for c in configs])
    return {c.name: asdict(assess(c, deliveries.get(c.config_id), streaks[c.name], now)) for c in configs}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    return web_context(request).templates.TemplateResponse(request, "error.html", {
        "user": None, "title": title, "messages": [message], "back_url": SETTINGS_PATH,
    }, status_code=status_code)


async def csrf_rejected(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error), "missing_permission": None}, status_code=403)
    return _error_page(request, 403, "This form has expired", str(error))


async def export_not_visible(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=404)
    return _error_page(request, 404, "No such export", str(error))


async def settings_rejected(request: Request, error: Exception) -> Response:
    assert isinstance(error, SettingsRejectedError)
    detail = [{"loc": ["body", field], "msg": message, "type": "value_error"}
              for field, message in error.errors.items()]
    if _is_api(request):
        return JSONResponse({"detail": detail}, status_code=422)
    return _error_page(request, 422, "These settings cannot be saved", str(error))


async def form_too_large(request: Request, error: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": str(error)}, status_code=413)
    return _error_page(request, 413, "That form is too large", str(error))


def install_settings_errors(app: FastAPI) -> None:
    app.add_exception_handler(CsrfRejectedError, csrf_rejected)
    app.add_exception_handler(ExportNotVisibleError, export_not_visible)
    app.add_exception_handler(SettingsRejectedError, settings_rejected)
    app.add_exception_handler(FormTooLargeError, form_too_large)
