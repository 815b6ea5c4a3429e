"""The error a failed Dagster run becomes, importable without importing Dagster (the CLI catches it)."""


class PipelineRunError(RuntimeError):
    """A Dagster run failed; the message carries the failing step's error."""
