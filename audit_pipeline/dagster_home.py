"""The Dagster instance settings that the pipeline relies on, written into DAGSTER_HOME."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from audit_pipeline.settings import Paths

DAGSTER_YAML = """\
telemetry:
  enabled: false
freshness:
  enabled: true
concurrency:
  pools:
    default_limit: 1
  runs:
    tag_concurrency_limits:
      - key: "audit_pipeline/export_config"
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


STORAGE_READY_MARKER = ".storage-initialized"


def ensure_dagster_home(paths: Paths) -> Path:
    """Create DAGSTER_HOME with our dagster.yaml (an existing one is left alone) and export it.

    Dagster's SQLite storage can be stamped twice when several processes open a fresh home at once, which
    breaks every later run; so the first process creates it under a file lock and leaves a marker.
    """
    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    if not (home / STORAGE_READY_MARKER).exists():
        _initialize_storage(home)
    return home


def _initialize_storage(home: Path) -> None:
    import dagster as dg

    with (home / ".storage-init.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / STORAGE_READY_MARKER).exists():
            return
        with dg.DagsterInstance.get():
            pass
        (home / STORAGE_READY_MARKER).write_text("Dagster storage created\n")
