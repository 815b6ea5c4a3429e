"""PostgreSQL advisory locks on the lake catalog's server: how machines that share only it take turns.

A session lock belongs to the connection that took it, and the server drops it the moment that connection
ends, also when its process is killed: no lease to expire, nothing to clean up.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_NAMESPACE = b"audit-pipeline/"


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for `name`, the same in every process and on every machine."""
    digest = hashlib.blake2b(_NAMESPACE + name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def connect(conninfo: str, purpose: str) -> Any:
    import psycopg2

    connection = psycopg2.connect(conninfo, application_name=f"audit-pipeline {purpose}"[:63])
    connection.autocommit = True
    return connection


def try_lock(connection: Any, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", (lock_key(name),))
        row = cursor.fetchone()
    return bool(row and row[0])


def unlock(connection: Any, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s)", (lock_key(name),))


class TurnTaker:
    """Waits for and holds one named lock at a time over a connection kept for the process.

    A turn taken inside a turn the same thread holds is part of it: it neither waits nor ends the outer one.
    """

    def __init__(self, conninfo: str, name: str) -> None:
        self.conninfo = conninfo
        self.name = name
        self._connection: Any = None
        self._guard = threading.RLock()
        self._depth = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._guard:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            connection = self._connected()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", (lock_key(self.name),))
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                try:
                    unlock(connection, self.name)
                except Exception:
                    self._drop()  # a lost connection took the lock with it

    def close_if_idle(self) -> None:
        """Close the kept connection unless a turn is in progress (the next turn connects again)."""
        if self._guard.acquire(blocking=False):
            try:
                if not self._depth:
                    self._drop()
            finally:
                self._guard.release()

    def _connected(self) -> Any:
        if self._connection is None or self._connection.closed:
            self._connection = connect(self.conninfo, self.name)
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


_turn_takers: dict[tuple[str, str], TurnTaker] = {}
_turn_takers_guard = threading.Lock()


def turn_taker(conninfo: str, name: str) -> TurnTaker:
    """This process's turn taker for lock `name` on the server `conninfo` names."""
    with _turn_takers_guard:
        key = (conninfo, name)
        if key not in _turn_takers:
            _turn_takers[key] = TurnTaker(conninfo, name)
        return _turn_takers[key]


def close_idle_connections() -> None:
    """Close the connections this process's turn takers keep between turns (a turn in progress keeps its own).

    For a process about to copy or drop the catalog's database, which PostgreSQL refuses while others use it.
    """
    with _turn_takers_guard:
        takers = list(_turn_takers.values())
    for taker in takers:
        taker.close_if_idle()
