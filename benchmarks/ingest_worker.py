"""One machine's `audit-pipeline ingest`: `python -m benchmarks.ingest_worker REPORT ARGUMENT [ARGUMENT ...]`.

Runs the `audit-pipeline` command with the ARGUMENTs in this process, as the installed script does
(`audit_pipeline.cli.main.main`; stdout, stderr and the exit code are the command's, a traceback included when
the command raises), with its conflicting writes counted (`benchmarks.retries`), and writes to REPORT (JSON)
the exit code, the error it raised if any, the process's CPU seconds (user + system, every thread, start-up
included), its peak resident memory and every retried write.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from benchmarks.export_child import peak_rss_bytes
from benchmarks.retries import count_retries, retries


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m benchmarks.ingest_worker REPORT ARGUMENT [ARGUMENT ...]", file=sys.stderr)
        return 2
    count_retries()
    from audit_pipeline.cli.main import main as audit_pipeline

    code, error = 1, ""
    try:
        code = audit_pipeline(argv[1:])
        sys.stdout.flush()
    except Exception as raised:
        error = " ".join(f"{type(raised).__name__}: {raised}".split())[:1000]
        raise
    finally:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        Path(argv[0]).write_text(json.dumps({
            "exit_code": code, "error": error, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_bytes": peak_rss_bytes(), "retries": retries(),
        }))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
