"""An export configuration and the rules its fields must follow."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from audit_pipeline.domain.events import MAX_ID_CHARS

MIN_FREQUENCY_HOURS = 1
MAX_FREQUENCY_HOURS = 24
MAX_PREFIX_BYTES = 512
EXTERNAL_ID_BYTES = 32  # token_urlsafe(32) gives 43 characters

NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
ROLE_ARN_PATTERN = re.compile(
    r"arn:aws(?:-cn|-us-gov)?:iam::(?P<account>\d{12}):role/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})"
)
BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# IAM reads these in a policy's Resource as wildcards or variables, which would widen the permissions policy.
POLICY_SPECIAL_CHARACTERS = ("*", "?", "$")


class ExportConfigError(ValueError):
    """A configuration value breaks a rule; the message says which and how to fix it."""


@dataclass(frozen=True)
class ExportConfig:
    """Where and how often one org's events are exported."""

    name: str
    org_id: str
    bucket: str
    region: str
    prefix: str
    frequency_hours: int
    role_arn: str
    external_id: str
    gzip: bool
    enabled: bool
    created_at: datetime
    first_export_at: datetime
    config_id: str


@dataclass(frozen=True)
class ExportSettings:
    """What a user chooses when configuring an export; validated by `validate_settings`."""

    name: str
    org_id: str
    bucket: str
    region: str
    prefix: str
    frequency_hours: int
    role_arn: str
    gzip: bool = False


def validate_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ExportConfigError(
            f"export name {name!r} is not a slug: use 1-63 lowercase letters, digits and inner hyphens, "
            "e.g. acme-prod"
        )
    return name


def validate_org_id(org_id: str) -> str:
    if not org_id or len(org_id) > MAX_ID_CHARS:
        raise ExportConfigError(f"org id must be 1-{MAX_ID_CHARS} characters")
    if "/" in org_id or org_id in (".", "..") or CONTROL_CHARACTERS.search(org_id):
        raise ExportConfigError(
            f"org id {org_id!r} cannot name an S3 folder (org_id=<org>): "
            "no '/', control characters, '.' or '..'"
        )
    return org_id


def validate_bucket(bucket: str) -> str:
    """S3's general purpose bucket naming rules."""
    problem = None
    if not 3 <= len(bucket) <= 63:
        problem = "must be 3-63 characters long"
    elif not BUCKET_CHARS.fullmatch(bucket):
        problem = "may hold only lowercase letters, digits, dots and hyphens, and must start and end " \
                  "with a letter or digit"
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "may not have two dots in a row or a dot beside a hyphen"
    elif IP_ADDRESS.fullmatch(bucket):
        problem = "may not look like an IP address"
    elif bucket.startswith(RESERVED_BUCKET_PREFIXES):
        problem = f"may not start with {', '.join(RESERVED_BUCKET_PREFIXES)}"
    elif bucket.endswith(RESERVED_BUCKET_SUFFIXES):
        problem = f"may not end with {', '.join(RESERVED_BUCKET_SUFFIXES)}"
    if problem:
        raise ExportConfigError(f"bucket name {bucket!r} is not a valid S3 bucket name: it {problem}")
    return bucket


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region botocore knows S3 in, across the AWS partitions."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("s3", partition_name=partition))
    return frozenset(regions)


def validate_region(region: str) -> str:
    if region not in known_regions():
        raise ExportConfigError(
            f"region {region!r} is not an AWS region botocore knows, e.g. us-east-1 or eu-west-1"
        )
    return region


def normalize_prefix(prefix: str) -> str:
    """The prefix without leading/trailing '/', refused when a segment is empty, '.' or '..'."""
    if CONTROL_CHARACTERS.search(prefix):
        raise ExportConfigError("prefix may not hold control characters")
    for special in POLICY_SPECIAL_CHARACTERS:
        if special in prefix:
            raise ExportConfigError(
                f"prefix may not hold {special!r}: IAM would read it as a wildcard in the permissions policy"
            )
    normalized = prefix.strip("/")
    if not normalized:
        return ""
    for segment in normalized.split("/"):
        if segment in ("", ".", ".."):
            raise ExportConfigError(
                f"prefix {prefix!r} has an empty, '.' or '..' folder: write it as a/b/c"
            )
    if len(normalized.encode("utf-8")) > MAX_PREFIX_BYTES:
        raise ExportConfigError(f"prefix is longer than {MAX_PREFIX_BYTES} bytes")
    return normalized


def validate_role_arn(role_arn: str) -> str:
    if not ROLE_ARN_PATTERN.fullmatch(role_arn):
        raise ExportConfigError(
            f"role ARN {role_arn!r} is not an IAM role ARN: "
            "expected arn:aws:iam::<12-digit account>:role/<name>"
        )
    return role_arn


def validate_frequency(hours: int) -> int:
    if not MIN_FREQUENCY_HOURS <= hours <= MAX_FREQUENCY_HOURS:
        raise ExportConfigError(
            f"frequency must be a whole number of hours from {MIN_FREQUENCY_HOURS} to {MAX_FREQUENCY_HOURS}, "
            f"got {hours}"
        )
    return hours


def validate_settings(settings: ExportSettings) -> ExportSettings:
    """The same settings with the prefix normalized; raises ExportConfigError on the first bad field."""
    return ExportSettings(
        name=validate_name(settings.name),
        org_id=validate_org_id(settings.org_id),
        bucket=validate_bucket(settings.bucket),
        region=validate_region(settings.region),
        prefix=normalize_prefix(settings.prefix),
        frequency_hours=validate_frequency(settings.frequency_hours),
        role_arn=validate_role_arn(settings.role_arn),
        gzip=settings.gzip,
    )


def new_external_id() -> str:
    """A cryptographically random external id (43 URL-safe characters, all allowed by STS)."""
    return secrets.token_urlsafe(EXTERNAL_ID_BYTES)


def next_full_hour(moment: datetime) -> datetime:
    """The beginning of the next full UTC hour strictly after `moment`."""
    hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=1)
