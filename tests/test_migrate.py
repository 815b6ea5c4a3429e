"""`audit-pipeline migrate` on real DuckDB files written with the old schemas, through the real entry point."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from audit_pipeline.access.store import UserDirectory
from audit_pipeline.cli.main import main
from audit_pipeline.export import bookkeeping
from audit_pipeline.export.config_store import get_config
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, legacy_import
from tests import legacy_home
from tests.conftest import event, ingest_now, land_records

NOW = datetime.now(UTC).replace(microsecond=0)
KEPT = ("events", "quarantine", "ingested_files", "ingest_batches", "export_deliveries", "export_parts",
        "export_digests", "export_configs", "export_connectors", "export_alert_streaks", "users")


@pytest.fixture
def old(paths: Paths) -> legacy_home.LegacyHome:
    return legacy_home.build(paths.home, now=NOW)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def migrated(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    return run_json(capsys, "migrate", *argv)


def lake_rows(paths: Paths, sql: str) -> list[tuple[Any, ...]]:
    with database.reader(paths) as connection:
        return connection.execute(sql).fetchall()


def lake_events(paths: Paths) -> int:
    try:
        return int(lake_rows(paths, "SELECT count(*) FROM events")[0][0])
    except database.DatabaseMissingError:
        return 0


def test_every_kept_table_arrives_with_matching_counts(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "migrate", "--format", "json")
    assert code == 0, err
    body = json.loads(out)
    assert body["already_migrated"] is False
    assert list(body["tables"]) == list(KEPT)
    assert all(table["ok"] and table["old_count"] == table["lake_count"] for table in body["tables"].values())
    assert body["tables"]["events"]["lake_count"] == old.last_seq
    assert body["tables"]["export_parts"]["lake_count"] == 2
    assert body["tables"]["export_alert_streaks"]["lake_count"] == 0
    assert body["derived_rebuilt_on_next_ingest"] == ["audit_daily_rollup", "audit_log", "audit_summary"]
    assert body["old_files_left"] == sorted(
        str(path) for path in (*old.files, paths.home / "snapshot" / "audit.duckdb"))
    # One progress line per table on stderr, stdout left to the JSON.
    assert all(f"{name}: copying" in err for name in KEPT)
    assert all(path.is_file() for path in old.files)
    recorded = lake_rows(paths, "SELECT source_home, table_counts, complete FROM legacy_imports")
    assert len(recorded) == 1
    assert recorded[0][0] == str(paths.home.resolve())
    assert json.loads(recorded[0][1])["events"] == old.last_seq
    assert recorded[0][2] is True


def test_the_table_output_has_one_line_per_table(
    old: legacy_home.LegacyHome, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "migrate")
    assert code == 0
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.split()[:1] in ([n] for n in KEPT)}
    assert lines["events"] == [str(old.last_seq), str(old.last_seq), "ok"]
    assert lines["users"] == ["1", "1", "ok"]
    assert "audit-pipeline ingest" in out
    assert "rm " in out and "access.duckdb" in out


def test_the_lake_answers_as_the_old_files_did(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(capsys)
    assert run_json(capsys, "logs")["total"] == old.last_seq
    for org, count in old.events_by_org.items():
        assert run_json(capsys, "logs", "--org", org)["total"] == count

    listing = run_json(capsys, "quarantine")
    assert listing["total"] == 1
    assert "not valid UTF-8" in listing["records"][0]["raw_preview"]
    assert lake_rows(paths, "SELECT raw FROM quarantine") == [(legacy_home.NON_UTF8_RAW,)]

    exports = run_json(capsys, "export", "list")
    assert [(e["name"], e["org_id"], e["external_id"]) for e in exports] == [
        (old.config_name, "acme", legacy_home.EXTERNAL_ID)]
    assert exports[0]["last_cutoff_at"] is not None

    users = run_json(capsys, "users", "list")
    assert [(u["email"], u["org_id"], u["role"], u["active"]) for u in users] == [
        (old.user_email, "acme", "admin", True)]
    user = UserDirectory(paths).user_for_token(old.user_token)
    assert user is not None and user.email == old.user_email


def test_the_next_export_continues_from_the_migrated_window(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(capsys)
    assert lake_rows(paths, "SELECT last_seq FROM ingest_sequence") == [(old.last_seq,)]
    config = get_config(paths, old.config_name)
    with database.writer(paths) as connection:
        plan = bookkeeping.plan_or_resume(connection, config, part_bytes=1 << 20, run_id="after-migrate")
    assert plan.export_number == 2
    assert plan.from_seq == legacy_home.DELIVERED_TO_SEQ
    assert plan.to_seq == old.last_seq
    # acme's events after the delivered window: seq 6 only (seq 5 is globex's).
    assert plan.events == 1


def test_new_ingestion_continues_above_the_migrated_sequence(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(capsys)
    land_records(paths, [event("after-1"), event("after-2", org_id="globex")], name="after.jsonl")
    assert ingest_now(paths).ingested == 2
    rows = lake_rows(paths, "SELECT event_id, ingest_seq FROM events WHERE event_id LIKE 'after-%' ORDER BY 2")
    assert [seq for _, seq in rows] == [old.last_seq + 1, old.last_seq + 2]
    assert lake_rows(paths, "SELECT last_seq FROM ingest_sequence") == [(old.last_seq + 2,)]
    assert run_json(capsys, "logs")["total"] == old.last_seq + 2


def test_a_second_run_says_already_migrated(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    first = migrated(capsys)
    second = migrated(capsys)
    assert second["already_migrated"] is True
    assert second["tables"] == first["tables"]
    assert lake_events(paths) == old.last_seq
    code, out, _ = run(capsys, "migrate")
    assert code == 0 and out.startswith("already migrated from ")


def test_an_already_migrated_lake_says_so_after_the_old_files_are_removed(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(capsys)
    for path in old.files:
        path.unlink()
    body = migrated(capsys)
    assert body["already_migrated"] is True
    assert body["old_files_left"] == [str(paths.home / "snapshot" / "audit.duckdb")]


def test_a_lake_that_already_holds_events_is_refused(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    land_records(paths, [event("new-1")])
    assert ingest_now(paths).ingested == 1
    legacy_home.build(paths.home, now=NOW)
    code, out, err = run(capsys, "migrate", "--format", "json")
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "the lake already holds rows in events (1), ingested_files (1), ingest_batches (1)" in err
    assert lake_events(paths) == 1
    assert lake_rows(paths, "SELECT count(*) FROM legacy_imports") == [(0,)]


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_old_file_is_refused_and_the_lake_stays_empty(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    target = paths.home / ("control.duckdb" if damage == "garbage" else "audit.duckdb")
    if damage == "garbage":
        target.write_bytes(b"not a database at all\n" * 400)
    else:
        with target.open("r+b") as handle:
            handle.truncate(target.stat().st_size // 2)
    code, out, err = run(capsys, "migrate")
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert str(target) in err and "cannot be read as a DuckDB database" in err
    assert lake_events(paths) == 0
    assert target.exists()


def test_a_count_mismatch_rolls_everything_back(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = legacy_import._copy

    def short_copy(*args: Any) -> legacy_import.TableCopy:
        result = copy(*args)
        return replace(result, lake_count=result.lake_count - 1) if result.name == "users" else result

    monkeypatch.setattr(legacy_import, "_copy", short_copy)
    code, _, err = run(capsys, "migrate")
    assert code == 2
    assert "counts differ after copying users (1 old, 0 in the lake)" in err
    assert lake_events(paths) == 0
    assert lake_rows(paths, "SELECT count(*) FROM legacy_imports") == [(0,)]
    assert lake_rows(paths, "SELECT last_seq FROM ingest_sequence") == [(0,)]
    monkeypatch.setattr(legacy_import, "_copy", copy)
    assert migrated(capsys)["tables"]["events"]["lake_count"] == old.last_seq


def test_a_home_without_old_files_is_refused_without_creating_a_lake(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "migrate")
    assert code == 2
    assert f"{paths.home.resolve()} holds none of audit.duckdb, control.duckdb, access.duckdb" in err
    assert not (paths.home / "catalog.sqlite").exists()
    code, _, err = run(capsys, "migrate", "--from", str(paths.home / "nowhere"))
    assert code == 2 and "no such folder" in err


def test_an_old_file_missing_a_column_is_refused(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    legacy_home.build(paths.home, now=NOW)
    with duckdb.connect(str(paths.home / "access.duckdb")) as access:
        access.execute("ALTER TABLE users DROP COLUMN revoked_at")
    code, _, err = run(capsys, "migrate")
    assert code == 2
    assert "table users lacks column(s) revoked_at" in err
    assert lake_events(paths) == 0


def test_migrating_from_another_folder_and_only_the_files_present(
    paths: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "old-home"
    old = legacy_home.build(source, now=NOW)
    (source / "audit.duckdb").unlink()
    (source / "snapshot" / "audit.duckdb").unlink()
    body = migrated(capsys, "--from", str(source))
    assert list(body["tables"]) == ["export_configs", "export_connectors", "export_alert_streaks", "users"]
    assert body["source_home"] == str(source.resolve())
    assert lake_rows(paths, "SELECT last_seq FROM ingest_sequence") == [(0,)]
    assert [u["email"] for u in run_json(capsys, "users", "list")] == [old.user_email]
    assert (paths.home / "catalog.sqlite").exists()


def test_events_keep_their_values(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    migrated(capsys)
    columns = ", ".join(legacy_import.KEPT_TABLES[0].columns)
    with duckdb.connect(str(old.home / "audit.duckdb"), read_only=True) as source:
        source.execute("SET TimeZone = 'UTC'")
        before = source.execute(f"SELECT {columns} FROM events ORDER BY ingest_seq").fetchall()
    after = lake_rows(paths, f"SELECT {columns} FROM events ORDER BY ingest_seq")
    assert after == before
    assert json.loads(after[0][13]) == {"n": 1}
    assert after[-1][3] == NOW - timedelta(hours=10 - old.last_seq)


def test_an_import_recorded_as_incomplete_is_refused(
    old: legacy_home.LegacyHome, paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    database.write_transaction(paths, lambda connection: connection.execute(
        "INSERT INTO legacy_imports VALUES (now(), ?, '{}', false)", [str(old.home)]))
    code, out, err = run(capsys, "migrate")
    assert (code, out) == (2, "")
    assert "is recorded but not complete" in err
    assert lake_events(paths) == 0
