"""What an ingestion run did, file by file and in total."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import PurePath


@dataclass
class IngestCounts:
    """What one ingestion run did; ingested + duplicates + quarantined = records read."""

    files: int = 0
    files_skipped: int = 0
    records: int = 0
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        self.records += other.records
        self.ingested += other.ingested
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        if other.first_seq is not None and self.first_seq is None:
            self.first_seq = other.first_seq
        if other.last_seq is not None:
            self.last_seq = other.last_seq
        for code, count in other.quarantine_reasons.items():
            self.quarantine_reasons[code] = self.quarantine_reasons.get(code, 0) + count

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


ProgressCallback = Callable[[PurePath, IngestCounts], None]
