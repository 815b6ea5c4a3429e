"""The AWS role-based connector of an org: the external id generated before its export is configured.

Enabling the connector is the first step of setting an export up from the web page: the customer needs the
external id (in the role's trust policy) before the connection can be tested and the configuration saved.
The id is generated here and kept server side, never taken from a form; it stays pending until a new
configuration of the org is saved with it, and enabling the connector again meanwhile returns the same id,
so a trust policy already pasted into the customer's role stays right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from audit_pipeline.export.config import new_external_id, validate_org_id
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database

# A connector is pending while no configuration holds its external id.
PENDING_SQL = """
SELECT external_id, org_id, enabled_by, enabled_at FROM export_connectors c
WHERE org_id = ? AND NOT EXISTS (SELECT 1 FROM export_configs e WHERE e.external_id = c.external_id)
ORDER BY enabled_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class Connector:
    external_id: str
    org_id: str
    enabled_by: str
    enabled_at: datetime


def _connector(row: tuple[object, ...]) -> Connector:
    external_id, org_id, enabled_by, enabled_at = row
    assert isinstance(enabled_at, datetime)
    return Connector(str(external_id), str(org_id), str(enabled_by), enabled_at.astimezone(UTC))


def pending_connector(paths: Paths, org_id: str) -> Connector | None:
    """The org's enabled connector whose external id no configuration uses yet, if any."""
    try:
        with database.reader(paths) as connection:
            row = connection.execute(PENDING_SQL, [org_id]).fetchone()
    except database.DatabaseMissingError:
        return None
    return _connector(row) if row else None


def enable_connector(paths: Paths, org_id: str, enabled_by: str, now: datetime | None = None) -> tuple[
        Connector, bool]:
    """The org's pending connector, generating its external id when there is none; and whether it is new."""
    org_id = validate_org_id(org_id)
    now = (now or datetime.now(UTC)).astimezone(UTC)

    def write(connection: duckdb.DuckDBPyConnection) -> tuple[Connector, bool]:
        row = connection.execute(PENDING_SQL, [org_id]).fetchone()
        if row:
            return _connector(row), False
        while True:
            candidate = new_external_id()
            taken = connection.execute(
                "SELECT (SELECT count(*) FROM export_connectors WHERE external_id = ?) "
                "+ (SELECT count(*) FROM export_configs WHERE external_id = ?)", [candidate, candidate]
            ).fetchone()
            if not taken or not taken[0]:
                break
        connection.execute(
            "INSERT INTO export_connectors (external_id, org_id, enabled_by, enabled_at) VALUES (?, ?, ?, ?)",
            [candidate, org_id, enabled_by, now],
        )
        return Connector(candidate, org_id, enabled_by, now), True

    return database.write_transaction(paths, write, what="connector")
