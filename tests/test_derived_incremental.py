"""Derived tables updated from each batch of new events equal the same tables built from every event.

Two homes receive the same landing files, batch after batch: one updates its tables from the new events only
(as the ingest job does), the other rebuilds them from scratch. The batches hold events on "today", late
events days before stored ones, bursts across midnight, scans that end in a later batch, resent duplicates
and rejected lines; after every batch each table must hold the same rows in both homes.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_pipeline.derived import incremental, logins, scans, summary, suspicious
from audit_pipeline.derived.incremental import ViewUpdate
from audit_pipeline.derived.report import DerivedReport
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import writer
from tests.conftest import land_records

Updater = Callable[[duckdb.DuckDBPyConnection], ViewUpdate]
Builder = Callable[[duckdb.DuckDBPyConnection], DerivedReport]


@dataclass(frozen=True)
class View:
    update: Updater
    build: Builder
    tables: tuple[str, ...]


VIEWS = {
    "audit_summary": View(summary.update_audit_summary, summary.build_audit_summary, (summary.AUDIT_SUMMARY,)),
    "login_activity": View(logins.update_login_activity, logins.build_login_activity, (logins.LOGIN_ACTIVITY,)),
    "scan_activity": View(scans.update_scan_activity, scans.build_scan_activity,
                          (scans.SCAN_ACTIVITY, scans.SCAN_ACTIVITY_DAILY)),
    "suspicious_activity": View(suspicious.update_suspicious_activity, suspicious.build_suspicious_activity,
                                suspicious.SUSPICIOUS_TABLES),
}

ORGS = ("acme", "globex")
USERS = ("alice@acme.test", "bob@acme.test", "carol@acme.test", "dan@acme.test")
IPS = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "198.51.100.7", "203.0.113.9")
ADMIN_ACTIONS = (("User Management", "User Invited"), ("Policy", "Policy Deleted"), ("Settings", "Settings Changed"),
                 ("Integration", "Integration Disconnected"))
START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
BATCHES = 5


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Batches:
    """Random but reproducible batches of records: each `next()` is one landing file's lines."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.number = 0
        self.sent: list[dict[str, Any]] = []
        self.open_scans: list[tuple[str, str, datetime]] = []

    def record(self, org: str, moment: datetime, log_type: str, action: str, **fields: Any) -> dict[str, Any]:
        self.record_number = getattr(self, "record_number", 0) + 1
        user = self.random.choice(USERS)
        record: dict[str, Any] = {
            "event_id": f"e-{self.record_number}", "org_id": org, "occurred_at": _at(moment), "log_type": log_type,
            "action": action, "user_email": user, "user_name": user.split("@")[0].title(),
            "source_ip": self.random.choice(IPS),
        }
        record.update(fields)
        return record

    def moment(self, today: datetime) -> datetime:
        """Mostly today; one in four a late event up to five days before."""
        late = self.random.random() < 0.25
        day = today - timedelta(days=self.random.randint(1, 5)) if late else today
        return day + timedelta(seconds=self.random.randint(0, 86_399))

    def next(self) -> list[dict[str, Any] | str]:
        rnd = self.random
        today = START + timedelta(days=2 * self.number)
        self.number += 1
        out: list[dict[str, Any]] = []
        for _ in range(rnd.randint(20, 40)):
            org, moment = rnd.choice(ORGS), self.moment(today)
            kind = rnd.random()
            if kind < 0.35:
                outcome = rnd.choice(("success", "success", "success", "failure"))
                out.append(self.record(org, moment, "Authentication", rnd.choice(("Login", "Login", "MFA Failed")),
                                       outcome=outcome))
            elif kind < 0.45:
                out.extend(self.burst(org, moment, "Authentication", "Login Failed", minutes=3))
            elif kind < 0.52:
                out.extend(self.burst(org, moment, "User Management", "User Removed", minutes=14))
            elif kind < 0.7:
                out.extend(self.scan(org, moment))
            elif kind < 0.85:
                log_type, action = rnd.choice(ADMIN_ACTIONS)
                out.append(self.record(org, moment, log_type, action))
            elif kind < 0.92:
                out.append(self.record(org, moment, "User Management", "Role Changed",
                                       additional_info={"old_role": "Member",
                                                        "new_role": rnd.choice(("Admin", "Viewer"))}))
            else:
                out.append(self.record(org, moment, "Settings", "Audit Log Export Configured",
                                       additional_info={"enabled": rnd.choice((True, False)), "s3_bucket": "b"}))
        resent = rnd.sample(self.sent, min(3, len(self.sent)))
        self.sent.extend(out)
        return [*out, *resent, "not json", '{"event_id": "no-org", "log_type": "Authentication"}']

    def burst(self, org: str, moment: datetime, log_type: str, action: str, *, minutes: int) -> list[dict[str, Any]]:
        user = self.random.choice(USERS)
        count = self.random.randint(2, 7)
        return [self.record(org, moment + timedelta(minutes=minutes * i / count), log_type, action, user_email=user,
                            outcome="failure" if log_type == "Authentication" else "success",
                            additional_info={"target_user": f"u{i}@acme.test"})
                for i in range(count)]

    def scan(self, org: str, moment: datetime) -> list[dict[str, Any]]:
        rnd = self.random
        if self.open_scans and rnd.random() < 0.5:
            scan_org, scan_id, started = self.open_scans.pop(rnd.randrange(len(self.open_scans)))
            end = started + timedelta(minutes=rnd.randint(1, 3000))
            return [self.record(scan_org, end, "Scan", rnd.choice(("Scan Completed", "Scan Failed")),
                                additional_info={"scan_id": scan_id})]
        scan_id = f"scan-{self.number}-{rnd.randint(0, 10_000)}"
        self.open_scans.append((org, scan_id, moment))
        first = self.record(org, moment, "Scan", rnd.choice(("Scan Now", "Scan Scheduled")),
                            additional_info={"scan_id": scan_id})
        return [first, self.record(org, moment, "Scan", "Scan Now", additional_info={})]


def _rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    columns = "ingest_seq, org_id, event_id, occurred_at" if table == "events" else "*"
    return sorted((tuple(row) for row in connection.execute(f"SELECT {columns} FROM {table}").fetchall()), key=repr)


def _ingest(paths: Paths, records: Sequence[dict[str, Any] | str], name: str) -> None:
    from tests.conftest import ingest_now

    land_records(paths, records, name)
    ingest_now(paths)


def _homes(tmp_path: Path) -> tuple[Paths, Paths]:
    return Paths(tmp_path / "updated").ensure(), Paths(tmp_path / "rebuilt").ensure()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_updating_from_each_batch_equals_rebuilding_from_every_event(tmp_path: Path, seed: int) -> None:
    updated, rebuilt = _homes(tmp_path)
    batches = Batches(seed)
    modes: dict[str, list[str]] = {name: [] for name in VIEWS}
    for number in range(BATCHES):
        records = batches.next()
        for home in (updated, rebuilt):
            _ingest(home, records, f"batch-{number}.jsonl")
        with writer(updated) as fresh, writer(rebuilt) as full:
            assert _rows(fresh, "events") == _rows(full, "events")
            for name, view in VIEWS.items():
                modes[name].append(view.update(fresh).mode)
                view.build(full)
                for table in view.tables:
                    assert _rows(fresh, table) == _rows(full, table), (name, table, number)
    assert all(kinds == ["rebuilt"] + ["incremental"] * (BATCHES - 1) for kinds in modes.values()), modes


def test_a_view_whose_table_is_missing_is_built_in_full_again(tmp_path: Path) -> None:
    updated, _ = _homes(tmp_path)
    batches = Batches(7)
    _ingest(updated, batches.next(), "a.jsonl")
    with writer(updated) as connection:
        assert logins.update_login_activity(connection).mode == "rebuilt"
        connection.execute(f"DROP TABLE {logins.LOGIN_ACTIVITY}")
        again = logins.update_login_activity(connection)
        nothing_new = logins.update_login_activity(connection)
    assert again.mode == "rebuilt"
    assert (nothing_new.mode, nothing_new.new_events, nothing_new.partitions_recomputed) == ("incremental", 0, 0)
    assert incremental.COVERAGE_TABLE == "derived_coverage"


OLD_DAY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
NEW_DAY = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
UNTOUCHED_BEFORE = datetime(2026, 11, 15, tzinfo=UTC)
# A TEMP view shadows the lake's `events` for the connection that creates it: the columns of every event of an
# untouched partition (globex, or acme before UNTOUCHED_BEFORE) raise an error when they are read. Filters on
# org_id, occurred_at and ingest_seq still reach the scan below it, so only the rows that pass them are read.
_UNTOUCHED = f"(org_id = 'globex' OR occurred_at < TIMESTAMPTZ '{UNTOUCHED_BEFORE.isoformat()}')"


def _trap_untouched_partitions(connection: duckdb.DuckDBPyConnection) -> None:
    columns = [row[0] for row in connection.execute("DESCRIBE lake.main.events").fetchall()]
    guarded = [column if column in ("org_id", "occurred_at", "ingest_seq") else
               f"CASE WHEN {_UNTOUCHED} THEN error('read an untouched partition') ELSE {column} END AS {column}"
               for column in columns]
    connection.execute(f"CREATE TEMP VIEW events AS SELECT {', '.join(guarded)} FROM lake.main.events")


def _history(org: str, start: datetime) -> list[dict[str, Any]]:
    batches = Batches(11)
    records = [record for _ in range(3) for record in batches.next() if isinstance(record, dict)]
    span = timedelta(days=10)
    for number, record in enumerate(records):
        record["event_id"] = f"{org}-old-{number}"
        record["org_id"] = org
        record["occurred_at"] = _at(start + span * number / len(records))
    return records


def test_an_update_reads_the_batch_and_its_partitions_only(tmp_path: Path) -> None:
    updated, rebuilt = _homes(tmp_path)
    old = _history("acme", OLD_DAY - timedelta(days=9)) + _history("globex", OLD_DAY)
    today = [dict(record, event_id=f"new-{number}", org_id="acme", occurred_at=_at(NEW_DAY + timedelta(minutes=number)),
                  additional_info={key: f"new-{value}" for key, value in record.get("additional_info", {}).items()})
             for number, record in enumerate(_history("acme", NEW_DAY)[:60])]
    for home in (updated, rebuilt):
        _ingest(home, old, "old.jsonl")
    with writer(updated) as connection:
        for view in VIEWS.values():
            assert view.update(connection).mode == "rebuilt"
    for home in (updated, rebuilt):
        _ingest(home, today, "today.jsonl")
    with writer(updated) as connection:
        _trap_untouched_partitions(connection)
        with pytest.raises(duckdb.Error, match="untouched partition"):
            connection.execute("SELECT * FROM events").fetchall()
        runs = {name: view.update(connection) for name, view in VIEWS.items()}
        connection.execute("DROP VIEW events")
        with writer(rebuilt) as full:
            for name, view in VIEWS.items():
                view.build(full)
                for table in view.tables:
                    assert _rows(connection, table) == _rows(full, table), (name, table)
    assert {run.mode for run in runs.values()} == {"incremental"}
    assert {run.new_events for run in runs.values()} == {len(today)}
    assert runs["login_activity"].partitions_recomputed == 1


def _crowded_batch(rnd: random.Random, number: int) -> list[dict[str, Any] | str]:
    """Failed logins, removals and logins of two users within three hours across 06:00 UTC (where off-hours
    working days change), in random order: every batch lands among, before and after the stored ones."""
    base = datetime(2026, 11, 17, 4, 30, tzinfo=UTC)
    kinds = (("Authentication", "Login Failed", "failure"), ("User Management", "User Removed", "success"),
             ("Authentication", "Login", "success"))
    records: list[dict[str, Any] | str] = []
    for index in range(rnd.randint(6, 14)):
        log_type, action, outcome = rnd.choice(kinds)
        records.append({
            "event_id": f"c-{number}-{index}", "org_id": "acme", "log_type": log_type, "action": action,
            "outcome": outcome, "user_email": rnd.choice(USERS[:2]), "source_ip": rnd.choice(IPS[:3]),
            "occurred_at": _at(base + timedelta(seconds=rnd.randint(0, 3 * 3600))),
            "additional_info": {"target_user": f"t{index}@acme.test"},
        })
    return records


@pytest.mark.slow
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_late_events_among_stored_bursts_and_logins_give_the_rebuilt_findings(seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _crowded_batches_agree(Path(folder), random.Random(seed))


def _crowded_batches_agree(tmp_path: Path, rnd: random.Random) -> None:
    updated, rebuilt = _homes(tmp_path)
    view = VIEWS["suspicious_activity"]
    for number in range(4):
        records = _crowded_batch(rnd, number)
        for home in (updated, rebuilt):
            _ingest(home, records, f"crowded-{number}.jsonl")
        with writer(updated) as fresh, writer(rebuilt) as full:
            view.update(fresh)
            view.build(full)
            for table in view.tables:
                assert _rows(fresh, table) == _rows(full, table), (table, number)


def test_a_failed_update_leaves_the_table_and_its_coverage_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    updated, _ = _homes(tmp_path)
    batches = Batches(5)
    _ingest(updated, batches.next(), "a.jsonl")
    with writer(updated) as connection:
        logins.update_login_activity(connection)
        before = (_rows(connection, logins.LOGIN_ACTIVITY), incremental.covered_seq(connection, logins.LOGIN_ACTIVITY))
    _ingest(updated, batches.next(), "b.jsonl")
    # The touched rows are deleted, then recomputing them fails: nothing of the update may remain.
    monkeypatch.setattr(logins, "INSERT_TOUCHED_SQL", "INSERT INTO no_such_table VALUES (1)")
    with writer(updated) as connection:
        with pytest.raises(duckdb.CatalogException):
            logins.update_login_activity(connection)
        after = (_rows(connection, logins.LOGIN_ACTIVITY), incremental.covered_seq(connection, logins.LOGIN_ACTIVITY))
    assert after == before
