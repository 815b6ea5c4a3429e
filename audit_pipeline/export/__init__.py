"""Exactly-once export of each org's audit events as JSON files to the customer's S3 bucket.

Plain Python and DuckDB, no Dagster: `audit_pipeline.assets.export` and the CLI are thin layers over
`audit_pipeline.export.runner.run_export`.
"""
