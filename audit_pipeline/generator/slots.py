"""The event rows before rendering: one Arrow table of numbers (and a few planted overrides)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

SLOT_SCHEMA = pa.schema([
    ("org_idx", pa.int32()),
    ("user_idx", pa.int32()),  # -1: the platform itself (System events)
    ("kind_idx", pa.int16()),
    ("at_us", pa.int64()),  # microseconds since the epoch, UTC
    ("camel", pa.bool_()),  # written in the platform API's camelCase shape
    ("rand", pa.int64()),  # random bits that make the event id unguessable
    ("detail_a", pa.int64()),  # random numbers the renderer turns into details
    ("detail_b", pa.int64()),
    ("scan_no", pa.int64()),  # -1 unless a Scan event; start and end share it
    ("duration_s", pa.float64()),
    ("target_rank", pa.int32()),  # the org rank of the user acted upon, -1 for none
    ("ip_override", pa.string()),
    ("info_override", pa.string()),  # planted events carry their own additional_info as JSON
    ("plant_rule", pa.string()),  # the rule a planted event is meant to trigger
])


def slot_table(columns: dict[str, Any]) -> pa.Table:
    """An Arrow table in SLOT_SCHEMA; missing optional columns are filled with their neutral value."""
    length = len(columns["org_idx"])
    neutral: dict[str, Any] = {
        "camel": np.zeros(length, dtype=bool), "detail_a": np.zeros(length, dtype=np.int64),
        "detail_b": np.zeros(length, dtype=np.int64), "scan_no": np.full(length, -1, dtype=np.int64),
        "duration_s": np.full(length, np.nan), "target_rank": np.full(length, -1, dtype=np.int32),
        "ip_override": [None] * length, "info_override": [None] * length, "plant_rule": [None] * length,
    }
    arrays = [pa.array(columns.get(f.name, neutral.get(f.name)), type=f.type, from_pandas=True)
              for f in SLOT_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=SLOT_SCHEMA)
