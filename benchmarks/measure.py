"""Timing, percentiles and progress lines: the small tools every benchmark section shares."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_STARTED = time.monotonic()


def progress(message: str) -> None:
    """One line on stderr, stamped with the seconds since the run started."""
    print(f"[bench {time.monotonic() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Stopwatch:
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """Wall-clock seconds of the `with` block, and the CPU seconds this process (all its threads) spent in it.

    On a shared machine the wall clock also counts the time other processes held the cores; CPU time does
    not, so a ratio of CPU times stays comparable when the load changes between two measurements.
    """
    watch = Stopwatch()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - started
        watch.cpu_seconds = time.process_time() - cpu_started


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), so p95 of few samples is not just the max."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(samples: Sequence[float]) -> float:
    return percentile(samples, 0.5)


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def busy_cpu_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (every process, not idle, not waiting)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: other work on the machine slows every figure."""
    return [round(value, 2) for value in os.getloadavg()]


@dataclass
class Section:
    """What one benchmark section found: its figures plus the machine load around it."""

    name: str
    figures: dict[str, object] = field(default_factory=dict)
    load_before: list[float] = field(default_factory=load_average)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {**self.figures, "load_before": self.load_before, "load_after": load_average(),
                "section_seconds": round(self.seconds, 2)}


def rounded(seconds: float) -> float:
    return round(seconds, 4)


@dataclass
class Samples:
    """Repeated measurements of one thing, wall clock and CPU."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, watch: Stopwatch) -> None:
        self.wall.append(watch.seconds)
        self.cpu.append(watch.cpu_seconds)

    def as_dict(self) -> dict[str, list[float]]:
        return {"wall": [rounded(s) for s in self.wall], "cpu": [rounded(s) for s in self.cpu]}


def compare(pipeline: Samples, raw: Samples) -> dict[str, float | None]:
    """Medians of both and their ratios, by wall clock (the target) and by CPU time (robust to load)."""
    wall, raw_wall = median(pipeline.wall), median(raw.wall)
    cpu, raw_cpu = median(pipeline.cpu), median(raw.cpu)
    wall_ratio, cpu_ratio = ratio(wall, raw_wall), ratio(cpu, raw_cpu)
    return {
        "pipeline_seconds": rounded(wall), "raw_seconds": rounded(raw_wall),
        "ratio": round(wall_ratio, 2) if wall_ratio is not None else None,
        "pipeline_cpu_seconds": rounded(cpu), "raw_cpu_seconds": rounded(raw_cpu),
        "cpu_ratio": round(cpu_ratio, 2) if cpu_ratio is not None else None,
    }
