"""Which trigrams an org's texts hold, how often, and where the rare ones are.

A trigram is three consecutive bytes of a text's UTF-8, coded as the integer b0 | b1 << 8 | b2 << 16. For a
set of texts this module counts each trigram's occurrences and lists, for the rare trigrams (at most
`RARE_OCCURRENCES` occurrences in all of the org's texts so far), every text holding them. A search word
with a trigram no text holds matches nothing without reading a text; one with a rare trigram needs only that
trigram's few texts read. Occurrences count positions, not texts, so a trigram's count bounds from above how
many texts hold it.

Counts are only ever added: a trigram rare when its postings were written stays complete until its total
passes the limit, after which readers no longer use its postings, so appending never rewrites what exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from audit_pipeline.derived.text_buffers import utf8_buffers

RARE_OCCURRENCES = 64
_TRIGRAM_CODES = 1 << 24
_TEXTS_PER_SLICE = 4096
# Past this many trigrams, counting in a table of every possible code beats sorting them.
_COUNT_BY_TABLE_AFTER = 1 << 20


def pattern_trigrams(pattern: str) -> list[int]:
    """The distinct trigram codes of a pattern (none below three bytes)."""
    data = pattern.encode()
    return sorted({data[i] | data[i + 1] << 8 | data[i + 2] << 16 for i in range(len(data) - 2)})


@dataclass(frozen=True)
class TrigramUpdate:
    """What new texts add: occurrences per trigram, and postings (trigram, id) of the trigrams still rare."""

    counts: pa.Table  # trigram INT32, occurrences INT64
    postings: pa.Table  # trigram INT32, id INT32


def trigram_update(texts: pa.Array | pa.ChunkedArray, ids: npt.NDArray[np.int64],
                   stored: dict[int, int]) -> TrigramUpdate:
    """The counts and rare postings that `texts` (numbered `ids`, below 2**31) add to an org whose trigrams
    already occur `stored` times (trigram -> occurrences)."""
    offsets, data = utf8_buffers(texts)
    if len(ids) != len(offsets) - 1:
        raise ValueError("one id per text is needed")
    if len(ids) and (ids.min() < 0 or ids.max() >= 1 << 31):
        raise ValueError("text ids must lie in [0, 2**31)")
    codes, owners = _trigrams(offsets, data)
    present, occurrences = _occurrences(codes)
    totals = occurrences.copy()
    if stored:
        known = np.fromiter(stored.keys(), np.int64, len(stored))
        counted = np.fromiter(stored.values(), np.int64, len(stored))
        order = np.argsort(known)
        known, counted = known[order], counted[order]
        at = np.minimum(np.searchsorted(known, present), len(known) - 1)
        seen = known[at] == present
        totals[seen] += counted[at[seen]]
    rare = present[totals <= RARE_OCCURRENCES]
    held = _members(codes, rare)
    pairs = np.unique((codes[held] << 32) | ids[owners[held]].astype(np.int64))
    return TrigramUpdate(
        counts=pa.table({"trigram": pa.array(present.astype(np.int32)),
                         "occurrences": pa.array(occurrences.astype(np.int64))}),
        postings=pa.table({"trigram": pa.array((pairs >> 32).astype(np.int32)),
                           "id": pa.array((pairs & 0xFFFFFFFF).astype(np.int32))}),
    )


def _occurrences(codes: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The distinct codes, ascending, and how often each occurs."""
    if len(codes) < _COUNT_BY_TABLE_AFTER:
        present, counts = np.unique(codes, return_counts=True)
        return present.astype(np.int64), counts.astype(np.int64)
    occurrences = np.bincount(codes, minlength=_TRIGRAM_CODES)
    present = np.flatnonzero(occurrences)
    return present.astype(np.int64), occurrences[present].astype(np.int64)


def _members(codes: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    if len(codes) < _COUNT_BY_TABLE_AFTER:
        return np.isin(codes, wanted)
    table = np.zeros(_TRIGRAM_CODES, bool)
    table[wanted] = True
    return table[codes]


def _trigrams(offsets: npt.NDArray[np.int64],
              data: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every trigram code of the texts and the index of the text it lies in (trigrams never span two texts)."""
    count = len(offsets) - 1
    codes, owners = [], []
    for first in range(0, count, _TEXTS_PER_SLICE):
        bounds = offsets[first:first + _TEXTS_PER_SLICE + 1]
        lengths = np.diff(bounds)
        size = int(bounds[-1] - bounds[0])
        if size < 3:
            continue
        wide = data[int(bounds[0]):int(bounds[-1])].astype(np.int64)
        slice_codes = wide[:-2] | (wide[1:-1] << 8) | (wide[2:] << 16)
        slice_owners = np.repeat(np.arange(first, first + len(lengths), dtype=np.int64), lengths)[:-2]
        # A trigram starting in a text's last two bytes runs into the next text.
        inside = np.ones(size - 2, bool)
        relative_ends = bounds[1:] - bounds[0]
        for back in (1, 2):
            last = relative_ends - back
            inside[last[(last >= relative_ends - lengths) & (last < size - 2)]] = False
        codes.append(slice_codes[inside])
        owners.append(slice_owners[inside])
    if not codes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(codes), np.concatenate(owners)
