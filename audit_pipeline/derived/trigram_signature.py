"""Trigram signatures: a 256-bit summary of a text that rules out most texts a pattern cannot be part of.

Every three consecutive bytes of a text's UTF-8 set one of 256 bits, picked by a multiplicative hash. If a
pattern is a substring of a text, every trigram of the pattern is a trigram of the text, so every bit of the
pattern's signature is set in the text's: comparing signatures first, a search runs the substring match on
the few texts that pass instead of on all of them. A pattern shorter than three bytes has no bits and rules
nothing out. The bits live in four BIGINT words, `SIGNATURE_COLUMNS`, as DuckDB stores them.

Texts are processed in slices of a few thousand with numpy on the Arrow buffers, so a million texts take
a few seconds and memory stays bounded by the slice.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from audit_pipeline.derived.text_buffers import utf8_buffers

WORDS = 4
SIGNATURE_COLUMNS = tuple(f"trigrams_{word}" for word in range(WORDS))
_BITS_PER_WORD = 64
_HASH_MULTIPLIER = np.uint32(2654435761)
_HASH_SHIFT = np.uint32(24)  # keeps the top 8 bits of the 32-bit product: 256 bit positions
_WORD_SHIFT = np.uint32(6)
_BIT_MASK = np.uint32(_BITS_PER_WORD - 1)
_BIT_VALUES = np.uint64(1) << np.arange(_BITS_PER_WORD, dtype=np.uint64)
_TEXTS_PER_SLICE = 2048


def text_signatures(texts: pa.Array | pa.ChunkedArray) -> pa.Table:
    """One row per text, in order: the signature words as int64 columns named `SIGNATURE_COLUMNS`."""
    words = _signature_words(texts)
    return pa.table({name: pa.array(words[number].view(np.int64))
                     for number, name in enumerate(SIGNATURE_COLUMNS)})


def pattern_signature(pattern: str) -> tuple[int, ...]:
    """The signature of one pattern, as the signed words the columns hold (all zero below three bytes)."""
    words = _signature_words(pa.array([pattern], pa.large_string()))
    return tuple(int(word) for word in words[:, 0].view(np.int64))


def _signature_words(texts: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64]:
    offsets, data = utf8_buffers(texts)
    count = len(offsets) - 1
    signatures = np.zeros((WORDS, count), np.uint64)
    for first in range(0, count, _TEXTS_PER_SLICE):
        bounds = offsets[first:first + _TEXTS_PER_SLICE + 1]
        texts_data = data[int(bounds[0]):int(bounds[-1])]
        _sign_slice(texts_data, bounds - bounds[0], signatures[:, first:first + len(bounds) - 1])
    return signatures


def _sign_slice(data: npt.NDArray[np.uint8], bounds: npt.NDArray[np.int64], out: npt.NDArray[np.uint64]) -> None:
    """OR each trigram's bit into its text's words; `bounds` are the texts' offsets into `data`."""
    size = len(data)
    if size < 3:
        return
    starts, ends = bounds[:-1], bounds[1:]
    wide = data.astype(np.uint32)
    hashed = wide[:-2] | (wide[1:-1] << 8) | (wide[2:] << 16)
    hashed *= _HASH_MULTIPLIER
    hashed >>= _HASH_SHIFT
    bits = np.zeros((size, WORDS), np.uint64)
    positions = np.arange(size - 2)
    bits[positions, (hashed >> _WORD_SHIFT).astype(np.intp)] = _BIT_VALUES[hashed & _BIT_MASK]
    # A trigram starting in a text's last two bytes runs into the next text.
    for back in (1, 2):
        last = ends - back
        bits[last[last >= starts]] = 0
    nonempty = ends > starts
    out[:, np.flatnonzero(nonempty)] = np.bitwise_or.reduceat(bits, starts[nonempty], axis=0).T
