"""The logger that carries a run's progress lines from the assets to the command that started the run."""

PROGRESS_LOGGER = "audit_pipeline.progress"
