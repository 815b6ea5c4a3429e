"""Content hashes of files, streamed so that large files never sit in memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK_BYTES = 8 * 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()
