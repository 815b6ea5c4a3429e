"""The search-bar language: words, quoted phrases, qualifiers, and odd input taken literally."""

from __future__ import annotations

import pytest

from audit_pipeline.query.search import SearchTerm, parse_search


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("", []),
        ("   ", []),
        ("login", [SearchTerm("login")]),
        ("  alice   scan ", [SearchTerm("alice"), SearchTerm("scan")]),
        ('"scan now" alice', [SearchTerm("scan now"), SearchTerm("alice")]),
        ("user:alice", [SearchTerm("alice", "user")]),
        ("USER:Alice Action:login TYPE:auth", [
            SearchTerm("Alice", "user"), SearchTerm("login", "action"), SearchTerm("auth", "log_type"),
        ]),
        ('action:"Scan Now" type:Scan', [SearchTerm("Scan Now", "action"), SearchTerm("Scan", "log_type")]),
        ('"scan', [SearchTerm('"scan')]),
        ('"scan now', [SearchTerm('"scan'), SearchTerm("now")]),
        ('a "b c" "d', [SearchTerm("a"), SearchTerm("b c"), SearchTerm('"d')]),
        ('action:"Scan', [SearchTerm('"Scan', "action")]),
        ("O'Brien 50% a_b c\\d x;y", [
            SearchTerm("O'Brien"), SearchTerm("50%"), SearchTerm("a_b"), SearchTerm("c\\d"), SearchTerm("x;y"),
        ]),
        ("'; DROP TABLE events; --", [
            SearchTerm("';"), SearchTerm("DROP"), SearchTerm("TABLE"), SearchTerm("events;"), SearchTerm("--"),
        ]),
        ('""', []),
        ('"  "', []),
        ("user:", [SearchTerm("user:")]),
        ('user:""', [SearchTerm('user:""')]),
        ("mailto:bob", [SearchTerm("mailto:bob")]),
        ("username:bob", [SearchTerm("username:bob")]),
        ("ab\"cd ef\"", [SearchTerm('ab"cd'), SearchTerm('ef"')]),
        ("naïve 日本語\tÉLODIE\nx", [SearchTerm("naïve"), SearchTerm("日本語"), SearchTerm("ÉLODIE"), SearchTerm("x")]),
    ],
)
def test_search_text_becomes_terms(text: str, terms: list[SearchTerm]) -> None:
    assert list(parse_search(text)) == terms


def test_none_is_no_search() -> None:
    assert parse_search(None) == ()
