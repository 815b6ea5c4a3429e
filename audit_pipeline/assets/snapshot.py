"""The readers' copy of the database, published after ingestion and the investigation views."""


import dagster as dg

from audit_pipeline.assets.groups import DUCKDB_POOL, INVESTIGATION
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.database import publish_reader_snapshot

INVESTIGATION_ASSETS = ("audit_events", "audit_log", "audit_summary", "audit_daily_rollup", "login_activity",
                        "scan_activity", "suspicious_activity")


@dg.asset(group_name=INVESTIGATION, kinds={"duckdb"}, pool=DUCKDB_POOL, deps=list(INVESTIGATION_ASSETS))
def reader_snapshot(store: AuditStore) -> dg.MaterializeResult:
    """A consistent copy of the database that the CLI, the page and notebooks read, so they never wait on a writer."""
    paths = store.paths()
    with store.writer() as connection:
        size = publish_reader_snapshot(connection, paths.database, paths.reader_database)
        total = connection.execute("SELECT count(*) FROM events").fetchone()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(paths.reader_database)),
        "bytes": size,
        "total_events": int(total[0]) if total else 0,
    })


defs = dg.Definitions(assets=[reader_snapshot])
