"""`export test`: can we assume the customer's role and write below their prefix? Step by step.

The marker written below `<prefix>/_connection-test/` is removed again, so a test leaves nothing behind.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.errors import ASSUME_ROLE_STEP, REMOVE_MARKER_STEP, ExportDeliveryError
from audit_pipeline.export.layout import connection_test_key

WRITE_MARKER_STEP = "write-marker"


class MarkerDestination(Protocol):
    def assume_role(self) -> None: ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def delete_object(self, key: str) -> None: ...


@dataclass(frozen=True)
class StepResult:
    step: str
    ok: bool
    detail: str


def check_connection(
    config: ExportConfig, destination: MarkerDestination, now: datetime | None = None
) -> list[StepResult]:
    """Run the steps in order and stop at the first failure, which names its cause."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    results: list[StepResult] = []
    try:
        destination.assume_role()
    except ExportDeliveryError as error:
        return [StepResult(ASSUME_ROLE_STEP, False, str(error))]
    results.append(StepResult(ASSUME_ROLE_STEP, True, f"assumed {config.role_arn} with the external id"))
    key = connection_test_key(config.prefix, now, secrets.token_hex(4))
    body = (f"audit-pipeline connection test for export {config.name} at "
            f"{now.isoformat().replace('+00:00', 'Z')}\n").encode()
    try:
        destination.put_bytes(key, body, content_type="text/plain")
    except ExportDeliveryError as error:
        results.append(StepResult(WRITE_MARKER_STEP, False, str(error)))
        return results
    results.append(StepResult(WRITE_MARKER_STEP, True, f"wrote s3://{config.bucket}/{key}"))
    try:
        destination.delete_object(key)
    except ExportDeliveryError as error:
        results.append(StepResult(REMOVE_MARKER_STEP, False, str(error)))
        return results
    results.append(StepResult(REMOVE_MARKER_STEP, True, f"removed s3://{config.bucket}/{key}"))
    return results
