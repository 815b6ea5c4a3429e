"""Landing-folder ingestion into the events table, with its data-quality checks."""


import logging
from pathlib import Path

import dagster as dg

from audit_pipeline.assets.groups import DUCKDB_POOL, INGESTION
from audit_pipeline.pipeline_runs import PROGRESS_LOGGER
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.ingest import IngestCounts, ingest_landing
from audit_pipeline.storage.reports import markdown_table

NO_DUPLICATE_IDS = "no_duplicate_event_ids_per_org"
NO_EVENT_WITHOUT_ORG = "no_event_without_org"
QUARANTINE_GROWTH = "quarantine_did_not_grow"


@dg.asset(
    group_name=INGESTION,
    kinds={"duckdb"},
    pool=DUCKDB_POOL,
    check_specs=[
        dg.AssetCheckSpec(NO_DUPLICATE_IDS, asset="audit_events",
                          description="Each (org_id, event_id) is stored once."),
        dg.AssetCheckSpec(NO_EVENT_WITHOUT_ORG, asset="audit_events",
                          description="Every stored event belongs to an org."),
        dg.AssetCheckSpec(QUARANTINE_GROWTH, asset="audit_events",
                          description="This run quarantined no record (WARN: look at the quarantine table)."),
    ],
)
def audit_events(context: dg.AssetExecutionContext, store: AuditStore) -> dg.MaterializeResult:
    """Validated audit events from the landing folder; invalid records go to the quarantine table."""
    paths = store.paths()

    def report(path: Path, counts: IngestCounts) -> None:
        message = (f"{path.name}: {counts.ingested} ingested, {counts.duplicates} duplicates, "
                   f"{counts.quarantined} quarantined so far")
        context.log.info(message)
        logging.getLogger(PROGRESS_LOGGER).info(message)

    with store.writer() as connection:
        counts = ingest_landing(connection, paths.landing, paths.archive, progress=report)
        total, orgs = connection.execute("SELECT count(*), count(DISTINCT org_id) FROM events").fetchone() or (0, 0)
        duplicate_keys = _scalar(connection.execute(
            "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY org_id, event_id HAVING count(*) > 1)"
        ).fetchone())
        without_org = _scalar(connection.execute(
            "SELECT count(*) FROM events WHERE org_id IS NULL OR org_id = ''"
        ).fetchone())
        quarantine_total = _scalar(connection.execute("SELECT count(*) FROM quarantine").fetchone())
        by_org = connection.execute(
            "SELECT org_id, count(*) AS events, max(ingest_seq) AS last_seq FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
        reasons = connection.execute(
            "SELECT reason_code, count(*) FROM quarantine GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "files_ingested": counts.files,
            "files_skipped_already_ingested": counts.files_skipped,
            "records_read": counts.records,
            "ingested": counts.ingested,
            "duplicates": counts.duplicates,
            "quarantined": counts.quarantined,
            "total_events": dg.MetadataValue.int(int(total)),
            "orgs": int(orgs),
            "quarantine_total": quarantine_total,
            "last_ingest_seq": counts.last_seq or 0,
            "events_by_org": dg.MetadataValue.md(markdown_table(("org_id", "events", "last_seq"), by_org)),
            "quarantine_by_reason": dg.MetadataValue.md(markdown_table(("reason", "records"), reasons)),
        },
        check_results=[
            dg.AssetCheckResult(check_name=NO_DUPLICATE_IDS, passed=duplicate_keys == 0,
                                metadata={"duplicated_keys": duplicate_keys}),
            dg.AssetCheckResult(check_name=NO_EVENT_WITHOUT_ORG, passed=without_org == 0,
                                metadata={"events_without_org": without_org}),
            dg.AssetCheckResult(check_name=QUARANTINE_GROWTH, passed=counts.quarantined == 0,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"quarantined_this_run": counts.quarantined,
                                          "quarantine_total": quarantine_total,
                                          "by_reason": dg.MetadataValue.json(counts.quarantine_reasons)}),
        ],
    )


def _scalar(row: tuple[object, ...] | None) -> int:
    return int(row[0]) if row and row[0] is not None else 0  # type: ignore[call-overload]


defs = dg.Definitions(assets=[audit_events])
