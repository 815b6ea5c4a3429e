"""Export configurations for the benchmark, and the customer side of them in the local AWS sandbox."""

from __future__ import annotations

from datetime import datetime

from audit_pipeline.export.bookkeeping import PlannedExport, plan_or_resume
from audit_pipeline.export.config import ExportConfig, ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.export.files import WrittenPart, remove_staging, write_parts
from audit_pipeline.export.policies import permissions_policy, read_policy
from audit_pipeline.export.runner import DEFAULT_PART_BYTES
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

ACCOUNT = "123456789012"  # moto's account
BUCKET = "benchmark-audit-export"
REGION = "us-east-1"
PREFIX = "bench"


def configure_export(paths: Paths, name: str, org_id: str, *, gzip: bool,
                     sandbox: LocalAwsSandbox | None = None, readable: bool = False) -> ExportConfig:
    """Save a config as `export configure` does; with a sandbox, also create the role the customer would.

    `readable`: the customer also attached the optional read policy, so the export's checks read the objects back.
    """
    role_name = f"{name}-role"
    config, _ = save_config(paths, ExportSettings(
        name=name, org_id=org_id, bucket=BUCKET, region=REGION, prefix=PREFIX, frequency_hours=1,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/{role_name}", gzip=gzip,
    ))
    if sandbox is not None:
        if BUCKET not in sandbox.bucket_regions:
            sandbox.create_bucket(BUCKET, REGION)
        permissions = permissions_policy(BUCKET, PREFIX)
        if readable:
            permissions["Statement"] += read_policy(BUCKET, PREFIX)["Statement"]
        sandbox.create_customer_role(role_name, external_id=config.external_id, bucket=BUCKET, prefix=PREFIX,
                                     permissions=permissions)
    return config


def write_local_parts(paths: Paths, config: ExportConfig, *, run_id: str,
                      now: datetime | None = None) -> tuple[PlannedExport, list[WrittenPart]]:
    """The local-file half of `run_export`: plan the export and write its part files into staging."""
    with database.writer(paths) as connection:
        plan = plan_or_resume(connection, config, part_bytes=DEFAULT_PART_BYTES, run_id=run_id, now=now)
        parts = write_parts(connection, plan, paths.export_staging)
    return plan, parts


def discard_local_parts(paths: Paths, plan: PlannedExport) -> None:
    remove_staging(paths.export_staging, plan)


def org_event_counts(paths: Paths) -> dict[str, int]:
    with database.writer(paths) as connection:
        rows = connection.execute("SELECT org_id, count(*) FROM events GROUP BY org_id ORDER BY org_id").fetchall()
    return {str(org): int(count) for org, count in rows}
