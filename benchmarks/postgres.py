"""A throwaway PostgreSQL server for the shared-deployment figures, and the lake catalogs kept on it.

The server is the tests' own (`tests.postgres_server.PostgresServer`): Debian's binaries, a cluster in a temp
folder, 127.0.0.1 only, `fsync=off`, run as the `postgres` user when the benchmark runs as root. It is started
for a section and stopped (its folder removed) when the section ends, also when the section fails.

A catalog is a database on it. Cached lakes keep their catalog as a plain `pg_dump` beside their Parquet
files (`catalog.sql`) rather than as a cluster folder: a dump restores into any server in a second or two,
belongs to no system user and does not depend on the cluster's version. The client programs (psql, pg_dump)
run as the benchmark's own user: the server trusts connections from 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tests.postgres_server import USER, PostgresServer, _binaries

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries: `make postgres-deps` installs Debian's postgresql package."""


@dataclass(frozen=True)
class Server:
    """A running server and the client calls the benchmark makes on it."""

    server: PostgresServer

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _client(self, program: str, *args: str, database: str = "postgres") -> str:
        command = [str(self.server.binaries / program), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                   "-d", database, *args]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)[:200]} exited {completed.returncode}: "
                               f"{completed.stderr[-2000:]}")
        return completed.stdout

    def query(self, url: str, sql: str) -> list[list[str]]:
        """The rows of one statement (psql's unaligned output, every value as text)."""
        out = self._client("psql", "-X", "-A", "-t", "-q", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql,
                           database=database_name(url))
        return [line.split("\t") for line in out.splitlines() if line]

    def create_database(self, template: str | None = None) -> str:
        """A new, empty database (or a copy of `template`'s, which nobody may be connected to); its URL."""
        name = f"lake_{uuid.uuid4().hex[:12]}"
        suffix = f" TEMPLATE {database_name(template)}" if template else ""
        self._client("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}{suffix}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self._client("psql", "-X", "-q", "-c", f"DROP DATABASE IF EXISTS {database_name(url)} WITH (FORCE)")

    def dump(self, url: str, target: Path) -> None:
        self._client("pg_dump", "--no-owner", "--no-privileges", "-f", str(target), database=database_name(url))

    def restore(self, dump: Path) -> str:
        """A new database holding what `dump` holds; its URL."""
        url = self.create_database()
        self._client("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump), database=database_name(url))
        return url

    def set_data_path(self, url: str, data_path: Path) -> None:
        """Point a DuckLake catalog at a copy of its Parquet files (DuckLake keeps the data path absolute)."""
        path = str(data_path.resolve()) + "/"
        self.query(url, "UPDATE ducklake_metadata SET value = '" + path.replace("'", "''") + "' "
                        "WHERE key = 'data_path'")

    def snapshots(self, url: str) -> int:
        """The catalog's snapshot count: every commit to the lake adds one."""
        return int(self.query(url, "SELECT count(*) FROM ducklake_snapshot")[0][0])

    def transactions(self, url: str) -> dict[str, int]:
        """The server's counters of the database: transactions committed and rolled back, rows read and written.

        Each lake statement is one or more catalog transactions; a DuckLake commit that meets another writer's
        rolls back. The statistics collector flushes them within a second or so of a transaction's end.
        """
        row = self.query(url, "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, "
                              "tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
                              f"WHERE datname = '{database_name(url)}'")[0]
        return dict(zip(("commits", "rollbacks", "rows_returned", "rows_fetched", "rows_written"),
                        (int(value) for value in row), strict=True))

    def cpu_seconds(self) -> float:
        """CPU seconds the whole server has used: the postmaster, its live processes and those that ended."""
        try:
            postmaster = int((self.server.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        total = _process_ticks(postmaster, with_children=True)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and _parent(entry) == postmaster:
                total += _process_ticks(int(entry.name), with_children=False)
        return total / CLOCK_TICKS


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # the fields after the command name, from `state` on


def _parent(entry: Path) -> int | None:
    try:
        return int(_stat_fields(int(entry.name))[1])
    except (OSError, ValueError, IndexError):
        return None


def _process_ticks(pid: int, *, with_children: bool) -> int:
    """utime + stime (+ cutime + cstime: the children it has waited for) of a process, in clock ticks."""
    try:
        fields = _stat_fields(pid)
    except (OSError, ValueError):
        return 0
    own = int(fields[11]) + int(fields[12])
    return own + (int(fields[13]) + int(fields[14]) if with_children else 0)


def database_name(url: str | None) -> str:
    return urlsplit(url or "").path.strip("/")


@contextlib.contextmanager
def postgres_server() -> Iterator[Server]:
    """A started throwaway server, stopped and removed when the block ends."""
    binaries = _binaries()
    if binaries is None:
        raise PostgresUnavailableError("PostgreSQL server binaries are missing under /usr/lib/postgresql: "
                                       "`make postgres-deps` installs Debian's postgresql package")
    server = PostgresServer(binaries)
    try:
        server.start()
        yield Server(server)
    finally:
        # A server that never started makes pg_ctl stop fail; stop() removes its folder all the same.
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
