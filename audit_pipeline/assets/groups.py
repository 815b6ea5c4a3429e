"""Asset group names, shared by assets, jobs and the UI."""

INGESTION = "ingestion"
INVESTIGATION = "investigation"
EXPORT = "export"

DUCKDB_POOL = "duckdb"
