"""When events happen: a working-day rhythm in UTC, drawn by rejection sampling over the whole window."""

from __future__ import annotations

import numpy as np

from audit_pipeline.generator.kinds import ANY_TIME, DIURNAL, OFFICE

MICROS_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday is 0

# Relative activity per UTC hour for people: busy 08-18, quieter evenings, little at night.
DIURNAL_BY_HOUR = np.array([0.04, 0.03, 0.03, 0.03, 0.04, 0.08, 0.2, 0.45, 0.85, 1.0, 1.0, 1.0,
                            0.9, 1.0, 1.0, 1.0, 0.95, 0.8, 0.55, 0.35, 0.25, 0.15, 0.1, 0.06])
WEEKEND_FACTOR = 0.2
OFFICE_HOURS = (7, 20)  # administrative changes happen on weekdays, 07:00-20:00 UTC
HOURS_CODES = {DIURNAL: 0, OFFICE: 1, ANY_TIME: 2}
MAX_ROUNDS = 200


def hour_and_weekday(micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seconds = micros // MICROS_PER_SECOND
    days = seconds // SECONDS_PER_DAY
    return (seconds % SECONDS_PER_DAY) // 3600, (days + EPOCH_WEEKDAY) % 7


def _acceptance(micros: np.ndarray, hours_code: np.ndarray) -> np.ndarray:
    hour, weekday = hour_and_weekday(micros)
    weekend = weekday >= 5
    diurnal = DIURNAL_BY_HOUR[hour] * np.where(weekend, WEEKEND_FACTOR, 1.0)
    office = ((~weekend) & (hour >= OFFICE_HOURS[0]) & (hour < OFFICE_HOURS[1])).astype(float)
    return np.select([hours_code == 0, hours_code == 1], [diurnal, office], default=1.0)


def sample_times(rng: np.random.Generator, hours_code: np.ndarray, start_us: int, end_us: int) -> np.ndarray:
    """One timestamp (microseconds since the epoch) per row, following each row's rhythm.

    A row whose rhythm never occurs in the window (office hours in a weekend-only window) is placed
    uniformly once the rounds run out, rather than looping forever.
    """
    times = np.empty(len(hours_code), dtype=np.int64)
    pending = np.arange(len(hours_code))
    for _ in range(MAX_ROUNDS):
        if len(pending) == 0:
            return times
        candidates = rng.integers(start_us, end_us, len(pending), dtype=np.int64)
        accepted = rng.random(len(pending)) < _acceptance(candidates, hours_code[pending])
        times[pending[accepted]] = candidates[accepted]
        pending = pending[~accepted]
    times[pending] = rng.integers(start_us, end_us, len(pending), dtype=np.int64)
    return times
