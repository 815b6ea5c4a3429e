"""Arrow string columns as the NumPy views the trigram code works on, without copying the text."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa


def utf8_buffers(texts: pa.Array | pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """The texts' offsets (one more than texts: text i is data[offsets[i]:offsets[i + 1]]) and UTF-8 bytes.

    Null texts are refused: a text that is not there cannot be indexed.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.large_string())
    texts = texts.cast(pa.large_string())
    if texts.null_count:
        raise ValueError("texts to index must not be null")
    count = len(texts)
    if count == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.uint8)
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64, count=count + 1, offset=texts.offset * 8)
    data_buffer = texts.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return offsets, data
