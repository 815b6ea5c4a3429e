"""Investigation tables and views derived from `events`, computed set-based in DuckDB (no Dagster here).

Each module keeps one table (or view): `build_*` builds it from every event, `update_*` brings it up to date
from the events added since it was last updated (`audit_pipeline.derived.incremental`), with the same result,
and both return a report for display. `build_all` rebuilds every one of them.
"""
