"""The investigation views' daily compaction and full-history checks, at a quiet hour."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.jobs import investigation_compaction_job

DAILY_AT_0247 = "47 2 * * *"

investigation_compaction_schedule = dg.ScheduleDefinition(
    name="investigation_compaction_daily",
    job=investigation_compaction_job,
    cron_schedule=DAILY_AT_0247,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Compact the daily rollup and check the whole events table, every day at 02:47 UTC.",
)

defs = dg.Definitions(schedules=[investigation_compaction_schedule])
