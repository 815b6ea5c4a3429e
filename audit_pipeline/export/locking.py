"""One export of a config at a time, across processes and, on a PostgreSQL catalog, across machines.

With a SQLite catalog every writer is on one machine, and an flock in the home's locks folder is enough. With a
PostgreSQL catalog the workers share nothing but that server and the bucket, so the lock is a PostgreSQL session
advisory lock in the catalog's database: held by the exporting process's connection, and released by the server
the moment that connection ends, also when the process is killed.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audit_pipeline.settings import Paths
from audit_pipeline.storage import pg_locks
from audit_pipeline.storage.lake import postgres_conninfo


class ExportAlreadyRunningError(RuntimeError):
    """Another process is exporting the same config right now."""


def _refused(name: str, where: str) -> ExportAlreadyRunningError:
    return ExportAlreadyRunningError(f"export {name!r} is already running in another process{where}; "
                                     "this run did nothing")


@contextmanager
def export_lock(paths: Paths, name: str) -> Iterator[None]:
    """Held for the whole export; refused at once (not queued) when another process holds it."""
    lake = paths.lake
    if lake.is_postgres:
        with _advisory_lock(postgres_conninfo(lake.catalog), name):
            yield
    else:
        with _file_lock(paths.locks, name):
            yield


@contextmanager
def _file_lock(locks_folder: Path, name: str) -> Iterator[None]:
    locks_folder.mkdir(parents=True, exist_ok=True)
    with (locks_folder / f"export-{name}.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise _refused(name, "") from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(conninfo: str, name: str) -> Iterator[None]:
    lock = f"export:{name}"
    connection = pg_locks.connect(conninfo, f"export {name}")
    try:
        if not pg_locks.try_lock(connection, lock):
            raise _refused(name, " (on this or another machine)")
        try:
            yield
        finally:
            pg_locks.unlock(connection, lock)
    finally:
        connection.close()
