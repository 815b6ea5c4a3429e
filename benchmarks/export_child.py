"""One export in a process of its own, so its peak memory can be measured: `python -m benchmarks.export_child
HOME NAME`. Prints one JSON line: the events exported and the seconds taken."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.config_store import get_config
from audit_pipeline.export.runner import run_export
from audit_pipeline.settings import Paths
from benchmarks.measure import stopwatch


def main(argv: list[str]) -> int:
    home, name = argv
    paths = Paths(Path(home))
    config = get_config(paths, name)
    with stopwatch() as watch:
        result = run_export(paths, config, S3Destination(config), run_id=uuid.uuid4().hex)
    print(json.dumps({"events": result.plan.events, "objects": len(result.objects), "seconds": watch.seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
