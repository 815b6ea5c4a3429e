"""Jobs: ingestion plus everything derived from it, in one run."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.assets.groups import INGESTION, INVESTIGATION

INGEST_JOB = "ingest_job"

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.groups(INGESTION, INVESTIGATION),
    description="Ingest the landing folder, refresh the investigation views.",
)

defs = dg.Definitions(jobs=[ingest_job])
