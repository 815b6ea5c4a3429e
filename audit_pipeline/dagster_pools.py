"""The Dagster instance's pool limits, set up before any run claims a slot.

Dagster 1.13 writes a pool's limit row when a run first claims a slot of it, and again whenever the
instance's `default_limit` differs from the row. On PostgreSQL both go wrong: when two runs make the first
claim at once, the loser's INSERT fails and the UPDATE after it, in the same aborted transaction, fails the
whole run ("An exception was thrown during execution"); and after the operator changes `default_limit`,
every claim takes that INSERT-then-UPDATE path and fails. So the rows are written here, before runs start,
one machine at a time under an advisory lock on the instance's own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import dagster as dg
from dagster_postgres import PostgresEventLogStorage

from audit_pipeline.assets.groups import DUCKDB_POOL
from audit_pipeline.storage.pg_locks import lock_key

POOLS = (DUCKDB_POOL,)
LOCK_NAME = "dagster-pool-limits"


def _unsettled(storage: Any, default_limit: int) -> list[str]:
    limits = {pool.name: pool for pool in storage.get_pool_limits()}
    return [name for name in POOLS
            if name not in limits or (limits[name].from_default and limits[name].limit != default_limit)]


@contextmanager
def _instance_lock(storage: PostgresEventLogStorage) -> Iterator[None]:
    """A session advisory lock on the instance's database: held until released or its connection ends."""
    with storage.index_connection() as connection:
        connection.exec_driver_sql("SELECT pg_advisory_lock(%(key)s)", {"key": lock_key(LOCK_NAME)})
        try:
            yield
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(%(key)s)", {"key": lock_key(LOCK_NAME)})


def prepare_pools(instance: dg.DagsterInstance) -> list[str]:
    """Give each of the pipeline's pools its limit row at the instance's default limit; the pools written."""
    storage = instance.event_log_storage
    default_limit = instance.global_op_concurrency_default_limit
    if default_limit is None or not storage.supports_global_concurrency_limits:
        return []
    if not _unsettled(storage, default_limit):
        return []
    with _instance_lock(storage) if isinstance(storage, PostgresEventLogStorage) else nullcontext():
        written = _unsettled(storage, default_limit)  # another machine may have written them meanwhile
        known = {pool.name for pool in storage.get_pool_limits()}
        for name in written:
            if name in known:
                storage.set_concurrency_slots(name, default_limit)
            else:
                storage.initialize_concurrency_limit_to_default(name)
    return written
