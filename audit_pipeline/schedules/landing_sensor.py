"""Start ingestion when files arrive in the landing folder."""


import hashlib

import dagster as dg

from audit_pipeline.jobs import ingest_job
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.ingest import pending_landing_files


@dg.sensor(job=ingest_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext, store: AuditStore) -> dg.SensorResult:
    """Requests an ingestion run whenever the set of files waiting in the landing folder changes."""
    pending = pending_landing_files(store.paths().landing)
    if not pending:
        return dg.SensorResult(skip_reason="the landing folder is empty", cursor="")
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
