"""The daily rollup built and updated in real DuckDB files, compared with counts computed from the input records."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pytest

from audit_pipeline.assets.groups import INVESTIGATION
from audit_pipeline.assets.ingestion import (
    FULL_HISTORY_NO_DUPLICATE_IDS,
    FULL_HISTORY_NO_EVENT_WITHOUT_ORG,
    NO_DUPLICATE_IDS,
    NO_EVENT_WITHOUT_ORG,
    QUARANTINE_GROWTH,
    audit_events,
)
from audit_pipeline.assets.investigation import NO_SERIOUS_FINDINGS, audit_daily_rollup
from audit_pipeline.derived import rollup
from audit_pipeline.derived.rollup import (
    COMPACT_WHEN_ADDED_SHARE,
    KEY_COLUMNS,
    KEYS_TABLE,
    ROLLUP_TABLE,
    compact_daily_rollup,
    read_coverage,
    update_daily_rollup,
)
from audit_pipeline.derived.search_index import SEARCH_TABLES
from audit_pipeline.query import LogFilter, count_events
from audit_pipeline.query.sources import uses_rollup
from audit_pipeline.resources.store import AuditStore
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.database import reader, writer
from tests.conftest import ingest_now, land_records, pipeline_resources

Key = tuple[str, str, str, str | None, str | None, str | None]  # org, day, action, log_type, user id/email/name

START = datetime(2026, 11, 17, tzinfo=UTC)
PEOPLE: tuple[dict[str, str], ...] = (
    {"user_id": "u-1", "user_email": "alice@acme.test", "user_name": "Alice Adams"},
    {"user_id": "u-1", "user_email": "ALICE@acme.test", "user_name": "Alice Adams"},
    {"user_email": "bob@acme.test", "user_name": ""},
    {"user_id": "svc%_1"},
    {"user_name": ""},
    {},
)
KINDS = (("Authentication", "Login"), ("Authentication", "login"), ("Scan", "Scan Now"), ("System", "Notice"))
# Instants on either side of UTC midnights (and of 1970), where a day bucket could be misassigned.
EDGE_TIMES = ("1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "2026-11-18T00:00:00Z",
              "2026-11-17T23:59:59.999999Z", "2026-11-18T01:30:00+02:00", "2026-11-19T23:30:00-01:00")


def make_records(count: int, *, seed: int, prefix: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for index in range(count):
        log_type, action = rng.choice(KINDS)
        if index < len(EDGE_TIMES):
            occurred = EDGE_TIMES[index]
        else:
            moment = START + timedelta(microseconds=rng.randrange(5 * 86_400_000_000))
            occurred = moment.isoformat().replace("+00:00", "Z")
        person = rng.choice(PEOPLE)
        if not any(person.values()):
            log_type = "System"  # only system events may come without a user
        records.append({"event_id": f"{prefix}-{index}", "org_id": rng.choice(("acme", "globex")),
                        "occurred_at": occurred, "log_type": log_type, "action": action, **person})
    return records


def expected_counts(records: list[dict[str, Any]]) -> Counter[Key]:
    def key(record: dict[str, Any]) -> Key:
        day = datetime.fromisoformat(record["occurred_at"].replace("Z", "+00:00")).astimezone(UTC).date()
        return (record["org_id"], day.isoformat(), record["action"], record["log_type"], record.get("user_id"),
                record.get("user_email"), record.get("user_name"))
    return Counter(key(r) for r in records)


def stored_counts(connection: duckdb.DuckDBPyConnection) -> Counter[Key]:
    rows = connection.execute(
        f"SELECT r.org_id, strftime(r.day, '%Y-%m-%d'), {', '.join(f'k.{c}' for c in KEY_COLUMNS)}, r.events "
        f"FROM {ROLLUP_TABLE} r JOIN {KEYS_TABLE} k USING (key_id)"
    ).fetchall()
    counts: Counter[Key] = Counter()
    for *key, events in rows:
        counts[tuple(key)] += events  # type: ignore[index]
    return counts


def ingest(paths: Paths, records: list[dict[str, Any]], name: str) -> None:
    land_records(paths, records, name)
    assert ingest_now(paths).ingested == len(records)


def test_rollup_counts_every_event_once_per_org_day_action_type_and_user(paths: Paths) -> None:
    records = make_records(300, seed=1, prefix="a")
    ingest(paths, records, "a.jsonl")
    with writer(paths) as connection:
        update = update_daily_rollup(connection)
        assert stored_counts(connection) == expected_counts(records)
        keys = connection.execute(f"SELECT count(*), count(DISTINCT key_id) FROM {KEYS_TABLE}").fetchone()
        distinct = len({tuple(r.get(c) for c in KEY_COLUMNS) for r in records})
        assert keys == (distinct, distinct)
    assert (update.mode, update.new_events, update.report.total_events) == ("rebuilt", 300, 300)
    assert update.coverage.last_ingest_seq == 300 and update.coverage.events == 300
    assert update.report.rows == len(expected_counts(records))
    assert update.events_per_row == 300 / update.report.rows


def test_new_events_are_appended_and_the_daily_compaction_rebuilds_once_appends_grow(paths: Paths) -> None:
    first = make_records(400, seed=2, prefix="a")
    ingest(paths, first, "a.jsonl")
    with writer(paths) as connection:
        compact = update_daily_rollup(connection).coverage.compact_rows
        nothing_new = update_daily_rollup(connection)
    assert (nothing_new.mode, nothing_new.new_events) == ("incremental", 0)

    few = make_records(8, seed=3, prefix="b")
    ingest(paths, few, "b.jsonl")
    with writer(paths) as connection:
        appended = update_daily_rollup(connection)
        assert stored_counts(connection) == expected_counts(first + few)
    assert (appended.mode, appended.new_events) == ("incremental", len(few))
    assert appended.coverage.compact_rows == compact < appended.report.rows <= compact + len(few)
    with writer(paths) as connection:
        not_yet = compact_daily_rollup(connection)
    assert (not_yet.mode, not_yet.new_events) == ("incremental", 0), "appends below the share stay"

    many = make_records(int(compact * COMPACT_WHEN_ADDED_SHARE) + 50, seed=4, prefix="c")
    ingest(paths, many, "c.jsonl")
    with writer(paths) as connection:
        everyday = update_daily_rollup(connection)
        assert stored_counts(connection) == expected_counts(first + few + many)
        compacted = compact_daily_rollup(connection)
        assert stored_counts(connection) == expected_counts(first + few + many)
        duplicated = connection.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {ROLLUP_TABLE} GROUP BY org_id, day, key_id HAVING count(*) > 1)"
        ).fetchone()
    assert (everyday.mode, everyday.new_events) == ("incremental", len(many)), "the sensor's runs only append"
    assert (compacted.mode, compacted.new_events) == ("rebuilt", 0)
    assert compacted.coverage.compact_rows == compacted.report.rows and duplicated == (0,)


def test_events_removed_below_the_coverage_force_a_rebuild(paths: Paths) -> None:
    records = make_records(200, seed=5, prefix="a")
    ingest(paths, records, "a.jsonl")
    with writer(paths) as connection:
        update_daily_rollup(connection)
        connection.execute("DELETE FROM events WHERE org_id = 'globex'")
        update = update_daily_rollup(connection)
        assert stored_counts(connection) == expected_counts([r for r in records if r["org_id"] != "globex"])
    assert update.mode == "rebuilt"


def test_a_failed_update_leaves_the_previous_rollup_in_place(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(paths, make_records(50, seed=6, prefix="a"), "a.jsonl")
    with writer(paths) as connection:
        update_daily_rollup(connection)
        before = (stored_counts(connection), read_coverage(connection), _keys(connection))
    ingest(paths, [dict(r, action="Never Seen") for r in make_records(5, seed=9, prefix="b")], "b.jsonl")
    # The new keys are added, then writing the counts fails: nothing of the update may remain.
    monkeypatch.setattr(rollup, "APPEND_ROLLUP_SQL", "INSERT INTO no_such_table VALUES (1)")
    with writer(paths) as connection:
        with pytest.raises(duckdb.CatalogException):
            update_daily_rollup(connection)
        assert (stored_counts(connection), read_coverage(connection), _keys(connection)) == before


def _keys(connection: duckdb.DuckDBPyConnection) -> int:
    row = connection.execute(f"SELECT count(*) FROM {KEYS_TABLE}").fetchone()
    return int(row[0]) if row else 0


def test_the_asset_materializes_with_its_metadata_and_reaches_the_readers(paths: Paths) -> None:
    store = AuditStore(home=str(paths.home))
    first = make_records(120, seed=7, prefix="a")
    land_records(paths, first, "a.jsonl")
    result = dg.materialize([audit_events, audit_daily_rollup], resources=pipeline_resources(store))
    assert result.success
    metadata = _rollup_metadata(result)
    with database.open_reader(paths) as connection:
        rows = connection.execute(f"SELECT count(*) FROM {ROLLUP_TABLE}").fetchone()
    assert rows is not None and metadata["dagster/row_count"].value == rows[0]
    assert metadata["dagster/table_name"].value == ROLLUP_TABLE
    assert (metadata["update"].value, metadata["new_events"].value, metadata["total_events"].value) == (
        "rebuilt", 120, 120)
    assert metadata["compression_ratio"].value == round(120 / rows[0], 2)
    assert metadata["last_ingest_seq"].value == 120
    assert "|" in metadata["preview"].value
    with database.open_reader(paths) as connection:
        index_rows = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()
                      for table in SEARCH_TABLES}
    assert {table: metadata[f"{table}_rows"].value for table in SEARCH_TABLES} == {
        table: rows[0] for table, rows in index_rows.items() if rows is not None}

    more = make_records(10, seed=8, prefix="b")
    land_records(paths, more, "b.jsonl")
    result = dg.materialize([audit_events, audit_daily_rollup], resources=pipeline_resources(store))
    metadata = _rollup_metadata(result)
    assert (metadata["update"].value, metadata["new_events"].value, metadata["total_events"].value) == (
        "incremental", 10, 130)
    with reader(paths) as connection:
        assert uses_rollup(connection, LogFilter())
        assert uses_rollup(connection, LogFilter(search="acme"))
        assert count_events(connection, LogFilter()) == 130
        assert count_events(connection, LogFilter(orgs=("acme",))) == sum(
            r["org_id"] == "acme" for r in first + more)


def _rollup_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [materialization] = [m for m in result.get_asset_materialization_events()
                         if m.asset_key == dg.AssetKey(ROLLUP_TABLE)]
    return dict(materialization.materialization.metadata)


def test_the_rollup_waits_for_ingestion() -> None:
    from audit_pipeline.definitions import defs

    node = defs.resolve_asset_graph().get(dg.AssetKey(ROLLUP_TABLE))
    assert node.parent_keys == {dg.AssetKey("audit_events")}
    assert node.group_name == INVESTIGATION, "the ingest job runs the investigation group after ingestion"


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {evaluation.check_name: evaluation.passed for evaluation in result.get_asset_check_evaluations()}


def test_the_ingest_job_checks_its_batch_and_the_daily_job_compacts_and_checks_everything(paths: Paths) -> None:
    from audit_pipeline.definitions import defs

    land_records(paths, make_records(60, seed=12, prefix="a"), "a.jsonl")
    with dg.instance_for_test() as instance:
        ingest = defs.resolve_job_def("ingest_job").execute_in_process(instance=instance)
        assert ingest.success
        assert _checks(ingest) == {NO_DUPLICATE_IDS: True, NO_EVENT_WITHOUT_ORG: True, QUARANTINE_GROWTH: True,
                                   NO_SERIOUS_FINDINGS: _checks(ingest)[NO_SERIOUS_FINDINGS]}
        land_records(paths, make_records(5, seed=13, prefix="b"), "b.jsonl")
        again = defs.resolve_job_def("ingest_job").execute_in_process(instance=instance)
        assert again.success and _rollup_metadata(again)["update"].value == "incremental"
        daily = defs.resolve_job_def("investigation_compaction_job").execute_in_process(instance=instance)
    assert daily.success
    assert _checks(daily) == {FULL_HISTORY_NO_DUPLICATE_IDS: True, FULL_HISTORY_NO_EVENT_WITHOUT_ORG: True}
    assert _rollup_metadata(daily)["new_events"].value == 0
    assert defs.resolve_schedule_def("investigation_compaction_daily").job_name == "investigation_compaction_job"


def test_a_stored_duplicate_fails_the_run_check_of_its_range_and_the_daily_full_check(paths: Paths) -> None:
    from audit_pipeline.assets.ingestion import _run_duplicates
    from audit_pipeline.definitions import defs

    records = make_records(30, seed=14, prefix="a")
    ingest(paths, records, "a.jsonl")
    orgs = sorted({str(r["org_id"]) for r in records})
    with writer(paths) as connection:
        assert _run_duplicates(connection, [1, 30], orgs) == 0
        # A second copy of event 1 under a new ingest_seq, as a broken ingestion would have stored it.
        connection.execute("INSERT INTO events SELECT * REPLACE (31 AS ingest_seq) FROM events WHERE ingest_seq = 1")
        assert _run_duplicates(connection, [31, 31], orgs) == 1
        assert _run_duplicates(connection, [1, 30], orgs) == 1
        assert _run_duplicates(connection, [2, 30], orgs) == 0
    with dg.instance_for_test() as instance:
        daily = defs.resolve_job_def("investigation_compaction_job").execute_in_process(instance=instance,
                                                                                        raise_on_error=False)
    assert _checks(daily) == {FULL_HISTORY_NO_DUPLICATE_IDS: False, FULL_HISTORY_NO_EVENT_WITHOUT_ORG: True}
