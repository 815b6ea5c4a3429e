"""Asking a running Dagster webserver to reload its code locations, so a changed export config is live.

Dagster builds one schedule per export config when it loads the code; a config saved from the CLI or the
page therefore asks the webserver (Dagster's GraphQL client) to reload. No webserver running is normal
(the next start loads the configs): the caller says so and carries on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

WEBSERVER_ENV = "AUDIT_PIPELINE_DAGSTER_WEBSERVER"
DEFAULT_WEBSERVER = "127.0.0.1:3000"
TIMEOUT_SECONDS = 60

LOCATIONS_QUERY = """
query AuditPipelineCodeLocations {
  workspaceOrError { __typename ... on Workspace { locationEntries { name } } }
}
"""


@dataclass(frozen=True)
class ReloadOutcome:
    reloaded: bool
    message: str


def webserver_address() -> tuple[str, int]:
    """Host and port from AUDIT_PIPELINE_DAGSTER_WEBSERVER (`host:port`), default 127.0.0.1:3000."""
    configured = os.environ.get(WEBSERVER_ENV, "").strip() or DEFAULT_WEBSERVER
    host, _, port = configured.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{WEBSERVER_ENV}={configured!r}: expected host:port, e.g. {DEFAULT_WEBSERVER}")
    return host, int(port)


def reload_code_locations() -> ReloadOutcome:
    """Reload every code location of the webserver; never raises for an absent or failing webserver."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus

    try:
        host, port = webserver_address()
    except ValueError as error:
        return ReloadOutcome(False, f"Dagster not reloaded: {error}")
    address = f"{host}:{port}"
    try:
        client = DagsterGraphQLClient(host, port_number=port, timeout=TIMEOUT_SECONDS)
        answer = client._execute(LOCATIONS_QUERY)
        entries = answer["workspaceOrError"].get("locationEntries") or []
        names = [entry["name"] for entry in entries]
        failures = []
        for name in names:
            info = client.reload_repository_location(name)
            if info.status != ReloadRepositoryLocationStatus.SUCCESS:
                failures.append(f"{name}: {info.message}")
    except DagsterGraphQLClientError:
        return ReloadOutcome(False, f"no Dagster webserver answered at {address}: a Dagster started later "
                                    "loads the change")
    if not names:
        return ReloadOutcome(False, f"the Dagster webserver at {address} has no code location to reload")
    if failures:
        return ReloadOutcome(False, f"Dagster at {address} could not reload: {'; '.join(failures)}")
    return ReloadOutcome(True, f"Dagster at {address} reloaded {', '.join(names)}: the change is live")
