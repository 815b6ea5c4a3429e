"""The Dagster instance settings that the pipeline relies on, written into DAGSTER_HOME.

On one machine the instance keeps its runs, schedules and event logs in SQLite files below DAGSTER_HOME. In a
shared deployment `AUDIT_PIPELINE_DAGSTER_PG=postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` puts them in
PostgreSQL (dagster-postgres), so the webserver, the daemon and run workers on different machines share run
history, schedule ticks, run queues and pool slots.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from audit_pipeline.settings import Paths

DAGSTER_PG_ENV = "AUDIT_PIPELINE_DAGSTER_PG"
GENERATED_HEADER = f"# Written by audit-pipeline from {DAGSTER_PG_ENV}; rewritten when that setting changes.\n"

_COMMON = """\
telemetry:
  enabled: false
freshness:
  enabled: true
concurrency:
  pools:
    default_limit: {pool_limit}
  runs:
{max_runs}    tag_concurrency_limits:
      - key: "audit_pipeline/export_config"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""

# One machine: the lake's SQLite catalog takes one writer at a time, so the `duckdb` pool holds one slot.
DAGSTER_YAML = _COMMON.format(pool_limit=1, max_runs="")

# Shared: writers on a PostgreSQL catalog commit side by side (a conflicting commit runs again), so two ingestion
# runs may hold the pool at once; exports are outside the pool and limited to one run per config by their tag.
SHARED_POOL_LIMIT = 2
# Exports of many configs fall due at the same full hour; each is a run of its own.
SHARED_MAX_CONCURRENT_RUNS = 20


class DagsterSettingError(ValueError):
    """AUDIT_PIPELINE_DAGSTER_PG cannot be turned into a Dagster storage setting."""


def _yaml_value(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)  # a JSON string is a YAML double-quoted scalar


def postgres_dagster_yaml(url: str) -> str:
    """dagster.yaml for an instance whose storage is the PostgreSQL database at `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise DagsterSettingError(
            f"{DAGSTER_PG_ENV} must look like postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE, not {url!r}"
        )
    fields: dict[str, str | int] = {
        "username": unquote(parts.username or "postgres"),
        "hostname": parts.hostname,
        "port": parts.port or 5432,
        "db_name": unquote(parts.path.strip("/")),
        # SQLAlchemy 2.1 no longer picks psycopg2 for a bare postgresql:// URL.
        "scheme": "postgresql+psycopg2",
    }
    if parts.password:
        fields["password"] = unquote(parts.password)
    database = "".join(f"      {key}: {_yaml_value(value)}\n" for key, value in fields.items())
    return (GENERATED_HEADER + _COMMON.format(pool_limit=SHARED_POOL_LIMIT,
                                                   max_runs=f"    max_concurrent_runs: {SHARED_MAX_CONCURRENT_RUNS}\n")
            + "storage:\n  postgres:\n    postgres_db:\n" + database)


def check_dagster_setting() -> None:
    """Raise DagsterSettingError when AUDIT_PIPELINE_DAGSTER_PG is set but unusable."""
    url = os.environ.get(DAGSTER_PG_ENV, "").strip()
    if url:
        postgres_dagster_yaml(url)


def _write_config(config: Path) -> None:
    url = os.environ.get(DAGSTER_PG_ENV, "").strip()
    if not url:
        if not config.exists():
            config.write_text(DAGSTER_YAML)
        return
    wanted = postgres_dagster_yaml(url)
    if config.exists():
        current = config.read_text()
        if current == wanted or (not current.startswith(GENERATED_HEADER) and current != DAGSTER_YAML):
            return  # the same, or a dagster.yaml of the operator's own: theirs wins
    config.write_text(wanted)
    config.chmod(0o600)  # it may hold the database password


def ensure_dagster_home(paths: Paths) -> Path:
    """Create DAGSTER_HOME with our dagster.yaml (one the operator wrote is left alone) and export it.

    Dagster's SQLite storage can be stamped twice when several processes open a fresh home at once, which
    breaks every later run; so the first process creates it under a file lock and leaves a marker.
    """
    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    _write_config(config)
    os.environ["DAGSTER_HOME"] = str(home)
    if not (home / STORAGE_READY_MARKER).exists():
        _initialize_storage(home)
    return home


STORAGE_READY_MARKER = ".storage-initialized"


def _initialize_storage(home: Path) -> None:
    import dagster as dg

    from audit_pipeline.dagster_pools import prepare_pools

    with (home / ".storage-init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / STORAGE_READY_MARKER).exists():
            return
        with dg.DagsterInstance.get() as instance:
            prepare_pools(instance)
        (home / STORAGE_READY_MARKER).write_text("Dagster storage created\n")
