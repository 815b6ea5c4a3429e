"""Counting, inside a pipeline process, the lake writes that met another writer's commit and ran again.

`audit_pipeline.storage.database.retrying` runs a write again whenever it fails on a concurrent writer, asking
`is_retryable` each time; `count_retries()` wraps that question for the rest of the process, so a benchmark child
can report how often its writes conflicted, when, and with what message. DuckLake also retries some conflicting
commits itself, inside one COMMIT; those do not reach `retrying` and are not counted here.
"""

from __future__ import annotations

import time

from audit_pipeline.storage import database

_retries: list[dict[str, object]] = []


def count_retries() -> None:
    """From now on, record every error `retrying` runs a write again for."""
    asked = database.is_retryable
    if getattr(asked, "counts_retries", False):
        return

    def is_retryable(error: BaseException) -> bool:
        retryable = asked(error)
        if retryable:
            _retries.append({"at": time.time(), "error": " ".join(str(error).split())[:240]})
        return retryable

    is_retryable.counts_retries = True  # type: ignore[attr-defined]
    database.is_retryable = is_retryable


def retries() -> list[dict[str, object]]:
    return list(_retries)
