"""Small Markdown renderings for asset metadata and CLI summaries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:120]


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], limit: int = 20) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for index, row in enumerate(rows):
        if index >= limit:
            lines.append(f"| … {'| ' * (len(headers) - 1)}|")
            break
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)
