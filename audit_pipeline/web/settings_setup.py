"""Wiring the export settings (page, API, CSRF guard, run queue) into the app."""

from __future__ import annotations

from fastapi import FastAPI

from audit_pipeline.web.context import web_folder
from audit_pipeline.web.csrf import CsrfGuard
from audit_pipeline.web.export_run_queue import ExportRunQueue
from audit_pipeline.web.export_settings import ExportSettingsService
from audit_pipeline.web.read_audit import CHANGES_SUBFOLDER, ReadAuditLog
from audit_pipeline.web.settings_common import install_settings_errors


def install_export_settings(app: FastAPI, key: bytes) -> None:
    """`key` is the session key: CSRF tokens are keyed by it, so they are worthless on another server."""
    context = app.state.web
    app.state.csrf = CsrfGuard(key)
    changes = ReadAuditLog(context.paths.landing, web_folder(context.paths) / "staging", context.clock,
                           subfolder=CHANGES_SUBFOLDER, id_prefix="change")
    app.state.export_settings = ExportSettingsService(
        context.paths, context.clock, changes, ExportRunQueue(context.paths, context.clock)
    )
    install_settings_errors(app)


