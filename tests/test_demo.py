"""`make demo` keeps working: generate, ingest, query and export through the assumed role, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_writes_the_export(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "AWS_ENDPOINT_URL")}
    env.update({"AUDIT_PIPELINE_HOME": str(tmp_path / "home"), "AUDIT_PIPELINE_DEMO_EVENTS": "3000"})
    completed = subprocess.run([sys.executable, "-m", "audit_pipeline.demo"], env=env, capture_output=True,
                               text=True, timeout=600, check=False)
    output = completed.stdout
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "ingested 3000, duplicates 0, quarantined 0" in output
    assert "ok   assume-role" in output and "ok   write-marker" in output
    assert "export demo-export #1" in output and "export demo-export #2 " in output
    assert "/audit-logs/org_id=" in output and '"schema_version": "1.0"' in output
    assert "/audit-logs-digest/org_id=" in output and "2 digest(s)" in output and "all hold" in output

    rerun = subprocess.run([sys.executable, "-m", "audit_pipeline.demo"], env=env, capture_output=True,
                           text=True, timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "ingested 3000, duplicates 0, quarantined 0" in rerun.stdout
