"""The writers' database schema, applied in numbered steps so an old file is upgraded in place."""

from __future__ import annotations

import duckdb

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
    CREATE TABLE IF NOT EXISTS events (
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
    CREATE TABLE IF NOT EXISTS quarantine (
        quarantined_at  TIMESTAMPTZ NOT NULL,
        batch_id        VARCHAR     NOT NULL,
        source_file     VARCHAR     NOT NULL,
        line_number     BIGINT      NOT NULL,
        reason_code     VARCHAR     NOT NULL,
        reason          VARCHAR     NOT NULL,
        raw             BLOB        NOT NULL,
        raw_bytes       BIGINT      NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ingested_files (
        file_sha256     VARCHAR     PRIMARY KEY,
        file_name       VARCHAR     NOT NULL,
        file_bytes      BIGINT      NOT NULL,
        records         BIGINT      NOT NULL,
        ingested        BIGINT      NOT NULL,
        duplicates      BIGINT      NOT NULL,
        quarantined     BIGINT      NOT NULL,
        batch_id        VARCHAR     NOT NULL,
        ingested_at     TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ingest_batches (
        batch_id        VARCHAR     PRIMARY KEY,
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
    CREATE OR REPLACE VIEW quarantine_readable AS
        SELECT quarantined_at, batch_id, source_file, line_number, reason_code, reason,
               coalesce(try(decode(raw)), '<' || raw_bytes || ' bytes, not valid UTF-8>') AS raw_text,
               raw_bytes
        FROM quarantine;
    """),
)


def migrate(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
    )
    applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, statements in MIGRATIONS:
        if version in applied:
            continue
        connection.execute("BEGIN")
        connection.execute(statements)
        connection.execute("INSERT INTO schema_migrations VALUES (?, now())", [version])
        connection.execute("COMMIT")
