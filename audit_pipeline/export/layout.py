"""Where export files go in the customer's bucket; fixed by the platform, only the prefix is the customer's.

`[<prefix>/]audit-logs/org_id=<org>/dt=<YYYY-MM-DD>/hour=<HH>/<cutoff>_<export number>_part-<n>.json[.gz]`,
with dt/hour of the export's cutoff in UTC. Names sort in export order and are the same on every retry.
"""

from __future__ import annotations

from datetime import UTC, datetime

ROOT_FOLDER = "audit-logs"
DIGEST_FOLDER = "audit-logs-digest"  # beside ROOT_FOLDER, so tables over ROOT_FOLDER never read a digest
CONNECTION_TEST_FOLDER = "_connection-test"
EXPORT_NUMBER_DIGITS = 8
PART_NUMBER_DIGITS = 4


def _with_prefix(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def export_folder(prefix: str, org_id: str, cutoff_at: datetime) -> str:
    cutoff = cutoff_at.astimezone(UTC)
    return _with_prefix(
        prefix, f"{ROOT_FOLDER}/org_id={org_id}/dt={cutoff:%Y-%m-%d}/hour={cutoff:%H}"
    )


def part_file_name(cutoff_at: datetime, export_number: int, part_number: int, gzip: bool) -> str:
    cutoff = cutoff_at.astimezone(UTC)
    suffix = ".json.gz" if gzip else ".json"
    return (f"{cutoff:%Y%m%dT%H%M%SZ}_{export_number:0{EXPORT_NUMBER_DIGITS}d}"
            f"_part-{part_number:0{PART_NUMBER_DIGITS}d}{suffix}")


def part_key(
    prefix: str, org_id: str, cutoff_at: datetime, export_number: int, part_number: int, gzip: bool
) -> str:
    name = part_file_name(cutoff_at, export_number, part_number, gzip)
    return f"{export_folder(prefix, org_id, cutoff_at)}/{name}"


def connection_test_key(prefix: str, moment: datetime, token: str) -> str:
    stamp = f"{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return _with_prefix(prefix, f"{CONNECTION_TEST_FOLDER}/{stamp}-{token}.txt")
