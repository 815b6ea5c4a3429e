"""Asset group names, shared by assets, jobs and the UI."""

INGESTION = "ingestion"
INVESTIGATION = "investigation"
EXPORT = "export"
MAINTENANCE = "maintenance"

DUCKDB_POOL = "duckdb"
