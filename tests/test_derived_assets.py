"""The investigation assets materialized by Dagster against a real home folder."""

from __future__ import annotations

import dagster as dg

from audit_pipeline.assets import investigation
from audit_pipeline.assets.ingestion import audit_events
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from tests.conftest import event, land_records, pipeline_resources

INVESTIGATION_KEYS = ["audit_log", "audit_summary", "login_activity", "scan_activity", "suspicious_activity"]


def _records() -> list[dict[str, object]]:
    burst = [event(f"fail-{i}", action="Login Failed", occurred_at=f"2026-11-16T12:0{i}:00Z") for i in range(5)]
    scans = [event("scan-start", log_type="Scan", action="Scan Now", additional_info={"scan_id": "s-1"}),
             event("scan-end", log_type="Scan", action="Scan Completed", additional_info={"scan_id": "s-1"},
                   occurred_at="2026-11-20T10:02:00Z")]
    logins = [event(f"login-{i}", occurred_at=f"2026-11-1{i}T09:00:00Z") for i in range(3)]
    return [*burst, *scans, *logins]


def test_assets_materialize_the_tables_with_counts_and_previews(paths: Paths) -> None:
    records = _records()
    land_records(paths, records)
    result = dg.materialize(
        [audit_events, *investigation.defs.assets],
        resources=pipeline_resources(AuditStore(home=str(paths.home))),
    )
    assert result.success
    metadata = {
        materialization.asset_key.to_user_string(): materialization.materialization.metadata
        for materialization in result.get_asset_materialization_events()
    }
    assert set(INVESTIGATION_KEYS) <= set(metadata)
    with database.open_reader(paths) as connection:
        for key in INVESTIGATION_KEYS:
            rows = connection.execute(f"SELECT count(*) FROM {key}").fetchone()
            assert metadata[key]["dagster/row_count"].value == (rows[0] if rows else None), key
            assert metadata[key]["total_events"].value == len(records), key
            assert "|" in metadata[key]["preview"].value, key
    assert metadata["audit_log"]["dagster/row_count"].value == len(records)
    assert metadata["scan_activity"]["dagster/row_count"].value == 1
    assert "failed_login_burst" in metadata["suspicious_activity"]["findings_by_rule"].value

    [check] = [c for c in result.get_asset_check_evaluations() if c.asset_key == dg.AssetKey("suspicious_activity")]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["critical_or_high_findings"].value == 1
    for key in UPDATED_KEYS:
        assert (metadata[key]["update"].value, metadata[key]["new_events"].value) == ("rebuilt", len(records)), key


UPDATED_KEYS = ["audit_summary", "login_activity", "scan_activity", "suspicious_activity"]


def test_a_second_run_updates_the_tables_from_its_own_events(paths: Paths) -> None:
    store = AuditStore(home=str(paths.home))
    land_records(paths, _records(), "a.jsonl")
    assert dg.materialize([audit_events, *investigation.defs.assets], resources=pipeline_resources(store)).success
    land_records(paths, [event("late-login", occurred_at="2026-11-12T09:30:00Z", source_ip="10.9.9.9")], "b.jsonl")
    result = dg.materialize([audit_events, *investigation.defs.assets], resources=pipeline_resources(store))
    metadata = {m.asset_key.to_user_string(): m.materialization.metadata
                for m in result.get_asset_materialization_events()}
    for key in UPDATED_KEYS:
        assert (metadata[key]["update"].value, metadata[key]["new_events"].value) == ("incremental", 1), key
    assert metadata["login_activity"]["partitions_recomputed"].value == 1
    assert metadata["scan_activity"]["partitions_recomputed"].value == 0, "no scan event in the batch"
    assert metadata["audit_daily_rollup"]["update"].value == "incremental"
    assert metadata["audit_events"]["orgs_this_run"].value == 1


def test_investigation_assets_wait_for_ingestion() -> None:
    from audit_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in INVESTIGATION_KEYS:
        asset_key = dg.AssetKey(key)
        assert graph.get(asset_key).parent_keys == {dg.AssetKey("audit_events")}, key
