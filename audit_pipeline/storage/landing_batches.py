"""When the files waiting in the landing folder are worth an ingestion run.

Every view, search and download on the page lands a one-event file under `landing/audit-reads/`. Starting an
ingestion run (derived views, reader snapshot) for each would let one page view start a full run by itself.
Audited reads therefore wait for company: they are ingested with the next other landed file, or on their own
once the oldest has waited `READS_MAX_WAIT` or `READS_BATCH_FILES` of them are waiting. Nothing is lost
meanwhile: the files stay in the landing folder until a run ingests them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

READS_SUBFOLDER = "audit-reads"
READS_MAX_WAIT = timedelta(minutes=10)
READS_BATCH_FILES = 200


def reads_waiting_reason(pending: Sequence[Path], landing: Path, *, now: float) -> str | None:
    """Why the pending files should wait (only audited reads, too few and too recent); None to ingest now.

    `now` is a POSIX time, compared with the files' modification times.
    """
    reads = landing / READS_SUBFOLDER
    return waiting_reason([(path.is_relative_to(reads), path.stat().st_mtime) for path in pending], now=now)


def waiting_reason(pending: Sequence[tuple[bool, float]], *, now: float) -> str | None:
    """The rule on (is an audited read, modified at POSIX time) pairs, for files and S3 objects alike."""
    if not pending or any(not is_read for is_read, _ in pending):
        return None
    if len(pending) >= READS_BATCH_FILES:
        return None
    waited = now - min(modified for _, modified in pending)
    if waited >= READS_MAX_WAIT.total_seconds():
        return None
    return (f"only {len(pending)} audited read(s) waiting; they are ingested with the next landed file, "
            f"or after {READS_MAX_WAIT.total_seconds() / 60:.0f} minutes ({waited:.0f}s so far) or "
            f"{READS_BATCH_FILES} reads")
