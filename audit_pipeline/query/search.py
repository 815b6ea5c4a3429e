"""The search bar's little language: words, "quoted phrases" and `user:` / `action:` / `type:` qualifiers.

Every term must match (AND). A term matches when it is a case-insensitive substring of one of the fields its
qualifier names: without one, the user id, email, name and role, the action, the log type, the source IP and
the additional_info text; `user:` the user id, email, name or displayed user ("System" for events without
one); `action:` the action; `type:` the log type. Nothing here is an error: a quote without its partner is
an ordinary character, and a phrase cannot contain a double quote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SearchField = Literal["any", "user", "action", "log_type"]

QUALIFIERS: dict[str, SearchField] = {"user": "user", "action": "action", "type": "log_type"}


@dataclass(frozen=True)
class SearchTerm:
    text: str
    field: SearchField = "any"


def parse_search(text: str | None) -> tuple[SearchTerm, ...]:
    """The terms of a search text, in order; blank text gives no terms."""
    if not text:
        return ()
    terms: list[SearchTerm] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        term, position = _read_term(text, position)
        if term is not None:
            terms.append(term)
    return tuple(terms)


def _read_term(text: str, start: int) -> tuple[SearchTerm | None, int]:
    field: SearchField = "any"
    value_start = start
    for name, qualified in QUALIFIERS.items():
        prefix = name + ":"
        if text[start:start + len(prefix)].lower() == prefix:
            field, value_start = qualified, start + len(prefix)
            break
    value, end = _read_value(text, value_start)
    if field != "any" and not value.strip():
        # A bare `user:` (or `user:""`) names no value: search for the text as typed.
        return SearchTerm(text[start:end]), end
    if not value.strip():
        return None, end
    return SearchTerm(value, field), end


def _read_value(text: str, start: int) -> tuple[str, int]:
    if start < len(text) and text[start] == '"':
        closing = text.find('"', start + 1)
        if closing != -1:
            return text[start + 1:closing], closing + 1
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end], end
