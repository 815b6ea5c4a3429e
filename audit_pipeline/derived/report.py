"""What a rebuild of one derived table produced, in a shape the Dagster UI and the CLI can show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class Preview:
    """A few rows of a table, with their column headers."""

    headers: tuple[str, ...]
    rows: list[tuple[object, ...]]


@dataclass(frozen=True)
class DerivedReport:
    """A rebuilt table: its name, its row count, the events it was built from, and previews to show."""

    name: str
    rows: int
    total_events: int
    preview: Preview
    extra_previews: dict[str, Preview] = field(default_factory=dict)


def scalar(connection: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()) -> int:
    row = connection.execute(sql, list(parameters)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def tables_exist(connection: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> bool:
    """Whether every one of `tables` (code constants) exists in the database's main schema."""
    placeholders = ", ".join("?" for _ in tables)
    return scalar(
        connection,
        f"SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        f"AND table_name IN ({placeholders})",
        tables,
    ) == len(set(tables))


def preview(connection: duckdb.DuckDBPyConnection, sql: str, parameters: Sequence[object] = ()) -> Preview:
    """Run a preview query (which carries its own LIMIT) and keep its headers and rows."""
    result = connection.execute(sql, list(parameters))
    headers = tuple(column[0] for column in result.description or ())
    return Preview(headers, [tuple(row) for row in result.fetchall()])


def report(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    preview_sql: str,
    extra_previews: dict[str, str] | None = None,
    *,
    preview_rows: Preview | None = None,
) -> DerivedReport:
    """Count the table `name` (a code constant) and the events, and take its previews (`preview_rows` when
    the caller took the main one itself)."""
    return DerivedReport(
        name=name,
        rows=scalar(connection, f"SELECT count(*) FROM {name}"),
        total_events=scalar(connection, "SELECT count(*) FROM events"),
        preview=preview_rows if preview_rows is not None else preview(connection, preview_sql),
        extra_previews={title: preview(connection, sql) for title, sql in (extra_previews or {}).items()},
    )
