"""Everyday activity drawn in bulk with numpy: logins, scans, alerts, tickets, admin changes, exports."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit_pipeline.generator.kinds import (
    KINDS,
    PRIVILEGED,
    SCAN_DURATION_SIGMA,
    SCAN_FAILURE_SHARE,
    SCAN_MEDIAN_SECONDS,
    SYSTEM,
    kind_index,
)
from audit_pipeline.generator.population import Population
from audit_pipeline.generator.slots import slot_table
from audit_pipeline.generator.timing import HOURS_CODES, MICROS_PER_SECOND, sample_times

CAMEL_SHARE = 0.3
TARGETED_DETAILS = frozenset({"role_change", "target_user"})


def _episodes(rng: np.random.Generator, count: int) -> np.ndarray:
    """Kinds of episodes whose events (a scan is two) add up to exactly `count`."""
    weights = np.array([kind.weight for kind in KINDS])
    sizes = np.array([2 if kind.starts_scan else 1 for kind in KINDS])
    episodes = rng.choice(len(KINDS), size=count, p=weights / weights.sum())
    produced = np.cumsum(sizes[episodes])
    keep = int(np.searchsorted(produced, count, side="right"))
    episodes = episodes[:keep]
    if keep == 0 or produced[keep - 1] < count:
        episodes = np.append(episodes, kind_index("Login"))
    return episodes


def _actors(rng: np.random.Generator, population: Population, orgs: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    actor_kind = np.array([kind.actor for kind in KINDS])[kinds]
    users = np.full(len(kinds), -1, dtype=np.int32)
    for org in range(len(population.org_ids)):
        members = population.members(org)
        weights = population.user_weight[members]
        privileged = members[population.user_privileged[members]]
        privileged_weights = population.user_weight[privileged]
        anyone = (orgs == org) & (actor_kind != SYSTEM) & (actor_kind != PRIVILEGED)
        admins = (orgs == org) & (actor_kind == PRIVILEGED)
        users[anyone] = rng.choice(members, size=int(anyone.sum()), p=weights / weights.sum())
        users[admins] = rng.choice(privileged, size=int(admins.sum()),
                                   p=privileged_weights / privileged_weights.sum())
    return users


def background_slots(
    rng: np.random.Generator, population: Population, count: int, start_us: int, end_us: int
) -> pa.Table:
    """`count` everyday events between start and end."""
    if count <= 0:
        return slot_table({"org_idx": [], "user_idx": [], "kind_idx": [], "at_us": [], "rand": []})
    episodes = _episodes(rng, count)
    orgs = rng.choice(len(population.org_ids), size=len(episodes), p=population.org_weights)
    users = _actors(rng, population, orgs, episodes)
    hours = np.array([HOURS_CODES[kind.hours] for kind in KINDS])[episodes]
    times = sample_times(rng, hours, start_us, end_us)

    scans = np.flatnonzero(np.array([kind.starts_scan for kind in KINDS])[episodes])
    failed = rng.random(len(scans)) < SCAN_FAILURE_SHARE
    durations = rng.lognormal(np.log(SCAN_MEDIAN_SECONDS), SCAN_DURATION_SIGMA, len(scans))
    durations = np.where(failed, durations * 0.3, durations).round(1)
    ends = np.minimum(times[scans] + (durations * MICROS_PER_SECOND).astype(np.int64), end_us - 1)
    end_kinds = np.where(failed, kind_index("Scan Failed"), kind_index("Scan Completed"))
    scan_no = np.full(len(episodes), -1, dtype=np.int64)
    scan_no[scans] = np.arange(len(scans))

    org_col = np.concatenate([orgs, orgs[scans]])
    total = len(org_col)
    org_sizes = np.bincount(population.user_org, minlength=len(population.org_ids))
    detail = np.array([kind.detail for kind in KINDS])[np.concatenate([episodes, end_kinds])]
    targets = np.where(np.isin(detail, list(TARGETED_DETAILS)),
                       (rng.random(total) * org_sizes[org_col]).astype(np.int32), -1)
    return slot_table({
        "org_idx": org_col,
        "user_idx": np.concatenate([users, users[scans]]),
        "kind_idx": np.concatenate([episodes, end_kinds]),
        "at_us": np.concatenate([times, ends]),
        "camel": rng.random(total) < CAMEL_SHARE,
        "rand": rng.integers(0, 2**32, total, dtype=np.int64),
        "detail_a": rng.integers(0, 2**31, total, dtype=np.int64),
        "detail_b": rng.integers(0, 2**31, total, dtype=np.int64),
        "scan_no": np.concatenate([scan_no, scan_no[scans]]),
        "duration_s": np.concatenate([np.full(len(episodes), np.nan), durations]),
        "target_rank": targets,
    })
