"""When an export is due: first at `first_export_at`, then every `frequency_hours` on full UTC hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

HOUR = timedelta(hours=1)


def is_export_due(first_export_at: datetime, frequency_hours: int, tick: datetime) -> bool:
    """Whether the hourly tick at `tick` is one of the export's run times."""
    tick = tick.astimezone(UTC)
    if tick < first_export_at or tick.minute or tick.second or tick.microsecond:
        return False
    hours_since_first = (tick - first_export_at) // HOUR
    return hours_since_first % frequency_hours == 0


def next_export_at(first_export_at: datetime, frequency_hours: int, now: datetime) -> datetime:
    """The first run time at or after `now`."""
    now = now.astimezone(UTC)
    if now <= first_export_at:
        return first_export_at
    elapsed_hours = -(-(now - first_export_at) // HOUR)  # ceiling
    periods = -(-elapsed_hours // frequency_hours)
    return first_export_at + periods * frequency_hours * HOUR
