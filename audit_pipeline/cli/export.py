"""`audit-pipeline export`: configure, inspect, test and run the exports of audit events to S3."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from audit_pipeline.cli import export_replay
from audit_pipeline.cli.dagster_reload import announce_reload
from audit_pipeline.cli.export_health import health_fields, health_line, healths
from audit_pipeline.cli.export_verify import register_verify
from audit_pipeline.cli.output import CliError, add_format_flag, print_json
from audit_pipeline.dagster_home import ensure_dagster_home
from audit_pipeline.export.config import ExportConfig, ExportConfigError, ExportSettings
from audit_pipeline.export.config_store import (
    ExportNotFoundError,
    get_config,
    list_configs,
    remove_config,
    save_config,
    set_enabled,
)
from audit_pipeline.export.policies import partition_of, permissions_policy, read_policy, trust_policy
from audit_pipeline.export.timing import next_export_at
from audit_pipeline.settings import Paths, paths_from_env

EXPORT_ASSET = "audit_log_export"


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "export", help="export audit events to a customer's S3 bucket through an assumed IAM role",
        description="Exports deliver each org's events exactly once as JSON lines files to the customer's "
        "bucket, on a schedule (every 1-24 h on full UTC hours) or on demand.",
    )
    actions = parser.add_subparsers(dest="export_command", required=True, metavar="ACTION",
                                    parser_class=type(parser))

    configure = actions.add_parser("configure", help="create or edit an export; prints the IAM policies")
    configure.add_argument("--name", required=True, help="a slug naming the export, e.g. acme-prod")
    configure.add_argument("--org", required=True, dest="org_id", help="the org whose events are exported")
    configure.add_argument("--bucket", required=True, help="the customer's S3 bucket")
    configure.add_argument("--region", required=True, help="the bucket's AWS region, e.g. eu-west-1")
    configure.add_argument("--prefix", default="", help="optional folder inside the bucket")
    configure.add_argument("--frequency-hours", required=True, type=int, help="hours between exports, 1-24")
    configure.add_argument("--role-arn", required=True, help="the role the customer created for the export")
    configure.add_argument("--gzip", action="store_true", help="write .json.gz files")
    add_format_flag(configure)
    configure.set_defaults(handler=handle_configure)

    listing = actions.add_parser("list", help="every export with its next run time")
    add_format_flag(listing)
    listing.set_defaults(handler=handle_list)

    for action, help_text, handler in (
        ("show", "an export's settings, policies, last outcome and next run", handle_show),
        ("test", "assume the role, write and remove a marker under <prefix>/_connection-test/", handle_test),
        ("run", "export now (a Dagster run, in the run history)", handle_run),
        ("enable", "resume scheduled exports", handle_enable),
        ("disable", "pause scheduled exports (nothing is lost: the next export catches up)", handle_disable),
        ("remove", "delete the export's configuration (its files in the bucket stay)", handle_remove),
    ):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("name", help="the export's name")
        add_format_flag(sub)
        sub.set_defaults(handler=handler)
    export_replay.register(actions)
    register_verify(actions)


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (ExportConfigError, ExportNotFoundError) as error:
        raise CliError(str(error).strip("'\"")) from error


def _paths() -> Paths:
    return paths_from_env().ensure()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def config_view(config: ExportConfig, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "name": config.name, "org_id": config.org_id, "bucket": config.bucket, "region": config.region,
        "prefix": config.prefix, "frequency_hours": config.frequency_hours, "role_arn": config.role_arn,
        "external_id": config.external_id, "gzip": config.gzip, "enabled": config.enabled,
        "created_at": _iso(config.created_at), "first_export_at": _iso(config.first_export_at),
        "next_export_at": _iso(next_export_at(config.first_export_at, config.frequency_hours, now))
        if config.enabled else None,
    }


def policies(config: ExportConfig) -> dict[str, Any]:
    return {
        "trust_policy": trust_policy(config.external_id),
        "permissions_policy": permissions_policy(config.bucket, config.prefix, partition_of(config.role_arn)),
        "read_policy": read_policy(config.bucket, config.prefix, partition_of(config.role_arn)),
    }


def _add_partition(paths: Paths, name: str) -> None:
    from audit_pipeline.export_runs import register_export_partition

    register_export_partition(paths, name)


def handle_configure(args: argparse.Namespace) -> int:
    paths = _paths()
    settings = ExportSettings(
        name=args.name, org_id=args.org_id, bucket=args.bucket, region=args.region, prefix=args.prefix,
        frequency_hours=args.frequency_hours, role_arn=args.role_arn, gzip=args.gzip,
    )
    with _user_errors():
        config, created = save_config(paths, settings)
    _add_partition(paths, config.name)
    out = {"name": config.name, "external_id": config.external_id, **policies(config),
           "first_export_at": _iso(config.first_export_at)}
    if args.format == "json":
        print_json(out)
        announce_reload(args)
        return 0
    verb = "created" if created else "updated (external id kept)"
    print(f"export {config.name} {verb}: org {config.org_id} -> s3://{config.bucket}/{config.prefix} "
          f"({config.region}) every {config.frequency_hours} h, first at {out['first_export_at']}")
    print(f"\nexternal id: {config.external_id}")
    print("\ntrust policy of the role (who may assume it):")
    print(json.dumps(out["trust_policy"], indent=2))
    print("\npermissions policy of the role (what it may do):")
    print(json.dumps(out["permissions_policy"], indent=2))
    print("\noptional read policy, only for `export verify` (list and read the export and digest folders):")
    print(json.dumps(out["read_policy"], indent=2))
    print(f"\ncheck it with: audit-pipeline export test {config.name}")
    announce_reload(args)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    paths = _paths()
    stored = list_configs(paths)
    health = healths(paths, stored)
    configs = [{**config_view(c), **health_fields(health[c.name])} for c in stored]
    if args.format == "json":
        print_json(configs)
        return 0
    if not configs:
        print("no exports configured (audit-pipeline export configure --help)")
        return 0
    columns = ("name", "org_id", "bucket", "region", "prefix", "frequency_hours", "enabled", "next_export_at",
               "state", "lag", "consecutive_failures")
    rows = [{**view, "lag": lag_text(view["lag_seconds"])} for view in configs]
    widths = {c: max(len(c), *(len(str(v[c])) for v in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    return 0


def lag_text(seconds: float | None) -> str:
    """The lag as a person reads it in a table (JSON keeps `lag_seconds`)."""
    if seconds is None:
        return "-"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def last_outcome(paths: Paths, name: str) -> dict[str, Any] | None:
    """The newest export run of this config in Dagster's run history, with its materialization if any."""
    import dagster as dg

    from audit_pipeline.assets.export import EXPORT_CONFIG_TAG

    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={EXPORT_CONFIG_TAG: name}), limit=1)
        if not records:
            return None
        record = records[0]
        run = record.dagster_run
        outcome: dict[str, Any] = {
            "run_id": run.run_id,
            "status": run.status.value,
            "started_at": _iso(datetime.fromtimestamp(record.start_time, UTC)) if record.start_time else None,
            "ended_at": _iso(datetime.fromtimestamp(record.end_time, UTC)) if record.end_time else None,
        }
        failures = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if failures and failures[0].dagster_event and failures[0].dagster_event.step_failure_data:
            error = failures[0].dagster_event.step_failure_data.error
            outcome["error"] = error.message.strip() if error else None
        materializations = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(EXPORT_ASSET), asset_partitions=[name]), limit=1
        ).records
        if materializations and materializations[0].asset_materialization:
            metadata = materializations[0].asset_materialization.metadata
            outcome["last_successful_export"] = {
                key: metadata[key].value for key in (
                    "export_number", "window_from_seq", "window_to_seq", "previous_cutoff", "cutoff",
                    "events_exported", "objects",
                ) if key in metadata
            }
            outcome["last_successful_export"]["run_id"] = materializations[0].run_id
    return outcome


def handle_show(args: argparse.Namespace) -> int:
    paths = _paths()
    with _user_errors():
        config = get_config(paths, args.name)
    health = healths(paths, [config])[config.name]
    out = {"config": config_view(config), "health": health_fields(health),
           **policies(config), "last_export": last_outcome(paths, config.name)}
    if args.format == "json":
        print_json(out)
        return 0
    for key, value in out["config"].items():
        print(f"{key:16} {value}")
    print(f"{'health':16} {health_line(health)}")
    last = out["last_export"]
    if last is None:
        print("last export      none yet")
    else:
        when = last["ended_at"] or last["started_at"]
        print(f"last export      run {last['run_id']} {last['status']} at {when}")
        if last.get("error"):
            print(f"  error: {last['error']}")
        done = last.get("last_successful_export")
        if done:
            print(f"last delivered   #{done.get('export_number')}: {done.get('events_exported')} events, "
                  f"cutoff {done.get('cutoff')}")
            for item in done.get("objects", []):
                print(f"  s3://{config.bucket}/{item['key']} "
                      f"({item['bytes']} bytes, sha256 {item['sha256']})")
    print("\ntrust policy:\n" + json.dumps(out["trust_policy"], indent=2))
    print("permissions policy:\n" + json.dumps(out["permissions_policy"], indent=2))
    print("optional read policy (export verify, and the objects_as_planned check after each export):\n"
          + json.dumps(out["read_policy"], indent=2))
    return 0


def handle_test(args: argparse.Namespace) -> int:
    from audit_pipeline.export.aws import S3Destination
    from audit_pipeline.export.connection_check import check_connection

    paths = _paths()
    with _user_errors():
        config = get_config(paths, args.name)
    steps = check_connection(config, S3Destination(config))
    ok = all(step.ok for step in steps)
    if args.format == "json":
        print_json({"name": config.name, "ok": ok,
                    "steps": [{"step": s.step, "ok": s.ok, "detail": s.detail} for s in steps]})
    else:
        for step in steps:
            print(f"{'ok  ' if step.ok else 'FAIL'} {step.step}: {step.detail}")
    return 0 if ok else 1


def handle_run(args: argparse.Namespace) -> int:
    from audit_pipeline.export_runs import run_export_now
    from audit_pipeline.pipeline_runs import PipelineRunError

    paths = _paths()
    with _user_errors():
        config = get_config(paths, args.name)
    try:
        result = run_export_now(paths, config.name, trigger="cli")
    except PipelineRunError as error:
        raise CliError(f"export {config.name} failed: {error}", exit_code=1) from error
    metadata = result.metadata
    out = {
        "name": config.name,
        "run_id": result.run_id,
        "export_number": metadata["export_number"],
        "window": {"from_seq": metadata["window_from_seq"], "to_seq": metadata["window_to_seq"],
                   "previous_cutoff": metadata["previous_cutoff"] or None, "cutoff": metadata["cutoff"]},
        "events_exported": metadata["events_exported"],
        "retry_of_planned_export": metadata["retry_of_planned_export"],
        "bucket": config.bucket,
        "object_keys": metadata["object_keys"],
        "objects": metadata["objects"],
        "digest_key": metadata.get("digest_key") or None,
    }
    if args.format == "json":
        print_json(out)
        return 0
    window = out["window"]
    print(f"export {config.name} #{out['export_number']} (run {result.run_id}): "
          f"{out['events_exported']} events, "
          f"ingest_seq {window['from_seq']} < seq <= {window['to_seq']}, "
          f"cutoff {window['cutoff']} (previous {window['previous_cutoff'] or 'none'})")
    for item in out["objects"]:
        print(f"  s3://{config.bucket}/{item['key']}  {item['bytes']} bytes  sha256 {item['sha256']}")
    if out["digest_key"]:
        print(f"  signed digest s3://{config.bucket}/{out['digest_key']}")
    return 0


def _toggle(args: argparse.Namespace, enabled: bool) -> int:
    with _user_errors():
        config = set_enabled(_paths(), args.name, enabled)
    view = config_view(config)
    if args.format == "json":
        print_json(view)
    else:
        state = f"enabled; next export at {view['next_export_at']}" if enabled else "disabled"
        print(f"export {config.name} {state}")
    announce_reload(args)
    return 0


def handle_enable(args: argparse.Namespace) -> int:
    return _toggle(args, True)


def handle_disable(args: argparse.Namespace) -> int:
    return _toggle(args, False)


def handle_remove(args: argparse.Namespace) -> int:
    from audit_pipeline.export_runs import remove_export_partition

    paths = _paths()
    with _user_errors():
        config = remove_config(paths, args.name)
    remove_export_partition(paths, config.name)
    out = {"name": config.name, "removed": True}
    if args.format == "json":
        print_json(out)
    else:
        sys.stdout.write(f"export {config.name} removed; files already in s3://{config.bucket} stay\n")
    announce_reload(args)
    return 0

