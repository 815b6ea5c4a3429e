"""The web application: the Audit Logs page and its JSON API, assembled for one home folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from audit_pipeline.access import UserDirectory
from audit_pipeline.domain.events import utc_now
from audit_pipeline.settings import Paths, paths_from_env
from audit_pipeline.web import api, pages, settings_api, settings_pages
from audit_pipeline.web.auth import Authenticator
from audit_pipeline.web.context import STATIC_DIR, TEMPLATES_DIR, WebContext, web_folder
from audit_pipeline.web.errors import install_error_handlers
from audit_pipeline.web.read_audit import ReadAuditLog
from audit_pipeline.web.security import SecurityHeaders
from audit_pipeline.web.sessions import SessionSigner, load_or_create_key
from audit_pipeline.web.settings_setup import install_export_settings
from audit_pipeline.web.snapshot_connection import SnapshotReader

API_DESCRIPTION = """The org's audit events with the filters of the Audit Logs page.

Authenticate with `Authorization: Bearer <token>` (from `audit-pipeline users add`). Viewing audit logs needs
the `read_write` role; every view, search and download is itself recorded as an audit event of your org."""


def create_app(
    paths: Paths | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    secure_cookies: bool = False,
) -> FastAPI:
    """The app for `paths` (default: AUDIT_PIPELINE_HOME); `clock` is the "now" that periods end at."""
    home = (paths or paths_from_env()).ensure()
    folder = web_folder(home)
    key = load_or_create_key(folder / "session.key")
    signer = SessionSigner(key)
    snapshots = SnapshotReader(home)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.export_settings.runs.close()
        snapshots.close()

    app = FastAPI(title="Audit Logs API", version="1", description=API_DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.web = WebContext(
        paths=home,
        clock=clock,
        authenticator=Authenticator(UserDirectory(home), signer, clock),
        read_log=ReadAuditLog(home.landing, folder / "staging", clock),
        snapshots=snapshots,
        templates=Jinja2Templates(directory=TEMPLATES_DIR),
        secure_cookies=secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(settings_pages.router)
    app.include_router(settings_api.router)
    install_error_handlers(app)
    install_export_settings(app, key)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """Browsers ask for it whatever the page links; the icon is the page's SVG."""
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
