"""When the files waiting in the landing folder are worth an ingestion run.

Every view, search and download on the page lands a one-event file under `landing/audit-reads/`. Starting an
ingestion run (derived views, reader snapshot) for each would let one page view start a full run by itself.
Audited reads therefore wait for company: they are ingested with the next other landed file, or on their own
once the oldest has waited `READS_MAX_WAIT` or `READS_BATCH_FILES` of them are waiting. Nothing is lost
meanwhile: the files stay in the landing folder until a run ingests them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    return waiting_reason([path.is_relative_to(reads) for path in pending],
                          lambda: min(path.stat().st_mtime for path in pending), now=now)


def waiting_reason(is_read: Sequence[bool], oldest: Callable[[], float], *, now: float) -> str | None:
    """The rule for files and S3 objects alike: whether each waiting item is an audited read, and the POSIX time
    the oldest was written (asked only when it matters)."""
    if not is_read or not all(is_read) or len(is_read) >= READS_BATCH_FILES:
        return None
    waited = now - oldest()
    if waited >= READS_MAX_WAIT.total_seconds():
        return None
    return (f"only {len(is_read)} audited read(s) waiting; they are ingested with the next landed file, "
            f"or after {READS_MAX_WAIT.total_seconds() / 60:.0f} minutes ({waited:.0f}s so far) or "
            f"{READS_BATCH_FILES} reads")
