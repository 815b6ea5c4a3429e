"""The Audit Logs page and JSON API (FastAPI), behind the read/write permission of `audit_pipeline.access`."""
