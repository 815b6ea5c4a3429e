"""`audit-pipeline export replay NAME --since T --until T [--reason TEXT]`: re-deliver a past range."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from typing import Any

from audit_pipeline.cli.output import CliError, add_format_flag, print_json
from audit_pipeline.export.config_store import ExportNotFoundError, get_config
from audit_pipeline.export.replay import ReplayError, new_replay_id, replay_request
from audit_pipeline.settings import paths_from_env

REPLAY_ASSET = "audit_log_replay"


def register(actions: Any) -> None:
    replay = actions.add_parser(
        "replay", help="re-deliver the org's events of a past occurred_at range under audit-logs-replay/",
        description="Writes the events with since <= occurred_at < until to "
        "[<prefix>/]audit-logs-replay/<replay-id>/ through the export's role, as a Dagster run. The "
        "scheduled exports (their windows, keys and exactly-once delivery) are not touched.",
    )
    replay.add_argument("name", help="the export's name")
    replay.add_argument("--since", required=True, help="start, inclusive: 2026-11-20 or 2026-11-20T10:00:00Z")
    replay.add_argument("--until", required=True, help="end, exclusive, same forms as --since")
    replay.add_argument("--reason", default="", help="why, recorded in the audit event and the run")
    add_format_flag(replay)
    replay.set_defaults(handler=handle_replay)


def parse_moment(flag: str, text: str) -> datetime:
    """A date means its midnight UTC; a time needs an offset (Z or +hh:mm) so nobody guesses a zone."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise CliError(f"{flag} {text!r} is not a date or RFC 3339 time, e.g. 2026-11-20T10:00:00Z") from error
    if moment.tzinfo is None:
        raise CliError(f"{flag} {text!r} needs a UTC offset, e.g. {text}Z")
    return moment.astimezone(UTC)


def handle_replay(args: argparse.Namespace) -> int:
    from audit_pipeline.assets.export_replay import REPLAY_JOB, REPLAY_TAG
    from audit_pipeline.pipeline_runs import PipelineRunError, execute_job, materialization_metadata

    paths = paths_from_env().ensure()
    since, until = parse_moment("--since", args.since), parse_moment("--until", args.until)
    try:
        config = get_config(paths, args.name)
        request = replay_request(since, until, new_replay_id(), args.reason)
    except (ExportNotFoundError, ReplayError) as error:
        raise CliError(str(error).strip("'\"")) from error
    run_config = {"ops": {REPLAY_ASSET: {"config": {
        "name": config.name, "since": request.since.isoformat(), "until": request.until.isoformat(),
        "replay_id": request.replay_id, "reason": request.reason,
    }}}}
    try:
        result = execute_job(paths, REPLAY_JOB, run_config=run_config,
                             tags={REPLAY_TAG: config.name, "audit_pipeline/trigger": "cli"})
    except PipelineRunError as error:
        raise CliError(f"replay of {config.name} failed: {error}", exit_code=1) from error
    metadata = materialization_metadata(result, REPLAY_ASSET)
    out = {"run_id": result.run_id, "bucket": config.bucket,
           **{key: metadata[key] for key in ("name", "replay_id", "since", "until", "reason", "folder",
                                             "events_replayed", "objects")}}
    if args.format == "json":
        print_json(out)
        return 0
    print(f"replay {out['replay_id']} of {config.name} (run {result.run_id}): {out['events_replayed']} events "
          f"with {out['since']} <= occurred_at < {out['until']} to s3://{config.bucket}/{out['folder']}/")
    for item in out["objects"]:
        print(f"  s3://{config.bucket}/{item['key']}  {item['bytes']} bytes  sha256 {item['sha256']}")
    return 0
