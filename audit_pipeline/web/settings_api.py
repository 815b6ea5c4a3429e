"""The export settings as a JSON API, for admins: the same operations as Settings -> Audit Logs -> Configuration.

With `Authorization: Bearer <token>` no CSRF token is needed; with the page's session cookie every
state-changing call must send the session's token as `X-CSRF-Token`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from audit_pipeline.access import User
from audit_pipeline.export.policies import trust_policy
from audit_pipeline.web.api_models import ErrorBody, PermissionErrorBody
from audit_pipeline.web.export_settings import Actor, ExportNotVisibleError, actor_of
from audit_pipeline.web.settings_common import (
    API_PATH,
    csrf_checked,
    export_admin,
    export_health,
    export_view,
    policies,
    preview,
    run_view,
    settings_service,
)
from audit_pipeline.web.settings_models import (
    ConnectionTest,
    Connector,
    ExportDetail,
    ExportList,
    ExportSettingsBody,
    ExportView,
    Preview,
    Removed,
    RunStatus,
)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A request body that is not JSON."},
    401: {"model": ErrorBody, "description": "No valid token: send `Authorization: Bearer <token>`."},
    403: {"model": PermissionErrorBody,
          "description": "The admin permission is missing, or a session call came without its CSRF token."},
    503: {"model": ErrorBody, "description": "The change could not be recorded in the audit log; retry."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No export of that name in your org."},
}
ExportName = Annotated[str, Path(max_length=63, description="The export's name (a slug).")]

router = APIRouter(prefix=API_PATH, tags=["export settings"], responses=ERRORS)
Admin = Annotated[User, Depends(export_admin)]


def _actor(request: Request, user: User) -> Actor:
    return actor_of(request, user, "api")


def _values(body: ExportSettingsBody) -> dict[str, Any]:
    return body.model_dump()


@router.get("", response_model=ExportList, summary="Your org's exports with their health, and the pending connector")
def list_exports(request: Request, user: Admin) -> ExportList:
    service = settings_service(request)
    now = service.clock()
    configs = service.configs(user.org_id)
    health = export_health(service, configs, now)
    connector = service.connector(user.org_id)
    return ExportList(
        exports=[ExportView(**export_view(service, c, health.get(c.name), now)) for c in configs],
        connector=Connector(external_id=connector.external_id, enabled_by=connector.enabled_by,
                            enabled_at=connector.enabled_at, trust_policy=trust_policy(connector.external_id))
        if connector else None,
    )


@router.post("/connector", response_model=Connector, dependencies=[Depends(csrf_checked)],
             summary="Enable the AWS role connector: generates the external id (the same one until it is used)")
def enable_connector(request: Request, user: Admin) -> Connector:
    connector = settings_service(request).enable_connector(_actor(request, user))
    return Connector(external_id=connector.external_id, enabled_by=connector.enabled_by,
                     enabled_at=connector.enabled_at, trust_policy=trust_policy(connector.external_id))


@router.get("/preview", response_model=Preview,
            summary="Where files of these settings would go, their permissions policy and what is wrong")
def preview_settings(
    request: Request, user: Admin,
    bucket: Annotated[str, Query(max_length=200)] = "",
    prefix: Annotated[str, Query(max_length=1024)] = "",
    region: Annotated[str, Query(max_length=64)] = "",
    frequency_hours: Annotated[str, Query(max_length=16)] = "",
    role_arn: Annotated[str, Query(max_length=2048)] = "",
) -> Preview:
    values = {"bucket": bucket, "prefix": prefix, "region": region, "frequency_hours": frequency_hours,
              "role_arn": role_arn}
    return Preview(**preview(user.org_id, values, settings_service(request).clock()))


def _connection_test(steps: list[Any]) -> ConnectionTest:
    return ConnectionTest(ok=all(s.ok for s in steps),
                          steps=[{"step": s.step, "ok": s.ok, "detail": s.detail} for s in steps])


@router.post("/connection-test", response_model=ConnectionTest, dependencies=[Depends(csrf_checked)],
             summary="Test unsaved settings with the pending connector: assume the role, write and remove a marker")
def test_new_settings(request: Request, user: Admin, body: ExportSettingsBody) -> ConnectionTest:
    return _connection_test(settings_service(request).test_connection(_actor(request, user), _values(body), None))


@router.post("", response_model=ExportDetail, status_code=201, dependencies=[Depends(csrf_checked)],
             summary="Create an export with the pending connector's external id; first export at the next full hour")
def create_export(request: Request, user: Admin, body: ExportSettingsBody) -> ExportDetail:
    service = settings_service(request)
    config = service.save(_actor(request, user), _values(body), None)
    return _detail(request, user, config.name)


def _detail(request: Request, user: User, name: str) -> ExportDetail:
    service = settings_service(request)
    config = service.config(user.org_id, name)
    now = service.clock()
    health = export_health(service, [config], now).get(config.name)
    return ExportDetail(**export_view(service, config, health, now), **policies(config))


@router.get("/{name}", response_model=ExportDetail, responses=NOT_FOUND,
            summary="One export: settings, policies, health, next run")
def get_export(request: Request, user: Admin, name: ExportName) -> ExportDetail:
    return _detail(request, user, name)


@router.put("/{name}", response_model=ExportDetail, responses=NOT_FOUND, dependencies=[Depends(csrf_checked)],
            summary="Edit an export (its name, org and external id stay)")
def edit_export(request: Request, user: Admin, name: ExportName, body: ExportSettingsBody) -> ExportDetail:
    service = settings_service(request)
    existing = service.config(user.org_id, name)
    service.save(_actor(request, user), _values(body), existing)
    return _detail(request, user, name)


@router.post("/{name}/connection-test", response_model=ConnectionTest, responses=NOT_FOUND,
             dependencies=[Depends(csrf_checked)], summary="Test a saved export's connection step by step")
def test_saved_export(request: Request, user: Admin, name: ExportName) -> ConnectionTest:
    service = settings_service(request)
    existing = service.config(user.org_id, name)
    values = {"name": existing.name, "bucket": existing.bucket, "region": existing.region,
              "prefix": existing.prefix, "frequency_hours": existing.frequency_hours,
              "role_arn": existing.role_arn, "gzip": existing.gzip}
    return _connection_test(service.test_connection(_actor(request, user), values, existing))


@router.post("/{name}/enable", response_model=ExportDetail, responses=NOT_FOUND,
             dependencies=[Depends(csrf_checked)], summary="Resume scheduled exports")
def enable_export(request: Request, user: Admin, name: ExportName) -> ExportDetail:
    settings_service(request).set_enabled(_actor(request, user), name, True)
    return _detail(request, user, name)


@router.post("/{name}/disable", response_model=ExportDetail, responses=NOT_FOUND,
             dependencies=[Depends(csrf_checked)], summary="Pause scheduled exports (the next one catches up)")
def disable_export(request: Request, user: Admin, name: ExportName) -> ExportDetail:
    settings_service(request).set_enabled(_actor(request, user), name, False)
    return _detail(request, user, name)


@router.delete("/{name}", response_model=Removed, responses=NOT_FOUND, dependencies=[Depends(csrf_checked)],
               summary="Remove an export's configuration (files already in the bucket stay)")
def remove_export(request: Request, user: Admin, name: ExportName) -> Removed:
    removed = settings_service(request).remove(_actor(request, user), name)
    return Removed(name=removed.name, removed=True)


@router.post("/{name}/runs", response_model=RunStatus, status_code=202,
             responses={**NOT_FOUND, 200: {"model": RunStatus,
                                           "description": "A run of this export was already pending: that one."}},
             dependencies=[Depends(csrf_checked)],
             summary="Export now, in the background, as a Dagster run; poll the returned run for its outcome")
def run_export(request: Request, response: Response, user: Admin, name: ExportName) -> RunStatus:
    run, started = settings_service(request).run_now(_actor(request, user), name)
    if not started:
        response.status_code = 200
    response.headers["Location"] = f"{API_PATH}/{name}/runs/{run.request_id}"
    return RunStatus(**run_view(run) or {})


@router.get("/{name}/runs/{request_id}", response_model=RunStatus, responses=NOT_FOUND,
            summary="A run started from the page or API: queued, running, succeeded or failed")
def run_status(request: Request, user: Admin, name: ExportName,
               request_id: Annotated[str, Path(max_length=64)]) -> RunStatus:
    service = settings_service(request)
    service.config(user.org_id, name)
    run = service.run_request(user.org_id, name, request_id)
    if run is None:
        raise ExportNotVisibleError(name, user.org_id, f"no run {request_id} of export {name!r} in org {user.org_id}")
    return RunStatus(**run_view(run) or {})
