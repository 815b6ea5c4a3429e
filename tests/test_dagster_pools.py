"""The shared Dagster instance's pool limits: set up once, by one machine at a time, before runs claim slots.

Left to Dagster 1.13 on PostgreSQL, two runs making a pool's first claim at once fail one of them, and every
claim fails after the operator changes the pool's default limit (see audit_pipeline/dagster_pools.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest

from audit_pipeline.assets.groups import DUCKDB_POOL
from audit_pipeline.cli.main import main
from audit_pipeline.dagster_home import DAGSTER_PG_ENV, GENERATED_HEADER, SHARED_POOL_LIMIT, ensure_dagster_home
from audit_pipeline.settings import Paths
from audit_pipeline.storage.database import reader
from tests.conftest import event, land_records
from tests.fault_helpers import child_environment, child_processes, start_python
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 - fixture

# A machine's first command: it writes its dagster.yaml from the setting and opens the shared instance, and then, at
# the same moment as the others, sets up the pools (argv[1]: when; argv[2]: "tables" to stop after creating them).
FIRST_COMMAND = """\
import os, sys, time
from pathlib import Path
import dagster as dg
from audit_pipeline.dagster_home import DAGSTER_PG_ENV, postgres_dagster_yaml
from audit_pipeline.dagster_pools import prepare_pools
home = Path(os.environ["DAGSTER_HOME"])
home.mkdir(parents=True)
(home / "dagster.yaml").write_text(postgres_dagster_yaml(os.environ[DAGSTER_PG_ENV]))
with dg.DagsterInstance.get() as instance:
    if sys.argv[2:] != ["tables"]:
        instance.event_log_storage.get_pool_limits()
        time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
        print(prepare_pools(instance))
"""


def _pool(instance: dg.DagsterInstance) -> tuple[int | None, bool]:
    pools = {pool.name: pool for pool in instance.event_log_storage.get_pool_limits()}
    return pools[DUCKDB_POOL].limit, pools[DUCKDB_POOL].from_default


def test_machines_setting_up_a_fresh_instance_at_once_all_succeed(
    postgres_server: PostgresServer, tmp_path: Path,  # noqa: F811
) -> None:
    dagster_pg = postgres_server.create_database()
    machines = [child_environment(**{DAGSTER_PG_ENV: dagster_pg, "DAGSTER_HOME": str(tmp_path / name)})
                for name in ("tables", "a", "b", "c")]
    # Dagster's tables are created first, as on the first machine set up; the pools are still unset.
    with child_processes() as started:
        started.append(start_python(FIRST_COMMAND, ["0", "tables"], machines.pop(0)))
        assert started[0].wait(timeout=120) == 0
    at = time.time() + 8  # after every machine has imported Dagster and opened the instance
    with child_processes() as started:
        started += [start_python(FIRST_COMMAND, [str(at)], machine) for machine in machines]
        outputs = [process.communicate(timeout=120) for process in started]
    for process, (_, stderr) in zip(started, outputs, strict=True):
        assert process.returncode == 0, stderr[-2000:]
    written = [stdout.strip() for stdout, _ in outputs]
    assert sorted(written) == ["['duckdb']", "[]", "[]"], "one machine wrote the pool, the others found it"


def test_a_changed_default_pool_limit_is_applied_and_runs_still_claim_slots(
    paths: Paths, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv(DAGSTER_PG_ENV, postgres_server.create_database())
    home = ensure_dagster_home(paths)
    with dg.DagsterInstance.get() as instance:
        assert _pool(instance) == (SHARED_POOL_LIMIT, True)

    # The operator takes the file over and raises the limit.
    config = home / "dagster.yaml"
    config.write_text(config.read_text().removeprefix(GENERATED_HEADER)
                      .replace(f"default_limit: {SHARED_POOL_LIMIT}", "default_limit: 3"))
    land_records(paths, [event("a"), event("b")])
    assert main(["ingest", "--format", "json"]) == 0
    with reader(paths) as connection:
        assert connection.execute("SELECT count(*) FROM events").fetchone() == (2,)
    with dg.DagsterInstance.get() as instance:
        assert _pool(instance)[0] == 3
