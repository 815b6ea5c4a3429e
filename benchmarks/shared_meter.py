"""Where the machine's time went while several workers ran: the profile beside every shared-deployment figure.

Around a measurement: the CPU seconds the whole machine spent busy (every process: the workers, the catalog
server, the moto S3 stand-in, anything else running), the catalog server's own, this process's own (it serves
moto during the export figure and otherwise only waits), and the catalog database's counters (transactions
committed and rolled back, snapshots). Busy cores = busy CPU seconds / wall seconds: on 2 cores a figure near
2.0 means the work was CPU-bound on the whole machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from benchmarks.measure import busy_cpu_seconds
from benchmarks.postgres import Server


@dataclass
class Meter:
    server: Server | None = None
    catalog_url: str | None = None
    _started: dict[str, float] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self._counters = self._catalog_counters()
        self._started = {"wall": time.perf_counter(), "busy": busy_cpu_seconds(), "own": time.process_time(),
                         "server": self.server.cpu_seconds() if self.server else 0.0}

    def stop(self) -> dict[str, object]:
        wall = time.perf_counter() - self._started["wall"]
        busy = busy_cpu_seconds() - self._started["busy"]
        figures: dict[str, object] = {
            "machine_busy_cpu_seconds": round(busy, 2),
            "machine_busy_cores": round(busy / wall, 2) if wall > 0 else None,
            "benchmark_process_cpu_seconds": round(time.process_time() - self._started["own"], 2),
        }
        if self.server is not None:
            figures["catalog_server_cpu_seconds"] = round(self.server.cpu_seconds() - self._started["server"], 2)
        if self.server is not None and self.catalog_url is not None:
            time.sleep(1.0)  # the server publishes a backend's counters at most once a second
            after = self._catalog_counters()
            figures["catalog"] = {name: after[name] - self._counters.get(name, 0) for name in after}
        return figures

    @staticmethod
    def others(usage: dict[str, object], workers_cpu_seconds: float) -> float:
        """CPU seconds the machine spent on anything but the workers, the catalog server and this process: other
        work on a shared machine that took cores from the measurement."""
        accounted = workers_cpu_seconds + float(usage.get("catalog_server_cpu_seconds", 0.0))  # type: ignore[arg-type]
        accounted += float(usage["benchmark_process_cpu_seconds"])  # type: ignore[arg-type]
        return round(max(0.0, float(usage["machine_busy_cpu_seconds"]) - accounted), 1)  # type: ignore[arg-type]

    def _catalog_counters(self) -> dict[str, int]:
        if self.server is None or self.catalog_url is None:
            return {}
        return {**self.server.transactions(self.catalog_url), "snapshots": self.server.snapshots(self.catalog_url)}
