"""Settings -> Audit Logs -> Configuration: the export set up, tested and watched from the browser (admins only).

Server-rendered forms that work without JavaScript; the page's script adds the live layout preview, copy
buttons and the progress of "Run now". Every form that changes something carries the session's CSRF token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_pipeline.access import User
from audit_pipeline.export.config import ExportConfig, known_regions
from audit_pipeline.export.connection_check import StepResult
from audit_pipeline.export.policies import trust_policy
from audit_pipeline.export.settings_fields import FIELDS
from audit_pipeline.web.context import web_context
from audit_pipeline.web.csrf import read_form
from audit_pipeline.web.export_settings import Actor, ExportNotVisibleError, SettingsRejectedError, actor_of
from audit_pipeline.web.presentation import utc_iso, utc_text
from audit_pipeline.web.settings_common import (
    API_PATH,
    SETTINGS_PATH,
    csrf_checked,
    csrf_guard,
    export_admin,
    export_health,
    export_view,
    policies,
    preview,
    settings_service,
)

router = APIRouter(prefix=SETTINGS_PATH, include_in_schema=False)
Admin = Annotated[User, Depends(export_admin)]
CHANGES = [Depends(csrf_checked)]
DEFAULT_FREQUENCY_HOURS = 24
Outcome = TypeVar("Outcome")


def _pretty(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)


def _values_of(config: ExportConfig) -> dict[str, Any]:
    return {"name": config.name, "bucket": config.bucket, "region": config.region, "prefix": config.prefix,
            "frequency_hours": str(config.frequency_hours), "role_arn": config.role_arn, "gzip": config.gzip}


def _form_values(form: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "") for name in FIELDS if name != "gzip"}
    values["gzip"] = form.get("gzip") in ("on", "true", "1")
    return values


def _moment(value: Any) -> dict[str, str] | None:
    return {"iso": utc_iso(value), "utc": utc_text(value)} if value else None


def render(
    request: Request, user: User, *, existing: ExportConfig | None = None, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, steps: list[StepResult] | None = None, status_code: int = 200,
    notice: dict[str, Any] | None = None,
) -> HTMLResponse:
    service = settings_service(request)
    now = service.clock()
    configs = service.configs(user.org_id)
    health = export_health(service, configs, now)
    rows = [export_view(service, config, health.get(config.name), now) for config in configs]
    for row in rows:
        row["url"] = f"{SETTINGS_PATH}/exports/{quote(row['name'])}"
        row["status_url"] = f"{API_PATH}/{quote(row['name'])}/runs/"
        for key in ("next_export_at", "first_export_at"):
            row[key + "_shown"] = _moment(row[key])
        row["health_shown"] = _health_shown(row["health"])
    connector = service.connector(user.org_id)
    if existing is not None:
        values = values or _values_of(existing)
        external_id: str | None = existing.external_id
    else:
        values = values or {"frequency_hours": str(DEFAULT_FREQUENCY_HOURS), "region": "us-east-1"}
        external_id = connector.external_id if connector else None
    shown = preview(user.org_id, values, now)
    action = f"{SETTINGS_PATH}/exports/{quote(existing.name)}" if existing else SETTINGS_PATH
    return web_context(request).templates.TemplateResponse(request, "settings.html", {
        "user": user, "nav": "settings", "csrf_token": csrf_guard(request).token_for(request),
        "settings_path": SETTINGS_PATH, "preview_url": f"{API_PATH}/preview",
        "exports": rows, "existing": existing, "external_id": external_id,
        "connector": connector,
        "trust_policy": _pretty(trust_policy(external_id)) if external_id else None,
        "permissions_policy": _pretty(shown["permissions_policy"]), "layout": shown["layout"],
        "read_policy": _pretty(shown["read_policy"]),
        "values": values, "errors": errors or {}, "steps": steps,
        "steps_ok": bool(steps) and all(step.ok for step in steps or []),
        "form_action": action, "test_action": f"{action}/test",
        "regions": sorted(known_regions()), "notice": notice,
    }, status_code=status_code)


def _health_shown(health: dict[str, Any] | None) -> dict[str, Any] | None:
    if not health:
        return None
    lag = health.get("lag_seconds")
    return {**health, "last_success": _moment(health.get("last_success_at")),
            "last_cutoff": _moment(health.get("last_cutoff_at")),
            "lag_text": _duration(lag) if lag is not None else None}


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"


def _saved_notice(request: Request, user: User, name: str | None, removed: str | None) -> dict[str, Any] | None:
    service = settings_service(request)
    if removed:
        return {"kind": "removed", "name": removed}
    if not name:
        return None
    try:
        config = service.config(user.org_id, name)
    except ExportNotVisibleError:
        return None
    view = export_view(service, config, None, service.clock())
    return {"kind": "saved", "name": config.name, "enabled": config.enabled,
            "frequency_hours": config.frequency_hours,
            "next": _moment(view["next_export_at"]), "first": _moment(config.first_export_at)}


@router.get("", response_class=HTMLResponse)
def settings_page(
    request: Request, user: Admin,
    saved: Annotated[str | None, Query(max_length=63)] = None,
    removed: Annotated[str | None, Query(max_length=63)] = None,
) -> HTMLResponse:
    return render(request, user, notice=_saved_notice(request, user, saved, removed))


def _back(anchor: str = "", **query: str) -> RedirectResponse:
    suffix = "?" + "&".join(f"{k}={quote(v)}" for k, v in query.items()) if query else ""
    return RedirectResponse(f"{SETTINGS_PATH}{suffix}{anchor}", status_code=303)


@router.post("/connector", dependencies=CHANGES)
async def enable_connector(request: Request, user: Admin) -> Response:
    service = settings_service(request)
    await run_in_threadpool(service.enable_connector, actor_of(request, user, "web"))
    return _back("#connector")


async def _submit(
    request: Request, user: User, existing: ExportConfig | None,
    operation: Callable[[Actor, dict[str, Any], ExportConfig | None], Outcome],
    respond: Callable[[Outcome, dict[str, Any]], Response],
) -> Response:
    """Run a form's operation; settings it refuses come back on the form, each problem beside its field."""
    values = _form_values(await read_form(request))
    try:
        outcome = await run_in_threadpool(operation, actor_of(request, user, "web"), values, existing)
    except SettingsRejectedError as error:
        errors = error.errors
        return await run_in_threadpool(lambda: render(request, user, existing=existing, values=values,
                                                      errors=errors, status_code=422))
    return await run_in_threadpool(respond, outcome, values)


async def _test(request: Request, user: User, existing: ExportConfig | None) -> Response:
    return await _submit(request, user, existing, settings_service(request).test_connection,
                         lambda steps, values: render(request, user, existing=existing, values=values, steps=steps))


async def _save(request: Request, user: User, existing: ExportConfig | None) -> Response:
    return await _submit(request, user, existing, settings_service(request).save,
                         lambda config, _: _back(f"#export-{config.name}", saved=config.name))


@router.post("/test", dependencies=CHANGES, response_class=HTMLResponse)
async def test_new(request: Request, user: Admin) -> Response:
    return await _test(request, user, None)


@router.post("", dependencies=CHANGES)
async def save_new(request: Request, user: Admin) -> Response:
    return await _save(request, user, None)


@router.get("/exports/{name}", response_class=HTMLResponse)
def edit_page(request: Request, user: Admin, name: str) -> HTMLResponse:
    return render(request, user, existing=settings_service(request).config(user.org_id, name))


@router.post("/exports/{name}/test", dependencies=CHANGES, response_class=HTMLResponse)
async def test_existing(request: Request, user: Admin, name: str) -> Response:
    return await _test(request, user, settings_service(request).config(user.org_id, name))


@router.post("/exports/{name}", dependencies=CHANGES)
async def save_existing(request: Request, user: Admin, name: str) -> Response:
    return await _save(request, user, settings_service(request).config(user.org_id, name))


@router.post("/exports/{name}/enable", dependencies=CHANGES)
def enable(request: Request, user: Admin, name: str) -> Response:
    settings_service(request).set_enabled(actor_of(request, user, "web"), name, True)
    return _back(f"#export-{name}")


@router.post("/exports/{name}/disable", dependencies=CHANGES)
def disable(request: Request, user: Admin, name: str) -> Response:
    settings_service(request).set_enabled(actor_of(request, user, "web"), name, False)
    return _back(f"#export-{name}")


@router.get("/exports/{name}/remove", response_class=HTMLResponse)
def confirm_removal(request: Request, user: Admin, name: str) -> HTMLResponse:
    config = settings_service(request).config(user.org_id, name)
    return web_context(request).templates.TemplateResponse(request, "settings_remove.html", {
        "user": user, "nav": "settings", "csrf_token": csrf_guard(request).token_for(request),
        "config": config, "settings_path": SETTINGS_PATH, **policies(config),
    })


@router.post("/exports/{name}/remove", dependencies=CHANGES)
def remove(request: Request, user: Admin, name: str) -> Response:
    settings_service(request).remove(actor_of(request, user, "web"), name)
    return _back(removed=name)


@router.post("/exports/{name}/run", dependencies=CHANGES)
def run_now(request: Request, user: Admin, name: str) -> Response:
    settings_service(request).run_now(actor_of(request, user, "web"), name)
    return _back(f"#export-{name}")
