"""How each export is doing: healthy, late, failing, disabled or pending, and why.

The state comes from two sources: the store's bookkeeping (the last delivered export and its cutoff) and
Dagster's run history (the failed export runs since the last successful one). `assess` is the pure rule;
`health_of` gathers its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.delivery_status import LastDelivery, last_deliveries
from audit_pipeline.settings import Paths

if TYPE_CHECKING:
    from audit_pipeline.export.run_history import FailureStreak

HEALTHY = "healthy"
LATE = "late"
FAILING = "failing"
DISABLED = "disabled"
PENDING = "pending"  # enabled, never delivered, and its first export is not overdue yet
STATES = (HEALTHY, LATE, FAILING, DISABLED, PENDING)

# A scheduled export starts on the full hour and takes a while: it counts as missed only after this grace.
GRACE = timedelta(minutes=15)
MISSED_FOR_ERROR = 2


@dataclass(frozen=True)
class ExportHealth:
    name: str
    state: str
    last_success_at: datetime | None
    last_cutoff_at: datetime | None
    lag_seconds: float | None
    consecutive_failures: int
    last_error: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": self.state,
            "last_success_at": _iso(self.last_success_at),
            "last_cutoff_at": _iso(self.last_cutoff_at),
            "lag_seconds": self.lag_seconds,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def missed_exports(config: ExportConfig, last_cutoff_at: datetime | None, now: datetime) -> int:
    """How many run times (each given the grace) have passed since the data last caught up.

    With no delivery yet the first run time itself counts, so a never-delivered export is one missed
    export at `first_export_at + GRACE`.
    """
    period = timedelta(hours=config.frequency_hours)
    elapsed = now - (last_cutoff_at or config.first_export_at) - GRACE
    if last_cutoff_at is None:
        return 0 if elapsed < timedelta(0) else 1 + elapsed // period
    return max(0, elapsed // period)


def assess(
    config: ExportConfig,
    delivery: LastDelivery | None,
    failures: FailureStreak,
    now: datetime,
) -> ExportHealth:
    """The rule: disabled beats failing, failing beats late; lag is measured from the delivered cutoff."""
    now = now.astimezone(UTC)
    lag = (now - delivery.cutoff_at).total_seconds() if delivery else None
    if not config.enabled:
        state = DISABLED
    elif failures.consecutive:
        state = FAILING
    elif missed_exports(config, delivery.cutoff_at if delivery else None, now):
        state = LATE
    elif delivery is None:
        state = PENDING
    else:
        state = HEALTHY
    return ExportHealth(
        name=config.name,
        state=state,
        last_success_at=delivery.delivered_at if delivery else None,
        last_cutoff_at=delivery.cutoff_at if delivery else None,
        lag_seconds=lag,
        consecutive_failures=failures.consecutive,
        last_error=failures.last_error if failures.consecutive else None,
    )


@dataclass(frozen=True)
class HealthVerdict:
    severity: str | None  # None: passing; else "WARN" or "ERROR"
    description: str


def health_verdict(config: ExportConfig, health: ExportHealth, now: datetime) -> HealthVerdict:
    """WARN once an export is missed (lag > frequency + GRACE, or a failed run), ERROR after two."""
    if not config.enabled:
        return HealthVerdict(None, f"export {config.name} is disabled: nothing is expected")
    missed = max(missed_exports(config, health.last_cutoff_at, now.astimezone(UTC)), health.consecutive_failures)
    lag = f"lag {health.lag_seconds / 3600:.2f} h" if health.lag_seconds is not None else "nothing delivered yet"
    detail = (f"{lag}, {health.consecutive_failures} failed run(s) in a row (every {config.frequency_hours} h "
              f"expected)" + (f"; last error: {health.last_error}" if health.last_error else ""))
    if missed >= MISSED_FOR_ERROR:
        return HealthVerdict("ERROR", f"{missed} exports missed: {detail}")
    if missed:
        return HealthVerdict("WARN", f"an export was missed: {detail}")
    return HealthVerdict(None, f"{health.state}: {detail}")


def health_of(
    paths: Paths,
    configs: Sequence[ExportConfig],
    *,
    now: datetime | None = None,
    instance: object | None = None,
) -> dict[str, ExportHealth]:
    """Each config's health by name. `instance` is a DagsterInstance to read the run history from (the
    one in DAGSTER_HOME when omitted)."""
    from audit_pipeline.export.run_history import failure_streaks

    moment = (now or datetime.now(UTC)).astimezone(UTC)
    deliveries = last_deliveries(paths, [c.config_id for c in configs])
    streaks = failure_streaks(paths, [c.name for c in configs], instance=instance)
    return {
        config.name: assess(config, deliveries.get(config.config_id), streaks[config.name], moment)
        for config in configs
    }
