"""What an admin does on Settings -> Audit Logs -> Configuration, for the page and the API alike.

Every operation is limited to the admin's own org (another org's export is answered as if it did not
exist), and every change is written as an audit event of that org: "Audit Log Export Configured" (log type
Settings) with who made it, through which interface and what changed; enabling the connector is "Connector
Enabled" (log type Integration).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from starlette.requests import Request

from audit_pipeline.access import User
from audit_pipeline.dagster_reload import reload_code_locations
from audit_pipeline.export.config import ExportConfig, next_full_hour
from audit_pipeline.export.config_store import find_config, list_configs, remove_config, save_config, set_enabled
from audit_pipeline.export.connection_check import StepResult, check_connection
from audit_pipeline.export.connectors import Connector, enable_connector, pending_connector
from audit_pipeline.export.settings_fields import CheckedSettings, check_settings
from audit_pipeline.settings import Paths
from audit_pipeline.web.export_run_queue import ExportRunQueue, RunRequest
from audit_pipeline.web.read_audit import ReadAuditLog

SETTINGS_LOG_TYPE = "Settings"
EXPORT_CONFIGURED = "Audit Log Export Configured"
INTEGRATION_LOG_TYPE = "Integration"
CONNECTOR_ENABLED = "Connector Enabled"
CONNECTOR_KIND = "aws_role"
# Names the API's paths use for themselves (/api/v1/audit-log-exports/preview, ...): not for an export.
RESERVED_NAMES = frozenset({"preview", "connector", "connection-test"})
# The settings an edit may change, by the names the audit event gives them.
AUDITED_FIELDS = {"bucket": "s3_bucket", "region": "s3_region", "prefix": "s3_prefix",
                  "frequency_hours": "frequency_hours", "role_arn": "role_arn", "gzip": "gzip",
                  "enabled": "enabled"}

logger = logging.getLogger(__name__)


class ExportNotVisibleError(LookupError):
    """No export of that name in the admin's org (it may exist in another org: that is not said)."""

    def __init__(self, name: str, org_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no export named {name!r} in org {org_id}")
        self.name = name


class SettingsRejectedError(ValueError):
    """The settings break a rule; `errors` holds one message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Actor:
    """Who asks, and from where: recorded with every change."""

    user: User
    interface: str
    source_ip: str | None
    user_agent: str | None


def actor_of(request: Request, user: User, interface: str) -> Actor:
    return Actor(user, interface, request.client.host if request.client else None,
                 request.headers.get("user-agent"))


def settings_details(config: ExportConfig) -> dict[str, Any]:
    return {"export_name": config.name, "s3_bucket": config.bucket, "s3_region": config.region,
            "s3_prefix": config.prefix, "frequency_hours": config.frequency_hours, "role_arn": config.role_arn,
            "gzip": config.gzip, "enabled": config.enabled}


def changed_fields(before: ExportConfig, after: ExportConfig) -> dict[str, dict[str, Any]]:
    return {label: {"from": getattr(before, name), "to": getattr(after, name)}
            for name, label in AUDITED_FIELDS.items() if getattr(before, name) != getattr(after, name)}


def draft_config(checked: CheckedSettings, external_id: str, now: datetime) -> ExportConfig:
    """An unsaved configuration of valid settings, to test the connection with before saving."""
    settings = checked.settings
    assert settings is not None
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return ExportConfig(**values, external_id=external_id, enabled=True, created_at=now,
                        first_export_at=next_full_hour(now), config_id="unsaved")


class ExportSettingsService:
    def __init__(self, paths: Paths, clock: Callable[[], datetime], audit_log: ReadAuditLog,
                 runs: ExportRunQueue) -> None:
        self.paths = paths
        self.clock = clock
        self._audit_log = audit_log
        self.runs = runs

    # Reading

    def configs(self, org_id: str) -> list[ExportConfig]:
        return [config for config in list_configs(self.paths) if config.org_id == org_id]

    def config(self, org_id: str, name: str) -> ExportConfig:
        config = find_config(self.paths, name)
        if config is None or config.org_id != org_id:
            raise ExportNotVisibleError(name, org_id)
        return config

    def connector(self, org_id: str) -> Connector | None:
        return pending_connector(self.paths, org_id)

    def check(self, org_id: str, values: dict[str, Any], existing: ExportConfig | None) -> CheckedSettings:
        """Field-by-field validation; a new export's name must be free, an edit keeps its name."""
        if existing is not None:
            values = {**values, "name": existing.name}
        checked = check_settings(org_id, values)
        name = str(values.get("name") or "").strip()
        if existing is not None or "name" in checked.errors:
            return checked
        if name in RESERVED_NAMES:
            problem = f"{name!r} names a part of the settings API: choose another name"
        elif find_config(self.paths, name):
            problem = f"an export named {name!r} already exists: choose another name"
        else:
            return checked
        return CheckedSettings(None, {**checked.errors, "name": problem})

    def run_request(self, org_id: str, name: str, request_id: str) -> RunRequest | None:
        request = self.runs.get(request_id)
        return request if request and request.org_id == org_id and request.name == name else None

    # Changing

    def enable_connector(self, actor: Actor) -> Connector:
        connector, created = enable_connector(self.paths, actor.user.org_id, actor.user.email, self.clock())
        if created:
            self._record(actor, CONNECTOR_ENABLED, INTEGRATION_LOG_TYPE,
                         {"connector": CONNECTOR_KIND, "interface": actor.interface})
        return connector

    def test_connection(self, actor: Actor, values: dict[str, Any],
                        existing: ExportConfig | None) -> list[StepResult]:
        """Assume the role and write and remove a marker with these (unsaved) settings."""
        from audit_pipeline.export.aws import S3Destination

        checked, external_id = self._checked(actor, values, existing)
        config = draft_config(checked, external_id, self.clock())
        return check_connection(config, S3Destination(config), self.clock())

    def save(self, actor: Actor, values: dict[str, Any], existing: ExportConfig | None) -> ExportConfig:
        from audit_pipeline.export_runs import register_export_partition

        checked, external_id = self._checked(actor, values, existing)
        assert checked.settings is not None
        config, created = save_config(self.paths, checked.settings, self.clock(),
                                      external_id=None if existing else external_id)
        register_export_partition(self.paths, config.name)
        changes = {} if existing is None else changed_fields(existing, config)
        self._record_change(actor, "created" if created else "updated", config, changes)
        self._make_live()
        return config

    def set_enabled(self, actor: Actor, name: str, enabled: bool) -> ExportConfig:
        before = self.config(actor.user.org_id, name)
        after = set_enabled(self.paths, name, enabled)
        if before.enabled != after.enabled:
            self._record_change(actor, "enabled" if enabled else "disabled", after, changed_fields(before, after))
            self._make_live()
        return after

    def remove(self, actor: Actor, name: str) -> ExportConfig:
        from audit_pipeline.export_runs import remove_export_partition

        self.config(actor.user.org_id, name)
        removed = remove_config(self.paths, name)
        remove_export_partition(self.paths, name)
        details = {**settings_details(removed), "enabled": False}
        self._record(actor, EXPORT_CONFIGURED, SETTINGS_LOG_TYPE,
                     {"change": "removed", "interface": actor.interface, **details,
                      "changes": {"enabled": {"from": removed.enabled, "to": False}}})
        self._make_live()
        return removed

    def run_now(self, actor: Actor, name: str) -> tuple[RunRequest, bool]:
        config = self.config(actor.user.org_id, name)
        return self.runs.submit(config.name, config.org_id, actor.user.email)

    @staticmethod
    def _make_live() -> None:
        """Ask a running Dagster to reload, so the config's schedule follows the change without a restart.

        In the background: a webserver that is slow to reload must not hold the admin's request.
        """
        def reload() -> None:
            logger.info("%s", reload_code_locations().message)

        threading.Thread(target=reload, name="dagster-reload", daemon=True).start()

    def _checked(self, actor: Actor, values: dict[str, Any],
                 existing: ExportConfig | None) -> tuple[CheckedSettings, str]:
        """Valid settings and the external id they go with (an edit keeps its own), or SettingsRejectedError."""
        checked = self.check(actor.user.org_id, values, existing)
        errors = dict(checked.errors)
        connector = None if existing else self.connector(actor.user.org_id)
        if existing is None and connector is None:
            errors["connector"] = ("enable the AWS connector first: it generates the external id that the "
                                   "role's trust policy must hold")
        if errors:
            raise SettingsRejectedError(errors)
        external_id = existing.external_id if existing else connector.external_id if connector else ""
        return checked, external_id

    def _record_change(self, actor: Actor, change: str, config: ExportConfig,
                       changes: dict[str, dict[str, Any]]) -> None:
        self._record(actor, EXPORT_CONFIGURED, SETTINGS_LOG_TYPE,
                     {"change": change, "interface": actor.interface, **settings_details(config), "changes": changes})

    def _record(self, actor: Actor, action: str, log_type: str, details: dict[str, Any]) -> None:
        self._audit_log.record(actor.user, action, log_type=log_type, source_ip=actor.source_ip,
                               user_agent=actor.user_agent, details=details)
