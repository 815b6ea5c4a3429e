"""A replay becomes an audit event of the org: a System event landed for ingestion like any other."""

from __future__ import annotations

from datetime import UTC, datetime

from audit_pipeline.domain.events import SYSTEM_LOG_TYPE, AuditEvent
from audit_pipeline.export.replay import ReplayResult
from audit_pipeline.settings import Paths
from audit_pipeline.storage.landing_writer import land_event_file

REPLAY_ACTION = "Audit Log Replay"
LANDING_SUBFOLDER = "export-replays"


def replay_event(result: ReplayResult, *, run_id: str, at: datetime | None = None) -> AuditEvent:
    """Its id derives from the replay id, so landing it twice still records one replay."""
    summary = result.summary()
    return AuditEvent(
        event_id=f"audit-log-replay-{result.request.replay_id}",
        org_id=result.config.org_id,
        occurred_at=(at or datetime.now(UTC)),
        log_type=SYSTEM_LOG_TYPE,
        action=REPLAY_ACTION,
        additional_info={
            "export_config": result.config.name, "replay_id": result.request.replay_id,
            "range": {"since": summary["since"], "until": summary["until"]},
            "reason": result.request.reason or None, "events_replayed": result.events,
            "objects": len(result.objects), "folder": result.folder, "run_id": run_id,
        },
    )


def land_replay_event(paths: Paths, event: AuditEvent) -> None:
    """Completed outside the landing folder and renamed in, so ingestion never sees half a file."""
    land_event_file(paths.landing, LANDING_SUBFOLDER, paths.export_staging / "replay-events",
                    f"{event.event_id}.jsonl", event.model_dump_json(exclude_none=True) + "\n")
