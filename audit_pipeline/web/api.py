"""The JSON API over the same queries as the page: `Authorization: Bearer <token>` (or the page's session)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from audit_pipeline.access import User, can_view_audit_logs
from audit_pipeline.domain.events import MAX_TEXT_CHARS
from audit_pipeline.query.filters import MAX_PAGE_SIZE, period_bounds
from audit_pipeline.query.logs import display_additional_info, display_user
from audit_pipeline.web.api_models import (
    ErrorBody,
    Event,
    EventList,
    Facets,
    Finding,
    Me,
    PermissionErrorBody,
    SuspiciousActivity,
    TimeRange,
)
from audit_pipeline.web.context import web_context
from audit_pipeline.web.downloads import MEDIA_TYPES, DownloadFormat, download_response
from audit_pipeline.web.params import DEFAULT_FINDINGS_PERIOD, FindingsPeriod, ViewRequest
from audit_pipeline.web.read_audit import LOGS_VIEWED
from audit_pipeline.web.reads import audit_reader, own_org_view, record_read, view_action
from audit_pipeline.web.snapshot_reads import load_facets, load_findings, load_list_view

MAX_API_PAGE_SIZE = min(1000, MAX_PAGE_SIZE)
MAX_OFFSET = 10_000_000
MAX_FACET_TOP = 1000

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A filter value that cannot be answered, and why."},
    401: {"model": ErrorBody, "description": "No valid token: send `Authorization: Bearer <token>`."},
    403: {"model": PermissionErrorBody,
          "description": "The read_write permission is missing, or another org was asked for."},
    503: {"model": ErrorBody, "description": "The read could not be recorded in the audit log; retry."},
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)


def _signed_in(request: Request) -> User:
    user = web_context(request).authenticator.user_of(request)
    if user is None:
        raise HTTPException(401, "send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    return user


@router.get("/me", response_model=Me, summary="Who the token belongs to")
def me(user: Annotated[User, Depends(_signed_in)]) -> Me:
    return Me(email=user.email, name=user.name, org_id=user.org_id, role=user.role,
              can_view_audit_logs=can_view_audit_logs(user.role))


def _event(event: dict[str, Any]) -> Event:
    return Event(**event, display_user=display_user(event), display_additional_info=display_additional_info(event))


@router.get("/audit-logs", response_model=EventList, summary="A page of the org's audit events, newest first")
def list_audit_logs(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    view: Annotated[ViewRequest, Depends(own_org_view)],
    limit: Annotated[int, Query(ge=0, le=MAX_API_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> EventList:
    flt = view.log_filter(user.org_id, web_context(request).clock())
    listing = load_list_view(web_context(request).snapshots, flt, limit=limit, offset=offset,
                             facet_top=None)
    record_read(request, user, view_action(view), {
        "view": "audit_logs", "interface": "api", "filters": view.as_record(), "offset": offset,
        "limit": limit, "total": listing.total,
    })
    return EventList(
        total=listing.total, limit=limit, offset=offset,
        range=TimeRange(period=view.period, since=flt.since, until=flt.until),
        events=[_event(event) for event in listing.events],
    )


@router.get("/audit-logs/facets", response_model=Facets,
            summary="Counts per action, user and log type under the current filters")
def audit_log_facets(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    view: Annotated[ViewRequest, Depends(own_org_view)],
    top: Annotated[int, Query(ge=1, le=MAX_FACET_TOP, description="Values per facet, most frequent first.")] = 50,
    contains: Annotated[str | None, Query(
        max_length=MAX_TEXT_CHARS, description="Only values holding this text (any case), e.g. to find a user "
        "beyond the most frequent.")] = None,
) -> Facets:
    flt = view.log_filter(user.org_id, web_context(request).clock())
    counts = load_facets(web_context(request).snapshots, flt, top=top, containing=contains or None)
    record_read(request, user, view_action(view), {
        "view": "audit_log_facets", "interface": "api", "filters": view.as_record(),
        **({"contains": contains} if contains else {}),
    })
    return Facets(action=counts.get("action", {}), user=counts.get("user", {}),
                  log_type=counts.get("log_type", {}))


@router.get("/audit-logs/download", summary="Every event of the view as a streamed CSV or NDJSON file",
            response_class=StreamingResponse,
            responses={200: {"content": {media_type: {} for media_type in MEDIA_TYPES.values()}}})
def download_audit_logs(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    view: Annotated[ViewRequest, Depends(own_org_view)],
    file_format: Annotated[DownloadFormat, Query(alias="format", description="csv or ndjson")] = "ndjson",
) -> StreamingResponse:
    return download_response(request, user, view, file_format, "api")


@router.get("/suspicious-activity", response_model=SuspiciousActivity,
            summary="Findings of the suspicious-activity rules for the org, most severe first")
def suspicious_activity(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    period: Annotated[FindingsPeriod, Query(description="Findings still active in this period.")] = (
        DEFAULT_FINDINGS_PERIOD),
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SuspiciousActivity:
    context = web_context(request)
    since, _ = period_bounds(period, context.clock())
    findings = load_findings(context.snapshots, user.org_id, since=since, limit=limit)
    record_read(request, user, LOGS_VIEWED, {
        "view": "suspicious_activity", "interface": "api", "period": period,
        "findings": len(findings.rows),
    })
    return SuspiciousActivity(available=findings.available, findings=[Finding(**row) for row in findings.rows])
