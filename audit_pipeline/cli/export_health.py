"""The health columns of `export list` and the health section of `export show`."""

from __future__ import annotations

from collections.abc import Sequence

from audit_pipeline.cli.output import CliError
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.health import ExportHealth, health_of
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import DatabaseBusyError


def healths(paths: Paths, configs: Sequence[ExportConfig]) -> dict[str, ExportHealth]:
    try:
        return health_of(paths, configs)
    except DatabaseBusyError as error:
        raise CliError(f"export health unknown for now, the database is busy ({error}): try again",
                       exit_code=1) from error


def health_fields(health: ExportHealth) -> dict[str, object]:
    """The documented health fields, without the name the caller's view already has."""
    return {key: value for key, value in health.as_dict().items() if key != "name"}


def health_line(health: ExportHealth) -> str:
    lag = f"{health.lag_seconds / 3600:.1f} h" if health.lag_seconds is not None else "none delivered yet"
    line = (f"{health.state}: lag {lag}, last cutoff {health.as_dict()['last_cutoff_at'] or '-'}, "
            f"{health.consecutive_failures} failure(s) in a row")
    return line + (f"; last error: {health.last_error}" if health.last_error else "")
