"""Every field of an export's settings checked on its own, so a form can show each problem beside its field.

The rules are those of `config.validate_settings` (the CLI's), applied field by field instead of stopping at
the first bad one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audit_pipeline.export.config import (
    MAX_FREQUENCY_HOURS,
    MIN_FREQUENCY_HOURS,
    ExportConfigError,
    ExportSettings,
    normalize_prefix,
    validate_bucket,
    validate_frequency,
    validate_name,
    validate_org_id,
    validate_region,
    validate_role_arn,
)

FIELDS = ("name", "bucket", "region", "prefix", "frequency_hours", "role_arn", "gzip")


@dataclass(frozen=True)
class CheckedSettings:
    """The settings when every field is valid (prefix normalized), otherwise the message of each bad field."""

    settings: ExportSettings | None
    errors: dict[str, str] = field(default_factory=dict)


def parse_frequency(value: object) -> int:
    if isinstance(value, bool):
        raise ExportConfigError("frequency must be a whole number of hours")
    if isinstance(value, int):
        return validate_frequency(value)
    text = str(value).strip()
    if not text.isdigit():
        raise ExportConfigError(
            f"frequency must be a whole number of hours from {MIN_FREQUENCY_HOURS} to {MAX_FREQUENCY_HOURS}, "
            f"got {text!r}"
        )
    return validate_frequency(int(text))


def _text(value: object) -> str:
    return str(value).strip() if value is not None else ""


def check_settings(org_id: str, values: dict[str, Any]) -> CheckedSettings:
    """Check `values` (name, bucket, region, prefix, frequency_hours, role_arn, gzip) for org `org_id`."""
    checks: dict[str, tuple[Callable[[Any], Any], Any]] = {
        "org_id": (validate_org_id, org_id),
        "name": (validate_name, _text(values.get("name"))),
        "bucket": (validate_bucket, _text(values.get("bucket"))),
        "region": (validate_region, _text(values.get("region"))),
        "prefix": (normalize_prefix, _text(values.get("prefix"))),
        "frequency_hours": (parse_frequency, values.get("frequency_hours", "")),
        "role_arn": (validate_role_arn, _text(values.get("role_arn"))),
    }
    checked: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (check, value) in checks.items():
        try:
            checked[name] = check(value)
        except ExportConfigError as error:
            errors[name] = str(error)
    if errors:
        return CheckedSettings(None, errors)
    return CheckedSettings(ExportSettings(**checked, gzip=bool(values.get("gzip"))))
