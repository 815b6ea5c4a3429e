"""Replays of a past range of an org's events, each a run of `audit_log_replay_job` in Dagster's history."""

from datetime import datetime

import dagster as dg

from audit_pipeline.assets.export import export_metadata_json
from audit_pipeline.assets.groups import EXPORT
from audit_pipeline.export.config_store import find_config
from audit_pipeline.export.errors import ExportDeliveryError
from audit_pipeline.export.replay import ReplayError, replay_request, run_replay
from audit_pipeline.export.replay_audit import land_replay_event, replay_event
from audit_pipeline.resources.aws import S3ExportResource
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.storage.reports import markdown_table

REPLAY_JOB = "audit_log_replay_job"
REPLAY_TAG = "audit_pipeline/export_replay"


class ReplayConfig(dg.Config):  # type: ignore[misc]
    """What to replay: the export's name, the half-open occurred_at range (RFC 3339), why, and its id."""

    name: str
    since: str
    until: str
    replay_id: str
    reason: str = ""


@dg.asset(group_name=EXPORT, kinds={"s3", "duckdb"}, deps=[dg.AssetKey("audit_events")])
def audit_log_replay(
    context: dg.AssetExecutionContext, config: ReplayConfig, store: AuditStore, s3_export: S3ExportResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """A re-delivery of an org's events of a past range under audit-logs-replay/, apart from the stream."""
    paths = store.paths()
    export = find_config(paths, config.name)
    if export is None:
        raise dg.Failure(description=f"export {config.name!r} is not configured: nothing was replayed")
    try:
        request = replay_request(datetime.fromisoformat(config.since), datetime.fromisoformat(config.until),
                                 config.replay_id, config.reason)
        result = run_replay(paths, export, s3_export.destination(export), request,
                            part_bytes=s3_export.resolved_part_bytes())
    except ReplayError as error:
        raise dg.Failure(description=f"replay of {config.name!r} refused: {error}") from error
    except ExportDeliveryError as error:
        raise dg.Failure(description=f"replay of {config.name!r} failed at step {error.step}: {error}",
                         metadata={"step": error.step}) from error
    land_replay_event(paths, replay_event(result, run_id=context.run.run_id))
    summary = result.summary()
    context.log.info(f"replay {request.replay_id} of {export.name}: {result.events} events to "
                     f"s3://{export.bucket}/{result.folder}/")
    return dg.MaterializeResult(metadata={
        **{key: summary[key] for key in ("name", "replay_id", "since", "until", "reason", "folder")},
        "config": export_metadata_json(export),
        "events_replayed": dg.MetadataValue.int(result.events),
        "objects": dg.MetadataValue.json(summary["objects"]),
        "objects_table": dg.MetadataValue.md(markdown_table(
            ("key", "bytes", "sha256", "events"), [(o.key, o.bytes, o.sha256, o.events) for o in result.objects],
        )),
    })


audit_log_replay_job = dg.define_asset_job(
    REPLAY_JOB, selection=[audit_log_replay],
    description="Re-deliver one export's events of a past occurred_at range under audit-logs-replay/.",
)

defs = dg.Definitions(assets=[audit_log_replay], jobs=[audit_log_replay_job])
