"""Where audit-pipeline keeps its files: a home folder for local work, and the lake (inside it by default)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from audit_pipeline.storage.lake import LakeLocation, location_for

HOME_ENV = "AUDIT_PIPELINE_HOME"
DEFAULT_HOME = ".audit_pipeline"


@dataclass(frozen=True)
class Paths:
    """The files and folders below the home folder."""

    home: Path

    @property
    def lake(self) -> LakeLocation:
        """The catalog and data path of every table: AUDIT_PIPELINE_CATALOG / AUDIT_PIPELINE_DATA, or inside home."""
        return location_for(self.home)

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def archive(self) -> Path:
        """Landing files move here once ingested, so the landing folder only holds pending work."""
        return self.home / "archive"

    @property
    def export_staging(self) -> Path:
        return self.home / "export-staging"

    @property
    def locks(self) -> Path:
        return self.home / "locks"

    @property
    def web(self) -> Path:
        """The web server's own files: its session key and the staging area of read events."""
        return self.home / "web"

    @property
    def dagster_home(self) -> Path:
        configured = os.environ.get("DAGSTER_HOME")
        return Path(configured) if configured else self.home / "dagster"

    def ensure(self) -> Paths:
        for folder in (self.home, self.landing, self.archive, self.export_staging, self.locks,
                       self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def home_from_env() -> Path:
    return Path(os.environ.get(HOME_ENV, DEFAULT_HOME)).resolve()


def paths_from_env() -> Paths:
    return Paths(home_from_env())
