"""Start ingestion when files arrive in the landing folder or under the S3 landing prefix."""


import time

import dagster as dg
from dagster_aws.s3 import S3Resource

from audit_pipeline.jobs import ingest_job
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.landing_area import pending
from audit_pipeline.storage.s3_landing import landing_from_env


@dg.sensor(job=ingest_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext, store: AuditStore, landing_s3: S3Resource) -> dg.SensorResult:
    """Requests an ingestion run whenever the set of files or objects waiting to be ingested changes.

    The cursor is a fingerprint of what waits; ingested files and objects leave the landing area, so a run
    that ingested everything brings the cursor back to empty. Audited page reads alone wait to be batched
    (see `audit_pipeline.storage.landing_batches`)."""
    landing = store.paths().landing
    s3 = landing_from_env()
    waiting = pending(landing, s3, landing_s3.get_client() if s3 is not None else None)
    if not waiting:
        where = "the landing folder" + (f" and {s3.url}" if s3 is not None else "")
        return dg.SensorResult(skip_reason=f"nothing waits in {where}", cursor="")
    reason = waiting.waiting_reason(landing, now=time.time())
    if reason is not None:
        return dg.SensorResult(skip_reason=reason)
    cursor = waiting.fingerprint()
    if cursor == context.cursor:
        return dg.SensorResult(skip_reason="an ingestion run for these files was already requested")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=cursor, tags={"audit_pipeline/trigger": "landing_sensor"})],
        cursor=cursor,
    )


defs = dg.Definitions(sensors=[landing_sensor])
