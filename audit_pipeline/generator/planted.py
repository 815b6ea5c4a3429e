"""Suspicious patterns planted into each org, one per rule of `audit_pipeline.derived.rules`.

All of them happen on one full weekday inside the window (the org's "incident day"), so every rule sees
exactly the shape it is meant to catch; the rest of the day is ordinary background activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from audit_pipeline.derived import rules
from audit_pipeline.generator.kinds import kind_index
from audit_pipeline.generator.population import PRIVILEGED_ROLES, Population
from audit_pipeline.generator.slots import slot_table
from audit_pipeline.generator.timing import MICROS_PER_SECOND

PLANTED_PER_ORG = 21
BURST_IP_PREFIX = "198.51.100."  # TEST-NET-2: the password-guessing source
NEW_IP_PREFIX = "203.0.113."  # TEST-NET-3: the unfamiliar address a known user suddenly logs in from


@dataclass
class _Plan:
    """Planted rows of one org, in slot columns."""

    org: int
    day: datetime
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, user: int, action: str, at: timedelta, info: dict[str, Any] | None = None,
            rule: str | None = None, ip: str | None = None, camel: bool = False) -> None:
        moment = self.day + at
        self.rows.append({
            "org_idx": self.org, "user_idx": user, "kind_idx": kind_index(action),
            "at_us": int(moment.timestamp()) * MICROS_PER_SECOND, "camel": camel,
            "ip_override": ip, "info_override": json.dumps(info) if info is not None else None,
            "plant_rule": rule,
        })


def incident_days(start: datetime, end: datetime) -> list[datetime]:
    """Weekdays whose whole UTC day lies inside [start, end)."""
    first = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if start == start.replace(hour=0, minute=0, second=0, microsecond=0):
        first = start
    days = []
    day = first
    while day + timedelta(days=1) <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def _org_plan(population: Population, org: int, day: datetime) -> _Plan:
    members = population.members(org)
    admins = [int(u) for u in members if population.user_role[u] == "Admin"]
    regular = [int(u) for u in members if population.user_role[u] not in PRIVILEGED_ROLES]
    if len(regular) < 9:
        regular = [int(u) for u in members if int(u) not in admins[:2]]
    remover, granter = admins[0], admins[1]
    victim, traveller, promoted, removed = regular[0], regular[1], regular[2], regular[3:9]
    emails = population.user_email
    plan = _Plan(org, day)

    plan.add(remover, "Policy Deleted", timedelta(hours=2, minutes=10),
             {"policy_name": "Block critical vulnerabilities"}, rules.OFF_HOURS_ADMIN_ACTION)
    plan.add(remover, "Integration Disconnected", timedelta(hours=2, minutes=24),
             {"integration": "Slack"}, rules.OFF_HOURS_ADMIN_ACTION)
    for i, user in enumerate(removed):
        plan.add(remover, "User Removed", timedelta(hours=9, minutes=5 * i),
                 {"target_user": emails[user]}, rules.MASS_USER_REMOVAL)
    for hour in range(10, 14):
        plan.add(traveller, "Login", timedelta(hours=hour), {"login_type": "password"})
    plan.add(traveller, "Login", timedelta(hours=14), {"login_type": "password"}, rules.LOGIN_FROM_NEW_IP,
             ip=f"{NEW_IP_PREFIX}{10 + org % 240}")
    new_role = {"target_user": emails[promoted], "old_role": population.user_role[promoted],
                "new_role": "Admin", "member_roles": ["Admin"]}
    plan.add(granter, "Role Changed", timedelta(hours=11, minutes=30), new_role, rules.ROLE_RAISED_TO_ADMIN,
             camel=org % 2 == 1)
    for i in range(6):
        plan.add(victim, "Login Failed", timedelta(hours=13, seconds=45 * i),
                 {"login_type": "password", "failure_reason": "wrong password"}, rules.FAILED_LOGIN_BURST,
                 ip=f"{BURST_IP_PREFIX}{10 + org % 240}")
    plan.add(granter, "Audit Log Export Configured", timedelta(hours=15, minutes=30),
             {"s3_bucket": f"{population.org_ids[org]}-audit-logs", "s3_region": "eu-west-1",
              "frequency_hours": 24, "enabled": False}, rules.AUDIT_EXPORT_CHANGED)
    return plan


def planted_slots(rng: np.random.Generator, population: Population, start: datetime, end: datetime,
                  budget: int) -> pa.Table:
    """The planted patterns for as many orgs as `budget` events allow (none without a full weekday)."""
    days = incident_days(start.astimezone(UTC), end.astimezone(UTC))
    orgs = min(len(population.org_ids), budget // PLANTED_PER_ORG) if days else 0
    rows = [row for org in range(orgs)
            for row in _org_plan(population, org, days[int(rng.integers(0, len(days)))]).rows]
    columns: dict[str, Any] = {name: [row[name] for row in rows] for name in (
        "org_idx", "user_idx", "kind_idx", "at_us", "camel", "ip_override", "info_override", "plant_rule")}
    columns["rand"] = rng.integers(0, 2**32, len(rows), dtype=np.int64)
    return slot_table(columns)
