"""The published JSON Schema file of an audit event; regenerate with `python -m audit_pipeline.domain.schema_file`."""

from __future__ import annotations

import json
from pathlib import Path

from audit_pipeline.domain.events import event_json_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema" / "audit_event.schema.json"


def render() -> str:
    return json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(SCHEMA_FILE)
