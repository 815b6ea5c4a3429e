"""Connections to the lake for writers and readers, and retries for writers that meet each other.

Writers in several processes (ingestion, exports, the CLI's config and user commands) work at once and meet
only at commit: the SQLite catalog answers a commit that overlaps another with `database is locked`, DuckLake
answers conflicting changes with a conflict error. Both leave the lake as it was, so the transaction is run
again from its start (`retrying`). Readers attach the lake read-only and read the newest committed snapshot:
they never wait for a writer and a writer never waits for them.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake
from audit_pipeline.storage.lake import LakeLocation, LakeMissingError
from audit_pipeline.storage.schema import LATEST_VERSION, applied_versions, migrate

RETRYABLE_MARKERS = ("database is locked", "Conflict", "conflict", "could not serialize", "Could not set lock",
                     "deadlock detected")
DEFAULT_WAIT_SECONDS = 120.0
T = TypeVar("T")


class DatabaseBusyError(RuntimeError):
    """Other writers kept conflicting with this one for longer than we were willing to retry."""


class DatabaseMissingError(LakeMissingError):
    """Nothing has been written to the lake yet."""


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, duckdb.Error) and any(marker in str(error) for marker in RETRYABLE_MARKERS)


def retrying(attempt: Callable[[], T], *, wait_seconds: float = DEFAULT_WAIT_SECONDS, what: str = "write") -> T:
    """Run `attempt` until it does not fail on a concurrent writer, backing off between tries."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            return attempt()
        except duckdb.Error as error:
            if not is_retryable(error):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusyError(
                    f"the {what} kept conflicting with other writers for {wait_seconds:.0f}s: {error}"
                ) from error
        time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
        delay = min(delay * 2, 1.0)


_migrated: set[LakeLocation] = set()


def _ensure_schema(location: LakeLocation, wait_seconds: float) -> None:
    if location in _migrated:
        return

    def attempt() -> None:
        connection = lake.cursor(location, read_only=False)
        try:
            migrate(connection)
        finally:
            connection.close()

    retrying(attempt, wait_seconds=wait_seconds, what="schema migration")
    _migrated.add(location)


def open_writer(paths: Paths, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """A read-write cursor on the lake, its schema up to date; the caller closes it."""
    location = paths.lake
    _ensure_schema(location, wait_seconds)
    return lake.cursor(location, read_only=False)


def open_reader(paths: Paths) -> duckdb.DuckDBPyConnection:
    """A read-only cursor on the lake's newest snapshot; the caller closes it.

    Raises DatabaseMissingError while nothing was ever written.
    """
    location = paths.lake
    try:
        connection = lake.cursor(location, read_only=True)
    except LakeMissingError as error:
        raise DatabaseMissingError(str(error)) from None
    if LATEST_VERSION not in applied_versions(connection) and location not in _migrated:
        connection.close()
        raise DatabaseMissingError(f"the lake ({location.describe()}) holds no tables yet: ingest some events first")
    return connection


@contextmanager
def writer(paths: Paths, *, wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write cursor on the lake for the `with` block."""
    connection = open_writer(paths, wait_seconds=wait_seconds)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def reader(paths: Paths) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only cursor on the lake's newest snapshot for the `with` block."""
    connection = open_reader(paths)
    try:
        yield connection
    finally:
        connection.close()


def write_transaction(
    paths: Paths, body: Callable[[duckdb.DuckDBPyConnection], T], *, wait_seconds: float = DEFAULT_WAIT_SECONDS,
    what: str = "write",
) -> T:
    """Run `body` in one transaction, from its start again whenever it meets another writer."""

    def attempt() -> T:
        with writer(paths, wait_seconds=wait_seconds) as connection:
            connection.execute("BEGIN")
            try:
                result = body(connection)
                connection.execute("COMMIT")
            except BaseException:
                rollback(connection)
                raise
            return result

    return retrying(attempt, wait_seconds=wait_seconds, what=what)


def rollback(connection: duckdb.DuckDBPyConnection) -> None:
    """End the open transaction; a failed COMMIT has already ended it."""
    with contextlib.suppress(duckdb.Error):
        connection.execute("ROLLBACK")
