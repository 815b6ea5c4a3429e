"""Every table the pipeline keeps in the lake, created in numbered steps so an older lake is upgraded in place.

DuckLake has no PRIMARY KEY or UNIQUE constraints: the code that writes a table keeps its keys unique, inside
a transaction that conflicts with any other writer's (see `storage.database`). `events` is append-only and
partitioned by org and UTC day from its creation: DuckLake 1.4.4 fails an UPDATE on a table whose partitioning
changed, so it is never re-partitioned and never updated.
"""

from __future__ import annotations

import contextlib

import duckdb

EVENT_COLUMNS = (
    "ingest_seq", "event_id", "org_id", "occurred_at", "log_type", "action", "user_id", "user_email", "user_name",
    "user_role", "source_ip", "user_agent", "outcome", "additional_info", "received_at", "content_hash",
    "source_file", "source_line",
)
QUARANTINE_COLUMNS = (
    "quarantined_at", "batch_id", "source_file", "line_number", "reason_code", "reason", "raw", "raw_bytes",
)

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
    CREATE TABLE events (
        ingest_seq      BIGINT      NOT NULL,
        event_id        VARCHAR     NOT NULL,
        org_id          VARCHAR     NOT NULL,
        occurred_at     TIMESTAMPTZ NOT NULL,
        log_type        VARCHAR     NOT NULL,
        action          VARCHAR     NOT NULL,
        user_id         VARCHAR,
        user_email      VARCHAR,
        user_name       VARCHAR,
        user_role       VARCHAR,
        source_ip       VARCHAR,
        user_agent      VARCHAR,
        outcome         VARCHAR     NOT NULL,
        additional_info JSON        NOT NULL,
        received_at     TIMESTAMPTZ NOT NULL,
        content_hash    VARCHAR     NOT NULL,
        source_file     VARCHAR     NOT NULL,
        source_line     BIGINT      NOT NULL
    );
    ALTER TABLE events SET PARTITIONED BY (org_id, year(occurred_at), month(occurred_at), day(occurred_at));
    CREATE TABLE quarantine (
        quarantined_at  TIMESTAMPTZ NOT NULL,
        batch_id        VARCHAR     NOT NULL,
        source_file     VARCHAR     NOT NULL,
        line_number     BIGINT      NOT NULL,
        reason_code     VARCHAR     NOT NULL,
        reason          VARCHAR     NOT NULL,
        raw             BLOB        NOT NULL,
        raw_bytes       BIGINT      NOT NULL
    );
    CREATE TABLE ingested_files (
        file_sha256     VARCHAR     NOT NULL,
        file_name       VARCHAR     NOT NULL,
        file_bytes      BIGINT      NOT NULL,
        records         BIGINT      NOT NULL,
        ingested        BIGINT      NOT NULL,
        duplicates      BIGINT      NOT NULL,
        quarantined     BIGINT      NOT NULL,
        batch_id        VARCHAR     NOT NULL,
        ingested_at     TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE ingest_batches (
        batch_id        VARCHAR     NOT NULL,
        started_at      TIMESTAMPTZ NOT NULL,
        finished_at     TIMESTAMPTZ NOT NULL,
        files           BIGINT      NOT NULL,
        files_skipped   BIGINT      NOT NULL,
        ingested        BIGINT      NOT NULL,
        duplicates      BIGINT      NOT NULL,
        quarantined     BIGINT      NOT NULL,
        first_seq       BIGINT,
        last_seq        BIGINT
    );
    -- One row: the last ingest_seq handed out. Every commit group updates it, so two writers' groups conflict
    -- and one retries: ingest_seq stays unique and duplicate checks see every committed event.
    CREATE TABLE ingest_sequence (last_seq BIGINT NOT NULL);
    INSERT INTO ingest_sequence VALUES (0);
    CREATE VIEW quarantine_readable AS
        SELECT quarantined_at, batch_id, source_file, line_number, reason_code, reason,
               coalesce(try(decode(raw)), '<' || raw_bytes || ' bytes, not valid UTF-8>') AS raw_text,
               raw_bytes
        FROM quarantine;

    CREATE TABLE export_configs (
        config_id       VARCHAR     NOT NULL,
        name            VARCHAR     NOT NULL,
        org_id          VARCHAR     NOT NULL,
        bucket          VARCHAR     NOT NULL,
        region          VARCHAR     NOT NULL,
        prefix          VARCHAR     NOT NULL,
        frequency_hours INTEGER     NOT NULL,
        role_arn        VARCHAR     NOT NULL,
        external_id     VARCHAR     NOT NULL,
        gzip            BOOLEAN     NOT NULL,
        enabled         BOOLEAN     NOT NULL,
        created_at      TIMESTAMPTZ NOT NULL,
        first_export_at TIMESTAMPTZ NOT NULL,
        updated_at      TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE export_connectors (
        external_id VARCHAR     NOT NULL,
        org_id      VARCHAR     NOT NULL,
        enabled_by  VARCHAR     NOT NULL,
        enabled_at  TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE export_alert_streaks (
        config_name  VARCHAR     NOT NULL,
        first_run_id VARCHAR     NOT NULL,
        announced_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE export_deliveries (
        config_id          VARCHAR     NOT NULL,
        config_name        VARCHAR     NOT NULL,
        export_number      BIGINT      NOT NULL,
        org_id             VARCHAR     NOT NULL,
        from_seq           BIGINT      NOT NULL,
        to_seq             BIGINT      NOT NULL,
        previous_cutoff_at TIMESTAMPTZ,
        cutoff_at          TIMESTAMPTZ NOT NULL,
        events             BIGINT      NOT NULL,
        gzip               BOOLEAN     NOT NULL,
        status             VARCHAR     NOT NULL,
        planned_run_id     VARCHAR,
        delivered_run_id   VARCHAR,
        delivered_at       TIMESTAMPTZ
    );
    CREATE TABLE export_parts (
        config_id     VARCHAR NOT NULL,
        export_number BIGINT  NOT NULL,
        part_number   INTEGER NOT NULL,
        from_seq      BIGINT  NOT NULL,
        to_seq        BIGINT  NOT NULL,
        events        BIGINT  NOT NULL,
        object_key    VARCHAR NOT NULL,
        bytes         BIGINT,
        sha256        VARCHAR
    );
    CREATE TABLE export_digests (
        config_id      VARCHAR NOT NULL,
        export_number  BIGINT  NOT NULL,
        digest_key     VARCHAR NOT NULL,
        bytes          BIGINT  NOT NULL,
        sha256         VARCHAR NOT NULL,
        signing_key_id VARCHAR NOT NULL,
        document       BLOB    NOT NULL
    );

    CREATE TABLE users (
        email         VARCHAR     NOT NULL,
        org_id        VARCHAR     NOT NULL,
        role          VARCHAR     NOT NULL,
        name          VARCHAR,
        token_sha256  VARCHAR     NOT NULL,
        created_at    TIMESTAMPTZ NOT NULL,
        revoked_at    TIMESTAMPTZ
    );
    """),
    (2, """
    -- One row per import of a home that kept its tables in DuckDB files (`audit-pipeline migrate`), written in
    -- the import's own transaction once every table's count matched its source.
    CREATE TABLE legacy_imports (
        imported_at  TIMESTAMPTZ NOT NULL,
        source_home  VARCHAR     NOT NULL,
        table_counts JSON        NOT NULL,
        complete     BOOLEAN     NOT NULL
    );
    """),
    (3, """
    -- One row per derived table kept up to date from the events' ingest_seq: the last ingest_seq it covers.
    -- A derived table without a row here (or missing) is built in full once, then updated from the new events.
    CREATE TABLE derived_coverage (
        view            VARCHAR NOT NULL,
        last_ingest_seq BIGINT  NOT NULL
    );
    """),
    (4, """
    -- One row: who holds the lake for maintenance, until when, and a counter every guarded write transaction
    -- moves. Moving it makes a write that was open while maintenance took the lease conflict and run again.
    CREATE TABLE lake_lease (holder VARCHAR, held_until TIMESTAMPTZ, writes BIGINT NOT NULL);
    INSERT INTO lake_lease VALUES (NULL, NULL, 0);
    """),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def applied_versions(connection: duckdb.DuckDBPyConnection) -> set[int]:
    exists = connection.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return set()
    return {int(row[0]) for row in connection.execute("SELECT version FROM schema_migrations").fetchall()}


def migrate(connection: duckdb.DuckDBPyConnection) -> None:
    """Apply the steps this lake lacks, each in one transaction (a concurrent migrator's conflict is retried
    by the caller, which then finds the step applied)."""
    applied = applied_versions(connection)
    if applied >= {version for version, _ in MIGRATIONS}:
        return
    connection.execute("BEGIN")
    try:
        if not applied:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                               "(version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)")
        for version, statements in MIGRATIONS:
            if version in applied:
                continue
            connection.execute(statements)
            connection.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
        connection.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (another migrator won) has ended the transaction already: the caller must see its
        # conflict, which it retries, not ROLLBACK's "no transaction is active".
        with contextlib.suppress(duckdb.Error):
            connection.execute("ROLLBACK")
        raise
