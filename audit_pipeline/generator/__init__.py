"""Realistic synthetic audit events as NDJSON landing files, deterministic for a seed.

Background activity is drawn with numpy and rendered to JSON lines by DuckDB; a handful of suspicious
patterns are planted on top so every rule in `audit_pipeline.derived.rules` has something to catch.
"""
