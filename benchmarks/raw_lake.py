"""The ceilings: DuckDB itself on the same files, into the same kind of lake and into a native table.

- `insert_into_lake`: one `INSERT INTO lake.events SELECT ... FROM read_json(files)` in one transaction into
  a lake with the pipeline's schema (the same partitioning by org and UTC day): the fields mapped from both
  input shapes (snake_case and the platform API's camelCase), `ingest_seq` numbered, `received_at` now(), a
  stand-in content hash, nothing validated, no duplicate check, no view;
- `native_ctas`: `CREATE TABLE events AS SELECT * FROM read_json(files)` into a native DuckDB file, then
  CHECKPOINT: DuckDB storing the same bytes without a lake.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from audit_pipeline.settings import Paths
from audit_pipeline.storage import database, lake
from benchmarks.measure import Stopwatch, stopwatch

READ_COLUMNS = ", ".join(f"'{name}': '{kind}'" for name, kind in (
    ("event_id", "VARCHAR"), ("id", "VARCHAR"), ("org_id", "VARCHAR"), ("orgId", "VARCHAR"),
    ("occurred_at", "VARCHAR"), ("date", "VARCHAR"), ("log_type", "VARCHAR"), ("logType", "VARCHAR"),
    ("action", "VARCHAR"), ("logName", "VARCHAR"), ("user_id", "VARCHAR"), ("userId", "VARCHAR"),
    ("user_email", "VARCHAR"), ("userEmail", "VARCHAR"), ("user_name", "VARCHAR"), ("userName", "VARCHAR"),
    ("user_role", "VARCHAR"), ("userRole", "VARCHAR"), ("source_ip", "VARCHAR"), ("ipAddress", "VARCHAR"),
    ("user_agent", "VARCHAR"), ("userAgent", "VARCHAR"), ("outcome", "VARCHAR"), ("additional_info", "JSON"),
    ("additionalInfo", "JSON"),
))
INSERT_SQL = f"""
INSERT INTO events
SELECT $base::BIGINT + row_number() OVER () AS ingest_seq,
       coalesce(event_id, id), coalesce(org_id, orgId), coalesce(occurred_at, "date")::TIMESTAMPTZ,
       coalesce(log_type, logType), coalesce(action, logName), coalesce(user_id, userId),
       coalesce(user_email, userEmail), coalesce(user_name, userName), coalesce(user_role, userRole),
       coalesce(source_ip, ipAddress), coalesce(user_agent, userAgent), coalesce(outcome, 'success'),
       coalesce(additional_info, additionalInfo, '{{}}')::JSON, now(),
       md5(coalesce(event_id, id) || coalesce(org_id, orgId)), filename, 0
FROM read_json($files, columns = {{{READ_COLUMNS}}}, filename = true)
"""
INSERT_DESCRIPTION = ("INSERT INTO lake.events SELECT <both input shapes mapped> FROM read_json([files]) in one "
                      "transaction, same lake schema and partitioning")
CTAS_DESCRIPTION = "CREATE TABLE events AS SELECT * FROM read_json([files]) + CHECKPOINT, native DuckDB file"


def prepare_lake(paths: Paths) -> None:
    """Create the pipeline's schema in the home's lake (before the clock)."""
    with database.writer(paths):
        pass


def insert_into_lake(paths: Paths, files: list[Path]) -> tuple[Stopwatch, int]:
    """Time the raw insert of `files` into the home's lake; returns the rows it added."""
    connection = lake.cursor(paths.lake, read_only=False)
    try:
        row = connection.execute("SELECT coalesce(max(last_seq), 0), (SELECT count(*) FROM events) "
                                 "FROM ingest_sequence").fetchone()
        base, before = (int(row[0]), int(row[1])) if row else (0, 0)
        with stopwatch() as watch:
            connection.execute("BEGIN")
            connection.execute(INSERT_SQL, {"base": base, "files": [str(file) for file in files]})
            connection.execute("COMMIT")
        after = connection.execute("SELECT count(*) FROM events").fetchone()
        return watch, (int(after[0]) if after else 0) - before
    finally:
        connection.close()
        lake.close_all()


def native_ctas(path: Path, files: list[Path]) -> tuple[Stopwatch, int]:
    path.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(path)) as connection:
            connection.execute("SET enable_progress_bar = false")
            with stopwatch() as watch:
                connection.execute("CREATE TABLE events AS SELECT * FROM read_json(?)", [[str(f) for f in files]])
                connection.execute("CHECKPOINT")
            row = connection.execute("SELECT count(*) FROM events").fetchone()
        return watch, int(row[0]) if row else 0
    finally:
        path.unlink(missing_ok=True)
