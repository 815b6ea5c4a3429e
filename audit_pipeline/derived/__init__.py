"""Investigation tables and views derived from `events`, rebuilt set-based in DuckDB (no Dagster here).

Each module builds one table (or view) with `CREATE OR REPLACE ... AS SELECT` over the whole events table and
returns a `DerivedReport` for display. `build_all` rebuilds every one of them.
"""
