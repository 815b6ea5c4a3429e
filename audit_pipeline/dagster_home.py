"""The Dagster instance settings that the pipeline relies on, written into DAGSTER_HOME."""

from __future__ import annotations

import os
from pathlib import Path

from audit_pipeline.settings import Paths

DAGSTER_YAML = """\
telemetry:
  enabled: false
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


def ensure_dagster_home(paths: Paths) -> Path:
    """Create DAGSTER_HOME with our dagster.yaml (an existing one is left alone) and export it."""
    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
