"""`make demo`: the whole pipeline on embedded defaults, through the same commands a user types.

Generates events, ingests them through Dagster into the local DuckDB file, prints the summary and the first
page of the audit log, then exports one org's events to a bucket on a local S3/STS/IAM endpoint (moto, IAM
checks on) through a role that only accepts the external id this pipeline generated.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from audit_pipeline.cli.main import main as cli
from audit_pipeline.export.layout import ROOT_FOLDER
from audit_pipeline.settings import paths_from_env

DEMO_EVENTS = int(os.environ.get("AUDIT_PIPELINE_DEMO_EVENTS", "50000"))
DEMO_ORG_COUNT = 3
DEMO_SEED = 7
CUSTOMER_ACCOUNT = "123456789012"
CUSTOMER_BUCKET = "customer-audit-logs"
CUSTOMER_REGION = "eu-west-1"
CUSTOMER_PREFIX = "security/audit"
ROLE_NAME = "audit-pipeline-export"
DEMO_MARKER = ".created-by-demo"


def heading(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def run(arguments: Sequence[str]) -> None:
    """Run one CLI command as a user would, showing it first; stop the demo if it fails."""
    print(f"$ audit-pipeline {' '.join(arguments)}", flush=True)
    code = cli(list(arguments))
    sys.stdout.flush()
    if code != 0:
        raise SystemExit(code)


def run_json(arguments: Sequence[str]) -> Any:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli([*arguments, "--format", "json"])
    if code != 0:
        raise SystemExit(code)
    return json.loads(buffer.getvalue())


def demo() -> None:
    from audit_pipeline.local_aws import local_aws_sandbox

    paths = paths_from_env()
    _start_afresh(paths.home)
    paths.ensure()
    (paths.home / DEMO_MARKER).write_text("created by `make demo`; the next demo run replaces this folder\n")
    incoming = paths.home / "demo-input"
    print(f"home folder: {paths.home}  (set AUDIT_PIPELINE_HOME to use another)")

    heading(f"1. Generate {DEMO_EVENTS} realistic audit events for {DEMO_ORG_COUNT} orgs over 30 days")
    run(["generate", "--out", str(incoming), "--events", str(DEMO_EVENTS), "--orgs", str(DEMO_ORG_COUNT),
         "--days", "30", "--seed", str(DEMO_SEED)])

    heading("2. Ingest them through Dagster (validated in DuckDB; rejects go to quarantine)")
    run(["ingest", str(incoming)])
    run(["quarantine", "--limit", "3"])

    heading("3. What an investigator sees")
    org = _first_org()
    run(["logs", "--org", org, "--period", "30d", "--limit", "10"])
    run(["logs", "facets", "--org", org, "--period", "30d"])
    run(["logs", "--org", org, "--search", "action:\"Login Failed\"", "--limit", "5"])

    heading(f"4. Export {org}'s events to s3://{CUSTOMER_BUCKET}/{CUSTOMER_PREFIX} through an assumed role")
    with local_aws_sandbox() as sandbox, sandbox.exporter_environment():
        print(f"local S3/STS/IAM endpoint (moto, IAM checks on): {sandbox.endpoint_url}")
        role_arn = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/{ROLE_NAME}"
        configured = run_json(["export", "configure", "--name", "demo-export", "--org", org,
                               "--bucket", CUSTOMER_BUCKET, "--region", CUSTOMER_REGION,
                               "--prefix", CUSTOMER_PREFIX, "--frequency-hours", "1", "--role-arn", role_arn])
        print(f"external id generated for the customer: {configured['external_id']}")
        print("trust policy the customer attaches to the role:")
        print(json.dumps(configured["trust_policy"], indent=2))
        sandbox.create_bucket(CUSTOMER_BUCKET, region=CUSTOMER_REGION)
        sandbox.create_customer_role(ROLE_NAME, external_id=configured["external_id"],
                                     bucket=CUSTOMER_BUCKET, prefix=CUSTOMER_PREFIX)
        run(["export", "test", "demo-export"])
        run(["export", "run", "demo-export"])
        print("a second export right away holds only what arrived since (here: nothing, so one System event):")
        run(["export", "run", "demo-export"])
        keys = [k for k in sandbox.list_keys(CUSTOMER_BUCKET, CUSTOMER_PREFIX) if "_connection-test" not in k]
        print(f"\nobjects in s3://{CUSTOMER_BUCKET}:")
        for key in keys:
            print(f"  {key}")
        data_key = next(k for k in keys if f"/{ROOT_FOLDER}/" in f"/{k}")  # not a digest
        first_line = sandbox.read_object(CUSTOMER_BUCKET, data_key).split(b"\n", 1)[0].decode()
        print("\na sample line:")
        print(json.dumps(json.loads(first_line), indent=2))
        run(["export", "show", "demo-export"])
        print("\nwith the optional read policy on the role, the bucket is checked against the signed digests:")
        sandbox.admin_client("iam").put_role_policy(RoleName=ROLE_NAME, PolicyName="audit-log-verify",
                                                    PolicyDocument=json.dumps(configured["read_policy"]))
        run(["export", "verify", "demo-export"])

    heading("Next")
    print("Dagster UI on the same data:   make dev        (then http://127.0.0.1:3000; it also runs this local")
    print("                               S3/STS stand-in, with the demo's bucket and role, so the hourly")
    print("                               demo-export schedule keeps succeeding while the UI runs)")
    print("Audit Logs page:               .venv/bin/audit-pipeline users add you@example.com "
          f"--org {org} --role read_write")
    print("                               make serve      (then http://127.0.0.1:8080)")
    print("Notebook:                      notebooks/investigate.ipynb")


def _start_afresh(home: Path) -> None:
    """Replace a previous demo's home folder; never touch a folder the demo did not create."""
    if not home.exists() or not any(home.iterdir()):
        return
    if not (home / DEMO_MARKER).exists():
        raise SystemExit(f"{home} holds data the demo did not create; set AUDIT_PIPELINE_HOME to an empty folder")
    shutil.rmtree(home)


def _first_org() -> str:
    """The org with the most events (ties by name), so every demo run shows the same org."""
    from audit_pipeline.storage.database import reader

    with reader(paths_from_env()) as connection:
        row = connection.execute(
            "SELECT org_id FROM events GROUP BY org_id ORDER BY count(*) DESC, org_id LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("the demo ingested no events")
    return str(row[0])


if __name__ == "__main__":
    demo()
