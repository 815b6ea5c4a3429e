"""Each suspicious-activity rule against hand-built events where we know whether it must fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_pipeline.derived import rules
from audit_pipeline.derived.suspicious import build_suspicious_activity
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database
from audit_pipeline.storage.database import writer
from tests.conftest import event, ingest_now, land_records

MONDAY_NOON = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def findings(paths: Paths, records: list[dict[str, Any]], rule: str) -> list[tuple[Any, ...]]:
    """Ingest the records, rebuild suspicious_activity, return the rule's rows in time order."""
    land_records(paths, records)
    assert ingest_now(paths).ingested == len(records)
    with writer(paths) as connection:
        build_suspicious_activity(connection)
    with database.open_reader(paths) as connection:
        return connection.execute("""
            SELECT org_id, severity, "user", event_count, event_ids, reason, first_at, last_at
            FROM suspicious_activity WHERE rule = ? ORDER BY first_at
        """, [rule]).fetchall()


def failed_login(event_id: str, moment: datetime, **fields: Any) -> dict[str, Any]:
    return event(event_id, action="Login Failed", occurred_at=at(moment), source_ip="198.51.100.7", **fields)


# (a) failed-login bursts

def test_five_failed_logins_within_ten_minutes_fire_once(paths: Paths) -> None:
    records = [failed_login(f"f{i}", MONDAY_NOON + timedelta(minutes=2 * i)) for i in range(5)]
    rows = findings(paths, records, rules.FAILED_LOGIN_BURST)
    assert len(rows) == 1
    org, severity, user, count, ids, reason, _, _ = rows[0]
    assert (org, severity, user, count) == ("acme", "high", "alice@acme.test", 5)
    assert ids == [f"f{i}" for i in range(5)]
    assert reason.startswith("5 failed logins for alice@acme.test within 8 minutes from 198.51.100.7")


@pytest.mark.parametrize("spacing_minutes, count", [(1, 4), (3, 5), (11, 8)])
def test_failed_logins_under_the_threshold_stay_quiet(paths: Paths, spacing_minutes: int, count: int) -> None:
    # Four in a few minutes, or five or more that never reach five inside any ten-minute window.
    step = timedelta(minutes=spacing_minutes)
    records = [failed_login(f"f{i}", MONDAY_NOON + step * i) for i in range(count)]
    assert findings(paths, records, rules.FAILED_LOGIN_BURST) == []


def test_failed_logins_of_different_users_or_orgs_are_not_pooled(paths: Paths) -> None:
    records = [failed_login(f"a{i}", MONDAY_NOON + timedelta(minutes=i)) for i in range(3)]
    records += [failed_login(f"b{i}", MONDAY_NOON + timedelta(minutes=i), user_email="bob@acme.test")
                for i in range(3)]
    records += [failed_login(f"c{i}", MONDAY_NOON + timedelta(minutes=i), org_id="globex") for i in range(3)]
    assert findings(paths, records, rules.FAILED_LOGIN_BURST) == []


def test_two_separate_bursts_are_two_findings_and_stray_failures_stay_out(paths: Paths) -> None:
    start = MONDAY_NOON
    records = [failed_login("early", start - timedelta(hours=1))]
    records += [failed_login(f"x{i}", start + timedelta(seconds=30 * i)) for i in range(6)]
    records += [failed_login(f"y{i}", start + timedelta(hours=3, minutes=i)) for i in range(5)]
    records += [event("ok", occurred_at=at(start + timedelta(minutes=4)))]
    rows = findings(paths, records, rules.FAILED_LOGIN_BURST)
    assert [row[4] for row in rows] == [[f"x{i}" for i in range(6)], [f"y{i}" for i in range(5)]]


# (b) successful login from a new IP

def login(event_id: str, moment: datetime, ip: str, **fields: Any) -> dict[str, Any]:
    return event(event_id, occurred_at=at(moment), source_ip=ip, **fields)


def test_login_from_a_new_ip_after_a_history_fires(paths: Paths) -> None:
    records = [login(f"h{i}", MONDAY_NOON + timedelta(days=i), "10.0.0.1") for i in range(3)]
    records += [login("new", MONDAY_NOON + timedelta(days=3), "203.0.113.9"),
                login("again", MONDAY_NOON + timedelta(days=4), "203.0.113.9")]
    rows = findings(paths, records, rules.LOGIN_FROM_NEW_IP)
    assert [(row[1], row[2], row[4]) for row in rows] == [("medium", "alice@acme.test", ["new"])]
    assert rows[0][5] == ("alice@acme.test logged in from 203.0.113.9 for the first time, "
                          "after 3 successful logins from 1 other address(es)")


def test_new_ip_needs_enough_history_and_only_successful_logins_count(paths: Paths) -> None:
    records = [login(f"h{i}", MONDAY_NOON + timedelta(days=i), "10.0.0.1") for i in range(2)]
    records += [failed_login("failed", MONDAY_NOON + timedelta(days=2))]
    records += [login("second-ip", MONDAY_NOON + timedelta(days=3), "203.0.113.9")]
    records += [login("bob", MONDAY_NOON + timedelta(days=4), "203.0.113.50", user_email="bob@acme.test")]
    assert findings(paths, records, rules.LOGIN_FROM_NEW_IP) == []


# (c) role raised to admin

def role_change(event_id: str, info: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return event(event_id, log_type="User Management", action="Role Changed", occurred_at=at(MONDAY_NOON),
                 additional_info=info, **fields)


def test_role_raised_to_admin_fires_and_self_promotion_is_critical(paths: Paths) -> None:
    records = [
        role_change("grant", {"target_user": "bob@acme.test", "old_role": "Member", "new_role": "Admin"}),
        role_change("self", {"target_user": "carol@acme.test", "old_role": "Viewer", "new_role": "Org Admin"},
                    user_email="carol@acme.test", user_name="Carol"),
        {"id": "api", "orgId": "acme", "date": at(MONDAY_NOON), "logType": "User Management",
         "logName": "Role Changed", "userEmail": "alice@acme.test", "memberRoles": ["Admin"]},
        role_change("down", {"target_user": "bob@acme.test", "old_role": "Admin", "new_role": "Member"}),
        role_change("sideways",
                    {"target_user": "bob@acme.test", "old_role": "Admin", "new_role": "Super Admin"}),
        role_change("plain", {"target_user": "bob@acme.test", "old_role": "Viewer", "new_role": "Member"}),
    ]
    rows = {row[4][0]: row for row in findings(paths, records, rules.ROLE_RAISED_TO_ADMIN)}
    assert set(rows) == {"grant", "self", "api"}
    assert rows["grant"][1] == "high"
    assert rows["grant"][5] == "alice@acme.test changed the role of bob@acme.test from Member to Admin"
    assert rows["self"][1] == "critical"
    assert rows["self"][5] == "carol@acme.test raised their own role from Viewer to Org Admin"


# (d) administrative actions outside working hours

def admin_action(event_id: str, moment: datetime, action: str = "Policy Deleted",
                 log_type: str = "Policy") -> dict[str, Any]:
    return event(event_id, log_type=log_type, action=action, occurred_at=at(moment))


def test_admin_actions_at_night_and_on_weekends_fire(paths: Paths) -> None:
    monday = MONDAY_NOON.replace(hour=0)
    records = [
        admin_action("mon-2205", monday + timedelta(hours=22, minutes=5)),
        admin_action("tue-0130", monday + timedelta(days=1, hours=1, minutes=30),
                     "Settings Changed", "Settings"),
        admin_action("tue-0600", monday + timedelta(days=1, hours=6)),
        admin_action("tue-2159", monday + timedelta(days=1, hours=21, minutes=59)),
        admin_action("sat-1200", monday + timedelta(days=5, hours=12), "User Invited", "User Management"),
        event("login-0300", occurred_at=at(monday + timedelta(days=2, hours=3))),
    ]
    rows = findings(paths, records, rules.OFF_HOURS_ADMIN_ACTION)
    assert [row[4] for row in rows] == [["mon-2205", "tue-0130"], ["sat-1200"]]
    assert rows[0][5] == (
        "2 administrative action(s) (Policy Deleted, Settings Changed) by alice@acme.test between 22:05 and "
        "01:30 UTC on Monday 2026-11-16, outside working hours (Monday to Friday, 06:00 to 22:00 UTC)"
    )


# (e) audit log export reconfigured

def test_audit_export_switched_off_is_high_and_other_changes_low(paths: Paths) -> None:
    records = [
        event("off", log_type="Settings", action="Audit Log Export Configured", occurred_at=at(MONDAY_NOON),
              additional_info={"enabled": False, "s3_bucket": "acme-audit"}),
        event("changed", log_type="Settings", action="Audit Log Export Configured",
              occurred_at=at(MONDAY_NOON + timedelta(hours=1)),
              additional_info={"enabled": True, "s3_bucket": "acme-audit-2", "frequency_hours": 6}),
        event("other", log_type="Settings", action="Settings Changed", occurred_at=at(MONDAY_NOON)),
    ]
    rows = findings(paths, records, rules.AUDIT_EXPORT_CHANGED)
    assert [(row[4], row[1]) for row in rows] == [(["off"], "high"), (["changed"], "low")]
    assert rows[0][5] == "alice@acme.test switched the audit log export off"
    assert rows[1][5] == ("alice@acme.test changed the audit log export configuration "
                          "(bucket acme-audit-2, every 6 h)")


# (f) mass user removal

def removal(event_id: str, moment: datetime, target: str) -> dict[str, Any]:
    return event(event_id, log_type="User Management", action="User Removed", occurred_at=at(moment),
                 additional_info={"target_user": target})


def test_many_removals_by_one_person_within_an_hour_fire(paths: Paths) -> None:
    records = [removal(f"r{i}", MONDAY_NOON + timedelta(minutes=10 * i), f"u{i}@acme.test") for i in range(6)]
    rows = findings(paths, records, rules.MASS_USER_REMOVAL)
    assert [(row[1], row[3]) for row in rows] == [("high", 6)]
    assert rows[0][5].startswith(
        "alice@acme.test removed 6 users within 50 minutes (u0@acme.test, u1@acme.test")


def test_removals_spread_out_do_not_fire(paths: Paths) -> None:
    records = [removal(f"r{i}", MONDAY_NOON + timedelta(minutes=16 * i), f"u{i}@acme.test") for i in range(6)]
    assert findings(paths, records, rules.MASS_USER_REMOVAL) == []


def test_quiet_day_has_no_findings_at_all(paths: Paths) -> None:
    records = [login(f"l{i}", MONDAY_NOON + timedelta(hours=i), "10.0.0.1") for i in range(6)]
    records += [admin_action("policy", MONDAY_NOON), failed_login("one-typo", MONDAY_NOON)]
    assert findings(paths, records, rules.FAILED_LOGIN_BURST) == []
    with database.open_reader(paths) as connection:
        assert connection.execute("SELECT count(*) FROM suspicious_activity").fetchone() == (0,)
