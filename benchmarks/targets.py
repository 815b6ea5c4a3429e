"""The targets the figures are held to, and whether each holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    """A figure held to a limit: at most the limit, or with `at_least`, at least it."""

    name: str
    section: str
    figure: str
    limit: float
    unit: str
    meaning: str
    at_least: bool = False

    @property
    def comparison(self) -> str:
        return ">=" if self.at_least else "<="

    def evaluate(self, figures: dict[str, Any]) -> dict[str, object]:
        measured = figures.get(self.section, {}).get(self.figure)
        holds = None
        if measured is not None:
            holds = bool(measured >= self.limit) if self.at_least else bool(measured <= self.limit)
        return {
            "target": self.name,
            "measured": measured,
            "comparison": self.comparison,
            "limit": self.limit,
            "unit": self.unit,
            "meaning": self.meaning,
            "holds": holds,
        }


TARGETS = (
    Target("small-batch ingest, large vs small history", "small_batch_ingest", "ratio", 1.3, "x",
           "end-to-end `audit-pipeline ingest` of a small batch (ingestion + every view + checks) with the large "
           "history / with the small one"),
    Target("bulk ingest", "bulk_ingest", "ratio", 2.0, "x raw",
           "end-to-end `audit-pipeline ingest` of N events / raw INSERT INTO lake.events SELECT ... FROM read_json"),
    Target("export (plain)", "export", "s3_plain_ratio", 2.0, "x raw",
           "pipeline export to local S3 / raw COPY to JSON files"),
    Target("export (gzip)", "export", "s3_gzip_ratio", 2.0, "x raw",
           "pipeline gzip export to local S3 / raw COPY with COMPRESSION gzip"),
    Target("hourly export, large vs small history", "window_export", "ratio", 1.3, "x",
           "one-hour window export time with the large history / with the small one"),
    Target("page p95 while ingesting (worst shape)", "query", "worst_shape_p95_ms", 100.0, "ms",
           "p95 of first page + total + facets over the large history, the slowest of the query shapes, while "
           "`audit-pipeline ingest` keeps committing into the same lake"),
    Target("export peak RSS", "export_memory", "peak_rss_mib", 1024.0, "MiB",
           "peak resident memory of the process exporting M events"),
    Target("exports due at once, 2 workers vs 1 (PostgreSQL)", "shared_deployment", "export_two_worker_ratio", 0.6,
           "x", "wall time of the export configs due at the same hour (each a Dagster run of the export job) run by "
           "two worker processes at once / by one worker, on a PostgreSQL catalog"),
    Target("ingest from 2 workers at once (PostgreSQL)", "shared_deployment", "ingest_two_worker_speedup", 1.5,
           "x", "combined events/s of two `audit-pipeline ingest` commands, each a machine with its own home and "
           "feed, on one PostgreSQL catalog and data path / one command alone; no event lost or stored twice",
           at_least=True),
    Target("page p95 while ingesting, PostgreSQL catalog (worst shape)", "shared_deployment",
           "page_worst_shape_p95_ms", 100.0, "ms",
           "the page figure (`page p95 while ingesting`) on the same large history with its catalog in "
           "PostgreSQL"),
)


def evaluate(figures: dict[str, Any]) -> list[dict[str, object]]:
    return [target.evaluate(figures) for target in TARGETS]
