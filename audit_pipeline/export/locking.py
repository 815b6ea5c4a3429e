"""One export of a config at a time, across processes."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ExportAlreadyRunningError(RuntimeError):
    """Another process is exporting the same config right now."""


@contextmanager
def export_lock(locks_folder: Path, name: str) -> Iterator[None]:
    """Held for the whole export; refused at once (not queued) when another process holds it."""
    locks_folder.mkdir(parents=True, exist_ok=True)
    with (locks_folder / f"export-{name}.lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ExportAlreadyRunningError(
                f"export {name!r} is already running in another process; this run did nothing"
            ) from error
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
