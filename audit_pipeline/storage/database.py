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
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TypeVar

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import lake, pg_locks
from audit_pipeline.storage.lake import LakeLocation, LakeMissingError, postgres_conninfo
from audit_pipeline.storage.schema import LATEST_VERSION, applied_versions, migrate

# What a commit that met another writer's says: SQLite's busy catalog, DuckLake's conflict check, PostgreSQL's
# serialization failures, DuckDB's own write-write conflict. Each leaves the lake as it was.
RETRYABLE_MARKERS = ("database is locked", "Transaction conflict", "write-write conflict", "could not serialize",
                     "deadlock detected", "Could not set lock",
                     # DuckLake 1.4.4 on PostgreSQL: a commit after two other writers' snapshots, the first of
                     # which created a table or view, fails to read the catalog; run again, it commits.
                     "Failed to parse catalog entry")
# Two machines creating a fresh lake's catalog tables at once: the loser finds them made the next time.
CATALOG_RACE_MARKERS = ("Failed to initialize DuckLake", "already exists")
DEFAULT_WAIT_SECONDS = 120.0
T = TypeVar("T")


class DatabaseBusyError(RuntimeError):
    """Other writers kept conflicting with this one for longer than we were willing to retry."""


class DatabaseMissingError(LakeMissingError):
    """Nothing has been written to the lake yet."""


class MaintenanceInProgressError(RuntimeError):
    """Lake maintenance holds the lease: a guarded write waits until it is released or expires."""

    def __init__(self, held_until: datetime) -> None:
        super().__init__(f"lake maintenance holds the lake until {held_until:%Y-%m-%d %H:%M:%S} UTC")
        self.held_until = held_until


def is_retryable(error: BaseException) -> bool:
    if not isinstance(error, duckdb.Error):
        return False
    message = str(error)
    return any(marker in message for marker in RETRYABLE_MARKERS) or all(
        marker in message for marker in CATALOG_RACE_MARKERS)


def retrying(attempt: Callable[[], T], *, wait_seconds: float = DEFAULT_WAIT_SECONDS, what: str = "write") -> T:
    """Run `attempt` until it does not fail on a concurrent writer, backing off between tries.

    While lake maintenance holds the lease the wait lasts until the lease ends, whatever `wait_seconds` says.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            return attempt()
        except MaintenanceInProgressError as error:
            lease_left = (error.held_until - datetime.now(UTC)).total_seconds()
            deadline = max(deadline, time.monotonic() + lease_left + 1.0)
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
_complete: set[int] = set()


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
    # Each statement on the lake costs a catalog round trip, so a lake seen complete once is not asked again
    # (while the process keeps the same attachment: a catalog made anew gets a new one).
    attachment = id(lake.instance(location, read_only=True))
    if attachment not in _complete:
        if LATEST_VERSION not in applied_versions(connection) and location not in _migrated:
            connection.close()
            raise DatabaseMissingError(
                f"the lake ({location.describe()}) holds no tables yet: ingest some events first")
        _complete.add(attachment)
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


WRITE_TURN_LOCK = "lake-write"


def write_turn(location: LakeLocation | None) -> Callable[[], AbstractContextManager[None]]:
    """How writers wait for their turn to write: on a PostgreSQL catalog, one machine's process at a time.

    Every guarded write moves the one-row `lake_lease`, so two write transactions open at once always
    conflict and the loser does its work again; on a shared catalog, where a view update takes seconds and
    several machines write, that waste dominated. Writers therefore take turns on an advisory lock (nested
    turns in one thread pass through), while whatever they do outside a write still overlaps. A SQLite
    catalog takes one writer at a time by itself.
    """
    if location is None or not location.is_postgres:
        return contextlib.nullcontext
    return pg_locks.turn_taker(postgres_conninfo(location.catalog), WRITE_TURN_LOCK).turn


def write_transaction(
    paths: Paths, body: Callable[[duckdb.DuckDBPyConnection], T], *, wait_seconds: float = DEFAULT_WAIT_SECONDS,
    what: str = "write",
) -> T:
    """Run `body` in one transaction, from its start again whenever it meets another writer."""

    def attempt() -> T:
        with write_turn(paths.lake)(), writer(paths, wait_seconds=wait_seconds) as connection:
            begin_guarded(connection)
            try:
                result = body(connection)
                connection.execute("COMMIT")
            except BaseException:
                rollback(connection)
                raise
            return result

    return retrying(attempt, wait_seconds=wait_seconds, what=what)


def begin_guarded(connection: duckdb.DuckDBPyConnection) -> None:
    """BEGIN a write transaction that reads before it writes, guarded against lake maintenance.

    DuckLake 1.4.4 gives too few rows, without an error, to a transaction that read the lake before a
    maintenance flush or merge committed and reads it again after. So a guarded transaction refuses to start
    while maintenance holds the lease (MaintenanceInProgressError, which `retrying` waits out), and moves the
    lease's counter: one that was already open when maintenance took the lease conflicts at its commit and
    runs again, after maintenance.
    """
    connection.execute("BEGIN")
    try:
        row = connection.execute("SELECT holder, held_until FROM lake_lease").fetchone()
        if row is not None and row[0] is not None and row[1] is not None and row[1] > datetime.now(UTC):
            raise MaintenanceInProgressError(row[1].astimezone(UTC))
        connection.execute("UPDATE lake_lease SET writes = writes + 1")
    except BaseException:
        rollback(connection)
        raise


def rollback(connection: duckdb.DuckDBPyConnection) -> None:
    """End the open transaction; a failed COMMIT has already ended it."""
    with contextlib.suppress(duckdb.Error):
        connection.execute("ROLLBACK")
