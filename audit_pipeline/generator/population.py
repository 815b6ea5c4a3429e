"""The orgs and users the synthetic events are about: names, emails, roles, home IPs and browsers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

ORG_NAMES = ("acme", "globex", "initech", "umbrella", "hooli", "soylent", "stark", "wayne", "wonka", "tyrell",
             "cyberdyne", "oscorp", "massive", "vandelay", "pied-piper", "dunder")
FIRST_NAMES = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
               "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yasmin", "Zoe",
               "Amir", "Bea", "Chen", "Dmitri", "Elif", "Femi", "Goran", "Hana", "Ines", "Jonas", "Kenji")
LAST_NAMES = ("Adams", "Brown", "Clark", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kim",
              "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka", "Ueda",
              "Varga", "Weber", "Xu", "Yilmaz", "Zhang")
ROLES = ("Admin", "Security Lead", "Developer", "Member", "Viewer")
ROLE_WEIGHTS = (0.04, 0.08, 0.38, 0.30, 0.20)
PRIVILEGED_ROLES = frozenset({"Admin", "Security Lead"})
ADMINS_PER_ORG = 2
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "ox-cli/2.4.1 (linux; amd64)",
)
TARGET_USERS = 300
MIN_USERS_PER_ORG = 20
MAX_USERS_PER_ORG = 150
ACTIVITY_SKEW = 0.8


@dataclass(frozen=True)
class Population:
    """Orgs and users; user arrays are indexed by a global user index and grouped by org."""

    org_ids: list[str]
    org_weights: np.ndarray
    users: pa.Table
    user_org: np.ndarray
    user_weight: np.ndarray
    user_privileged: np.ndarray
    user_role: list[str]
    user_email: list[str]
    user_ip: list[str]

    def members(self, org: int) -> np.ndarray:
        return np.flatnonzero(self.user_org == org)


def org_ids(count: int) -> list[str]:
    return [ORG_NAMES[i] if i < len(ORG_NAMES) else f"org-{i + 1:03d}" for i in range(count)]


def build_population(rng: np.random.Generator, orgs: int) -> Population:
    per_org = int(np.clip(round(TARGET_USERS / orgs), MIN_USERS_PER_ORG, MAX_USERS_PER_ORG))
    ids = org_ids(orgs)
    org_col: list[int] = []
    rank_col: list[int] = []
    roles: list[str] = []
    names: list[str] = []
    emails: list[str] = []
    ips: list[str] = []
    for org, org_id in enumerate(ids):
        firsts = rng.integers(0, len(FIRST_NAMES), per_org)
        lasts = rng.integers(0, len(LAST_NAMES), per_org)
        drawn = rng.choice(len(ROLES), size=per_org, p=ROLE_WEIGHTS)
        for rank in range(per_org):
            first, last = FIRST_NAMES[firsts[rank]], LAST_NAMES[lasts[rank]]
            org_col.append(org)
            rank_col.append(rank)
            roles.append("Admin" if rank < ADMINS_PER_ORG else ROLES[drawn[rank]])
            names.append(f"{first} {last}")
            emails.append(f"{first}.{last}{rank}@{org_id}.example".lower())
            ips.append(f"10.{org % 250}.{rank // 250}.{rank % 250 + 1}")
    count = len(org_col)
    user_ids = [f"usr_{value:012x}" for value in rng.integers(0, 2**48, count)]
    agents = [USER_AGENTS[i] for i in rng.integers(0, len(USER_AGENTS), count)]
    weight = np.empty(count)
    for org in range(orgs):
        members = np.flatnonzero(np.array(org_col) == org)
        ranks = rng.permutation(len(members)) + 1
        weight[members] = 1.0 / ranks**ACTIVITY_SKEW
    users = pa.table({
        "user_idx": pa.array(np.arange(count, dtype=np.int32)),
        "org_idx": pa.array(np.array(org_col, dtype=np.int32)),
        "org_rank": pa.array(np.array(rank_col, dtype=np.int32)),
        "user_id": user_ids, "user_email": emails, "user_name": names, "user_role": roles,
        "source_ip": ips, "user_agent": agents,
    })
    org_weights = 1.0 / (np.arange(orgs) + 1) ** 0.7
    return Population(
        org_ids=ids, org_weights=org_weights / org_weights.sum(), users=users,
        user_org=np.array(org_col), user_weight=weight,
        user_privileged=np.array([role in PRIVILEGED_ROLES for role in roles]),
        user_role=roles, user_email=emails, user_ip=ips,
    )
