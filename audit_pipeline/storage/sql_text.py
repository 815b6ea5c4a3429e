"""SQL fragments shared by the statements that turn stored events into text."""

from __future__ import annotations

RFC3339_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def rfc3339_utc(column: str) -> str:
    """A TIMESTAMPTZ column as RFC 3339 text in UTC with microseconds and `Z`, e.g. 2026-11-20T10:00:00.000000Z.

    Formatting the plain UTC timestamp skips DuckDB's time-zone machinery (several times faster on large
    exports) and gives the same text as formatting the TIMESTAMPTZ in a UTC session. `column` comes from code.
    """
    return f"strftime(make_timestamp(epoch_us({column})), '{RFC3339_UTC_FORMAT}')"
