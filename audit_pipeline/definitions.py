"""Everything Dagster loads: the merge of each area's definitions, with resources bound in one place."""

from __future__ import annotations

import dagster as dg

from audit_pipeline import jobs
from audit_pipeline.assets import (
    export,
    export_checks,
    export_digest_check,
    export_replay,
    ingestion,
    investigation,
    maintenance,
)
from audit_pipeline.resources import default_resources
from audit_pipeline.schedules import compaction as compaction_schedule
from audit_pipeline.schedules import export_alerts, export_partitions, export_schedules, landing_sensor
from audit_pipeline.schedules import maintenance as maintenance_schedule

defs = dg.Definitions.merge(
    ingestion.defs,
    investigation.defs,
    jobs.defs,
    landing_sensor.defs,
    export.defs,
    export_replay.defs,
    export_checks.defs,
    export_digest_check.defs,
    export_schedules.defs,
    export_partitions.defs,
    export_alerts.defs,
    maintenance.defs,
    maintenance_schedule.defs,
    compaction_schedule.defs,
    dg.Definitions(resources=default_resources()),
)
