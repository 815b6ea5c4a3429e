"""Trigram counts and rare postings: exact counts, and complete postings for every trigram still rare."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_pipeline.derived.trigram_postings import RARE_OCCURRENCES, pattern_trigrams, trigram_update


def trigrams_of(text: str) -> list[int]:
    data = text.encode()
    return [data[i] | data[i + 1] << 8 | data[i + 2] << 16 for i in range(len(data) - 2)]


def posted(update_postings: pa.Table) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}
    for trigram, text_id in zip(update_postings.column("trigram").to_pylist(),
                                update_postings.column("id").to_pylist(), strict=True):
        found.setdefault(trigram, set()).add(text_id)
    return found


# Few letters, so trigrams repeat and some pass the rare limit; and some characters of several bytes.
texts = st.lists(st.text(alphabet="abé€{}\"", max_size=12), max_size=80)


@settings(max_examples=200, deadline=None)
@given(batch=texts, split=st.integers(0, 80))
def test_counts_are_exact_and_rare_postings_complete_across_appends(batch: list[str], split: int) -> None:
    ids = np.arange(100, 100 + len(batch), dtype=np.int64)
    first = trigram_update(pa.array(batch[:split], pa.string()), ids[:split], {})
    stored = dict(zip(first.counts.column("trigram").to_pylist(), first.counts.column("occurrences").to_pylist(),
                      strict=True))
    second = trigram_update(pa.array(batch[split:], pa.string()), ids[split:], stored)

    totals: Counter[int] = Counter()
    for update in (first, second):
        totals.update(dict(zip(update.counts.column("trigram").to_pylist(),
                               update.counts.column("occurrences").to_pylist(), strict=True)))
    assert totals == Counter(trigram for text in batch for trigram in trigrams_of(text))

    postings = posted(first.postings)
    for trigram, holders in posted(second.postings).items():
        postings.setdefault(trigram, set()).update(holders)
    for trigram, total in totals.items():
        if total <= RARE_OCCURRENCES:
            assert postings[trigram] == {100 + i for i, text in enumerate(batch) if trigram in trigrams_of(text)}


def test_a_common_trigram_gets_no_postings() -> None:
    batch = ["abcd"] * (RARE_OCCURRENCES + 1) + ["xyz"]
    update = trigram_update(pa.array(batch), np.arange(len(batch), dtype=np.int64), {})
    assert set(posted(update.postings)) == set(trigrams_of("xyz"))


def test_pattern_trigrams_are_distinct_and_need_three_bytes() -> None:
    assert pattern_trigrams("ab") == pattern_trigrams("") == []
    assert pattern_trigrams("aaaa") == [ord("a") * (1 + 256 + 65536)]
    assert len(pattern_trigrams("é€")) == 3  # five bytes


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="null"):
        trigram_update(pa.array(["abc", None]), np.arange(2, dtype=np.int64), {})
    with pytest.raises(ValueError, match="one id per text"):
        trigram_update(pa.array(["abc"]), np.arange(2, dtype=np.int64), {})
    with pytest.raises(ValueError, match="2\\*\\*31"):
        trigram_update(pa.array(["abc"]), np.array([1 << 31], dtype=np.int64), {})
