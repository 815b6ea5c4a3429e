"""The export configs as Dagster loads the code, for the per-config schedules and checks.

Reading the store must never fail the code location: when it cannot be read the location loads without
per-config definitions and says why in its log.
"""

from __future__ import annotations

import logging

import duckdb

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.config_store import list_configs
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import DatabaseBusyError

logger = logging.getLogger(__name__)


def configs_at_load(paths: Paths) -> tuple[ExportConfig, ...]:
    try:
        return tuple(list_configs(paths))
    except (duckdb.Error, DatabaseBusyError, OSError, ValueError) as error:
        logger.error("per-export definitions not built: the export config store could not be read: %s", error)
        return ()
