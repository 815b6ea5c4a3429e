"""Trigram signatures must never rule out a text that holds the pattern, and must rule out most that don't."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_pipeline.derived.trigram_signature import (
    SIGNATURE_COLUMNS,
    WORDS,
    pattern_signature,
    text_signatures,
)


def reference_signature(text: str) -> tuple[int, ...]:
    """The definition, one trigram at a time: bit = top 8 bits of (trigram * 2654435761 mod 2**32)."""
    data = text.encode()
    words = [0] * WORDS
    for start in range(len(data) - 2):
        trigram = data[start] | data[start + 1] << 8 | data[start + 2] << 16
        bit = ((trigram * 2654435761) & 0xFFFFFFFF) >> 24
        words[bit >> 6] |= 1 << (bit & 63)
    return tuple(word - (1 << 64) if word >= 1 << 63 else word for word in words)


def signatures_of(texts: list[str]) -> list[tuple[int, ...]]:
    table = text_signatures(pa.array(texts, pa.string()))
    columns = [table.column(name).to_pylist() for name in SIGNATURE_COLUMNS]
    return list(zip(*columns, strict=True))


def holds(text_signature: tuple[int, ...], pattern: tuple[int, ...]) -> bool:
    return all(word & wanted == wanted for word, wanted in zip(text_signature, pattern, strict=True))


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(texts, max_size=30))
def test_signatures_equal_the_definition_text_by_text(batch: list[str]) -> None:
    assert signatures_of(batch) == [reference_signature(text) for text in batch]


@settings(max_examples=300, deadline=None)
@given(text=texts, start=st.integers(0, 40), length=st.integers(0, 40))
def test_a_text_always_holds_the_signature_of_its_substrings(text: str, start: int, length: int) -> None:
    pattern = text[start:start + length]
    assert holds(signatures_of([text])[0], pattern_signature(pattern))


def test_patterns_shorter_than_three_bytes_rule_out_nothing() -> None:
    assert pattern_signature("") == pattern_signature("ab") == (0,) * WORDS
    assert pattern_signature("é") == (0,) * WORDS  # two bytes
    assert pattern_signature("ü1") != (0,) * WORDS  # three bytes


def test_many_texts_across_slices_and_offsets() -> None:
    rng = random.Random(7)
    batch = ["".join(rng.choice("abc{}\":_0123456789é") for _ in range(rng.randrange(0, 60))) for _ in range(5000)]
    expected = [reference_signature(text) for text in batch]
    assert signatures_of(batch) == expected
    sliced = pa.array(batch, pa.large_string()).slice(1234, 3000)
    table = text_signatures(sliced)
    assert list(zip(*(table.column(name).to_pylist() for name in SIGNATURE_COLUMNS), strict=True)) == \
        expected[1234:4234]
    chunked = pa.chunked_array([pa.array(batch[:10]), pa.array(batch[10:20])])
    assert text_signatures(chunked).num_rows == 20
    assert text_signatures(pa.chunked_array([], pa.string())).num_rows == 0


def test_a_signature_rules_out_most_texts_without_the_pattern() -> None:
    rng = random.Random(3)
    batch = [f'{{"scan_id":"scn_{rng.randrange(10**8)}","repository":"acme/service-{rng.randrange(40)}"}}'
             for _ in range(20_000)]
    signatures = signatures_of(batch)
    for pattern in ("203.0.113.191", "jira ticket", "no-such-thing-anywhere"):
        passing = sum(holds(signature, pattern_signature(pattern)) for signature in signatures)
        assert passing < len(batch) // 100, pattern


def test_null_texts_are_refused() -> None:
    with pytest.raises(ValueError, match="null"):
        text_signatures(pa.array(["a", None]))
