"""Landing one small file of events so that ingestion never sees half of it.

The file is written and synced in a staging folder outside the landing folder, then renamed in.
"""

from __future__ import annotations

import os
from pathlib import Path


def land_file(target: Path, staging: Path, name: str, text: str) -> Path:
    """Write `text` to `target/name` atomically; returns the landed path. Raises OSError on failure."""
    staging.mkdir(parents=True, exist_ok=True)
    target.mkdir(parents=True, exist_ok=True)
    staged = staging / name
    try:
        with staged.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        landed = target / name
        os.replace(staged, landed)
        return landed
    finally:
        staged.unlink(missing_ok=True)
