"""Start ingestion when files arrive in the landing folder."""


import hashlib
import time

import dagster as dg

from audit_pipeline.jobs import ingest_job
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.ingest import pending_landing_files
from audit_pipeline.storage.landing_batches import reads_waiting_reason


@dg.sensor(job=ingest_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext, store: AuditStore) -> dg.SensorResult:
    """Requests an ingestion run whenever the set of files waiting in the landing folder changes.

    Audited page reads alone wait to be batched (see `audit_pipeline.storage.landing_batches`)."""
    landing = store.paths().landing
    pending = pending_landing_files(landing)
    if not pending:
        return dg.SensorResult(skip_reason="the landing folder is empty", cursor="")
    waiting = reads_waiting_reason(pending, landing, now=time.time())
    if waiting is not None:
        return dg.SensorResult(skip_reason=waiting)
    fingerprint = hashlib.sha256()
    for path in pending:
        stat = path.stat()
        fingerprint.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    cursor = fingerprint.hexdigest()
    if cursor == context.cursor:
        return dg.SensorResult(skip_reason="an ingestion run for these files was already requested")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=cursor, tags={"audit_pipeline/trigger": "landing_sensor"})],
        cursor=cursor,
    )


defs = dg.Definitions(sensors=[landing_sensor])
