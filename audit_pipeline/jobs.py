"""Jobs: ingestion plus everything derived from it, in one run; and the daily compaction and full checks."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.assets.groups import INGESTION, INVESTIGATION
from audit_pipeline.assets.ingestion import full_history_checks

INGEST_JOB = "ingest_job"
INVESTIGATION_COMPACTION_JOB = "investigation_compaction_job"
ROLLUP_ASSET = "audit_daily_rollup"

_FULL_HISTORY_CHECKS = dg.AssetSelection.checks(*full_history_checks)

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.groups(INGESTION, INVESTIGATION) - _FULL_HISTORY_CHECKS,
    description="Ingest the landing folder, update the investigation views from the new events.",
)

investigation_compaction_job = dg.define_asset_job(
    INVESTIGATION_COMPACTION_JOB,
    selection=dg.AssetSelection.assets(ROLLUP_ASSET).without_checks() | _FULL_HISTORY_CHECKS,
    config={"ops": {ROLLUP_ASSET: {"config": {"compact": True}}}},
    description="Rebuild the daily rollup compactly when appends have grown, and check the whole events table.",
)

defs = dg.Definitions(jobs=[ingest_job, investigation_compaction_job])
