"""One export of a config at a time across machines on a PostgreSQL catalog; different configs side by side.

A machine here is a process with a home folder of its own: the only thing it shares with the test is the
PostgreSQL server, so the lock must live there.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.dagster_home import DAGSTER_PG_ENV, ensure_dagster_home
from audit_pipeline.export.locking import ExportAlreadyRunningError, export_lock
from audit_pipeline.settings import HOME_ENV, Paths
from tests.fault_helpers import child_environment, child_processes, start_python
from tests.postgres_server import PostgresServer, postgres_catalog, postgres_server  # noqa: F401 - fixtures

HOLD = ("import sys, time; from audit_pipeline.export.locking import export_lock; "
        "from audit_pipeline.settings import paths_from_env\n"
        "with export_lock(paths_from_env(), sys.argv[1]):\n"
        "    print('held', flush=True); time.sleep(600)")


def test_a_config_exports_on_one_machine_at_a_time_and_a_killed_holder_frees_it(
    paths: Paths, postgres_catalog: str, tmp_path: Path,  # noqa: F811
) -> None:
    with child_processes() as started:
        other_machine = start_python(HOLD, ["acme-prod"], child_environment(**{HOME_ENV: str(tmp_path / "b")}))
        started.append(other_machine)
        assert other_machine.stdout is not None and other_machine.stdout.readline().strip() == "held"

        with pytest.raises(ExportAlreadyRunningError, match="on this or another machine"), \
                export_lock(paths, "acme-prod"):
            pass
        with export_lock(paths, "globex-prod"):
            pass  # another config is not held up

        other_machine.send_signal(signal.SIGKILL)
        other_machine.wait(timeout=30)
    deadline = time.monotonic() + 10
    while True:  # the server ends the dead process's session, and its lock with it
        try:
            with export_lock(paths, "acme-prod"):
                break
        except ExportAlreadyRunningError:
            assert time.monotonic() < deadline, "the killed holder's lock was never released"
            time.sleep(0.1)


def test_the_shared_dagster_instance_queues_one_run_per_config(
    paths: Paths, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv(DAGSTER_PG_ENV, postgres_server.create_database())
    ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue is not None and queue.max_concurrent_runs == 20, "many configs' exports due at one hour"
        assert {"key": EXPORT_CONFIG_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} \
            in queue.tag_concurrency_limits
        assert concurrency.pool_config.default_pool_limit == 2


def test_ingestion_commits_on_two_machines_take_turns_and_a_dead_holder_passes_its_turn(
    postgres_catalog: str,  # noqa: F811
) -> None:
    import threading

    from audit_pipeline.storage.database import WRITE_TURN_LOCK
    from audit_pipeline.storage.lake import postgres_conninfo
    from audit_pipeline.storage.pg_locks import TurnTaker

    conninfo = postgres_conninfo(postgres_catalog)
    first, second = TurnTaker(conninfo, WRITE_TURN_LOCK), TurnTaker(conninfo, WRITE_TURN_LOCK)
    order: list[str] = []

    def second_machine_commits() -> None:
        with second.turn():
            order.append("second")

    with first.turn():
        waiting = threading.Thread(target=second_machine_commits)
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and order == [], "the second machine waits while the first commits"
        order.append("first")
        first._drop()  # the first machine's connection ends (as when it is killed) in the middle of its turn
        waiting.join(timeout=10)
    assert order == ["first", "second"]


def test_a_catalog_password_never_reaches_an_error_message(paths: Paths) -> None:
    import duckdb

    from audit_pipeline.storage.lake import LakeLocation, instance, postgres_conninfo

    secret = "s3cret pass'word"
    url = f"postgresql://audit:{secret.replace(' ', '%20').replace(chr(39), '%27')}@127.0.0.1:9/audit_lake"
    assert "password='s3cret pass\\'word'" in postgres_conninfo(url), "quoted for libpq"
    with pytest.raises(duckdb.Error) as raised:
        instance(LakeLocation(url, str(paths.home / "lake")), read_only=False)
    assert "s3cret" not in str(raised.value) and "password=***" in str(raised.value)


HOLD_WRITE_TURN = ("import time; from audit_pipeline.storage.database import write_turn\n"
                   "from audit_pipeline.settings import paths_from_env\n"
                   "with write_turn(paths_from_env().lake)():\n"
                   "    print('held', flush=True); time.sleep(600)")


def test_writers_on_a_shared_catalog_take_turns_and_a_turn_inside_a_turn_passes(
    paths: Paths, postgres_catalog: str, tmp_path: Path,  # noqa: F811
) -> None:
    import threading

    import duckdb

    from audit_pipeline.storage.database import write_transaction, write_turn

    def record(connection: duckdb.DuckDBPyConnection) -> None:
        connection.execute("SELECT writes FROM lake_lease").fetchone()  # a guarded write: it moves the lease

    write_transaction(paths, record)  # creates the lake
    finished = threading.Event()

    def write() -> None:
        write_transaction(paths, record)
        finished.set()

    with child_processes() as started:
        other_machine = start_python(HOLD_WRITE_TURN, [], child_environment(**{HOME_ENV: str(tmp_path / "b")}))
        started.append(other_machine)
        assert other_machine.stdout is not None and other_machine.stdout.readline().strip() == "held"
        writer = threading.Thread(target=write)
        writer.start()
        assert not finished.wait(timeout=1.5), "a write waits while another machine writes"
        other_machine.send_signal(signal.SIGKILL)
        other_machine.wait(timeout=30)
        assert finished.wait(timeout=30), "the dead machine's turn passed on"
        writer.join()

    with write_turn(paths.lake)():
        write_transaction(paths, record)  # a view step's writes inside its own turn: no wait on itself
