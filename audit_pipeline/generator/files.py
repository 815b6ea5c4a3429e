"""Writing rendered lines into `events-<org>-<nnn>.jsonl` files, each appearing atomically when complete."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

Progress = Callable[[str], None]
FILE_PATTERN = "events-*.jsonl"


def file_name(org_id: str, file_no: int) -> str:
    return f"events-{org_id}-{file_no + 1:03d}.jsonl"


def string_bytes(chunk: pa.Array) -> memoryview:
    """The concatenated bytes of a string array's values, without copying them."""
    if len(chunk) == 0:
        return memoryview(b"")
    offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    offsets = np.frombuffer(chunk.buffers()[1], dtype=offset_type)[chunk.offset:chunk.offset + len(chunk) + 1]
    return memoryview(chunk.buffers()[2])[int(offsets[0]):int(offsets[-1])]


class FileSink:
    """Receives runs of newline-terminated lines in file order and writes each file under a hidden name
    first, so a landing-folder watcher never picks up half a file."""

    def __init__(self, out_dir: Path, expected: dict[str, int], progress: Progress | None = None) -> None:
        self.out_dir = out_dir
        self.expected = expected
        self.progress = progress
        self.files: list[Path] = []
        self.events_per_file: list[int] = []
        self._name: str | None = None
        self._handle: BinaryIO | None = None

    def write(self, name: str, lines: pa.Array) -> None:
        if name != self._name:
            self.finish()
            self._name = name
            self._handle = self._staging(name).open("wb")
        assert self._handle is not None
        self._handle.write(string_bytes(lines))

    def finish(self) -> None:
        """Publish the file being written, if any."""
        if self._handle is None or self._name is None:
            return
        self._handle.close()
        self._handle = None
        target = self.out_dir / self._name
        os.replace(self._staging(self._name), target)
        self.files.append(target)
        self.events_per_file.append(self.expected[self._name])
        if self.progress is not None:
            self.progress(f"wrote {target.name}: {self.expected[self._name]:,} events "
                          f"(file {len(self.files)} of {len(self.expected)})")

    def abort(self) -> None:
        if self._handle is not None and self._name is not None:
            self._handle.close()
            self._staging(self._name).unlink(missing_ok=True)
            self._handle = None

    def _staging(self, name: str) -> Path:
        return self.out_dir / f".{name}.tmp"
