"""What every request handler needs: the home folder, the clock, sign-in checks and the read audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from audit_pipeline.settings import Paths
from audit_pipeline.web.auth import Authenticator
from audit_pipeline.web.read_audit import ReadAuditLog
from audit_pipeline.web.snapshot_connection import SnapshotReader

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class WebContext:
    paths: Paths
    clock: Callable[[], datetime]
    authenticator: Authenticator
    read_log: ReadAuditLog
    snapshots: SnapshotReader
    templates: Jinja2Templates
    secure_cookies: bool


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def web_folder(paths: Paths) -> Path:
    """The web server's own files: its session key and the staging area of read events."""
    return paths.web
