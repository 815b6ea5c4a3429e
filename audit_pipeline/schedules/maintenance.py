"""Lake maintenance once a day, at a quiet hour, as a job so each run is in the run history."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.assets.maintenance import lake_maintenance

LAKE_MAINTENANCE_JOB = "lake_maintenance_job"
DAILY_AT_0317 = "17 3 * * *"

lake_maintenance_job = dg.define_asset_job(
    LAKE_MAINTENANCE_JOB,
    selection=dg.AssetSelection.assets(lake_maintenance),
    description="Flush inlined rows, merge small files, expire old snapshots, delete unreferenced files.",
)

lake_maintenance_schedule = dg.ScheduleDefinition(
    name="lake_maintenance_daily",
    job=lake_maintenance_job,
    cron_schedule=DAILY_AT_0317,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Lake maintenance every day at 03:17 UTC.",
)

defs = dg.Definitions(jobs=[lake_maintenance_job], schedules=[lake_maintenance_schedule])
