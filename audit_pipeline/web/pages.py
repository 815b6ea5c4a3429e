"""The server-rendered pages: sign-in, the Audit Logs list, suspicious activity, downloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from audit_pipeline.access import User
from audit_pipeline.query.filters import MAX_SEARCH_CHARS, period_bounds
from audit_pipeline.web.context import web_context
from audit_pipeline.web.downloads import MEDIA_TYPES, DownloadFormat, download_response
from audit_pipeline.web.params import (
    DEFAULT_FINDINGS_PERIOD,
    FINDINGS_PERIODS,
    PERIOD_LABELS,
    FindingsPeriod,
    ViewRequest,
)
from audit_pipeline.web.presentation import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    event_row,
    facet_panes,
    pager,
    rule_label,
    utc_iso,
    utc_text,
)
from audit_pipeline.web.read_audit import LOGS_VIEWED
from audit_pipeline.web.reads import audit_reader, own_org_view, record_read, view_action
from audit_pipeline.web.sessions import SESSION_COOKIE, SESSION_LIFETIME
from audit_pipeline.web.snapshot_reads import load_findings, load_list_view

PAGE_PATH = "/audit-logs"
SUSPICIOUS_PATH = "/audit-logs/suspicious"
FACET_TOP = 25
MAX_SIGN_IN_BYTES = 4096
SUSPICIOUS_LIMIT = 500

_HTML: dict[str, Any] = {"text/html": {}}
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "A filter value that cannot be answered: a page saying why.", "content": _HTML},
    401: {"description": "Not signed in: the sign-in page.", "content": _HTML},
    403: {"description": "The read_write permission is missing, or another org was asked for.",
          "content": _HTML},
    422: {"description": "A malformed parameter: a page listing the problems.", "content": _HTML},
    503: {"description": "The read could not be recorded in the audit log; retry.", "content": _HTML},
}

router = APIRouter(tags=["pages"], responses=PAGE_RESPONSES)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    parts = urlsplit(target)
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)):
        return PAGE_PATH
    return target


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse(PAGE_PATH, status_code=303)


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page(
    request: Request, next_url: Annotated[str, Query(alias="next", max_length=2048)] = PAGE_PATH
) -> HTMLResponse:
    return render_sign_in(request, next_url=safe_next(next_url), message=None, status_code=200)


def render_sign_in(request: Request, *, next_url: str, message: str | None, status_code: int) -> HTMLResponse:
    return web_context(request).templates.TemplateResponse(
        request, "sign_in.html", {"user": None, "next_url": next_url, "message": message},
        status_code=status_code,
    )


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request) -> Response:
    """Exchange a token for a session cookie; the form is parsed here to keep the form body small and plain."""
    context = web_context(request)
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.url.netloc:
        return render_sign_in(request, next_url=PAGE_PATH, message="Sign-in must come from this site.",
                              status_code=403)
    body = await request.body()
    if len(body) > MAX_SIGN_IN_BYTES:
        return render_sign_in(request, next_url=PAGE_PATH, message="That request is too large.", status_code=400)
    form = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    token = (form.get("token") or [""])[0].strip()
    next_url = safe_next((form.get("next") or [PAGE_PATH])[0])
    user: User | None = await run_in_threadpool(context.authenticator.user_for_token, token)
    if user is None:
        return render_sign_in(request, next_url=next_url, status_code=401,
                              message="That token is not valid, or its access was revoked.")
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, context.authenticator.session_cookie(user),
        max_age=int(SESSION_LIFETIME.total_seconds()), path="/", httponly=True, samesite="strict",
        secure=context.secure_cookies or request.url.scheme == "https",
    )
    return response


@router.post("/sign-out", include_in_schema=False)
def sign_out() -> RedirectResponse:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get(PAGE_PATH, response_class=HTMLResponse, summary="The Audit Logs page")
def audit_logs_page(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    view: Annotated[ViewRequest, Depends(own_org_view)],
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    size: Annotated[int, Query(ge=1, le=max(PAGE_SIZES), description="Rows per page.")] = DEFAULT_PAGE_SIZE,
) -> HTMLResponse:
    context = web_context(request)
    flt = view.log_filter(user.org_id, context.clock(), hide_reads_of=user.email)
    listing = load_list_view(context.snapshots, flt, limit=size, offset=(page - 1) * size,
                             facet_top=FACET_TOP)
    record_read(request, user, view_action(view), {
        "view": "audit_logs", "interface": "web", "filters": view.as_record(), "page": page,
        "total": listing.total,
    })
    downloads = {fmt: view.url(f"{PAGE_PATH}/download", format=fmt) for fmt in MEDIA_TYPES}
    return context.templates.TemplateResponse(request, "audit_logs.html", {
        "user": user, "nav": "events", "view": view, "listing": listing,
        "periods": list(PERIOD_LABELS.items()),
        "range_since": utc_iso(flt.since) if flt.since else None,
        "range_until": utc_iso(flt.until) if flt.until else None,
        "range_since_utc": utc_text(flt.since) if flt.since else None,
        "range_until_utc": utc_text(flt.until) if flt.until else None,
        "rows": [event_row(event) for event in listing.events],
        "own_reads_hidden": flt.hides_reads(),
        "panes": facet_panes(view, listing.facets, FACET_TOP),
        "pager": pager(view, PAGE_PATH, page, size, listing.total),
        "size": size, "page_sizes": PAGE_SIZES, "default_size": DEFAULT_PAGE_SIZE,
        "max_search": MAX_SEARCH_CHARS,
        "clear_url": ViewRequest(period=view.period, since=view.since, until=view.until).url(PAGE_PATH),
        "download_csv_url": downloads["csv"], "download_ndjson_url": downloads["ndjson"],
    })


@router.get(f"{PAGE_PATH}/download", summary="Download the page's current view",
            response_class=StreamingResponse, responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}})
def download_page_view(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    view: Annotated[ViewRequest, Depends(own_org_view)],
    file_format: Annotated[DownloadFormat, Query(alias="format", description="csv or ndjson")] = "csv",
) -> StreamingResponse:
    return download_response(request, user, view, file_format, "web")


@router.get(SUSPICIOUS_PATH, response_class=HTMLResponse, summary="The suspicious-activity page")
def suspicious_page(
    request: Request,
    user: Annotated[User, Depends(audit_reader)],
    period: Annotated[FindingsPeriod, Query(description="Findings still active in this period.")] = (
        DEFAULT_FINDINGS_PERIOD),
) -> HTMLResponse:
    context = web_context(request)
    since, _ = period_bounds(period, context.clock())
    findings = load_findings(context.snapshots, user.org_id, since=since,
                             limit=SUSPICIOUS_LIMIT + 1)
    record_read(request, user, LOGS_VIEWED, {
        "view": "suspicious_activity", "interface": "web", "period": period,
        "findings": len(findings.rows),
    })
    rows = [_finding_row(row) for row in findings.rows[:SUSPICIOUS_LIMIT]]
    return context.templates.TemplateResponse(request, "suspicious.html", {
        "user": user, "nav": "suspicious", "available": findings.available, "rows": rows,
        "truncated": len(findings.rows) > SUSPICIOUS_LIMIT, "period": period,
        "periods": [(p, PERIOD_LABELS[p]) for p in FINDINGS_PERIODS],
    })


def _finding_row(row: dict[str, Any]) -> dict[str, Any]:
    first_at: datetime = row["first_at"]
    last_at: datetime = row["last_at"]
    # The events behind a finding: that user, as the User pane names and counts them, from its first to just
    # after its last event.
    user = row.get("display_user") or row["user"] or ""
    events_query = [("period", "custom"), ("since", utc_iso(first_at)),
                    ("until", utc_iso(last_at + timedelta(microseconds=1)))]
    if user:
        events_query.append(("user", user))
    return {
        **row,
        "rule_label": rule_label(str(row["rule"])),
        "first_iso": utc_iso(first_at), "first_utc": utc_text(first_at),
        "last_iso": utc_iso(last_at), "last_utc": utc_text(last_at),
        "events_url": f"{PAGE_PATH}?{urlencode(events_query)}",
    }
