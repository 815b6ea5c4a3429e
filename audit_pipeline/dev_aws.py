"""`make dev` on a demo home: the demo's local S3/STS/IAM stand-in runs beside the Dagster UI.

    python -m audit_pipeline.dev_aws COMMAND [ARG...]

`make demo` exports through a local moto server that ends with the demo, but leaves an hourly export
schedule behind: without the stand-in every scheduled run would fail. On a home created by `make demo`, this
starts the same stand-in on 127.0.0.1 (IAM checks on), recreates each stored export's bucket and role (moto
keeps everything in memory, so nothing survives from the demo: the role trusts the config's stored external
id again, and the bucket starts empty), and runs COMMAND with the exporter's environment (AWS_ENDPOINT_URL,
the exporter's keys), so Dagster's scheduled exports go there. When COMMAND ends, or this process is asked to
stop (SIGINT, SIGTERM), COMMAND is stopped and then the stand-in.

On any other home COMMAND runs unchanged: exports go to the AWS the environment names.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from audit_pipeline.demo import DEMO_MARKER
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.config_store import list_configs
from audit_pipeline.local_aws import LocalAwsSandbox, local_aws_sandbox
from audit_pipeline.settings import Paths, paths_from_env

PORT_ENV = "AUDIT_PIPELINE_LOCAL_AWS_PORT"
DEFAULT_PORT = 4566
STOP_SECONDS = 60


def is_demo_home(paths: Paths) -> bool:
    return (paths.home / DEMO_MARKER).exists()


def set_up_customers(sandbox: LocalAwsSandbox, configs: Sequence[ExportConfig]) -> None:
    """Each config's bucket, and a role of its ARN's name trusting the exporter with its external id."""
    roles: set[str] = set()
    for config in configs:
        if config.bucket not in sandbox.bucket_regions:
            sandbox.create_bucket(config.bucket, config.region)
        role_name = config.role_arn.rsplit("/", 1)[-1]
        if role_name not in roles:  # a role trusts one external id: the first config's keeps it
            sandbox.create_customer_role(role_name, external_id=config.external_id, bucket=config.bucket,
                                         prefix=config.prefix)
            roles.add(role_name)


def run_command(command: Sequence[str], environment: dict[str, str]) -> int:
    """Run `command` to its end; a SIGINT or SIGTERM to this process is passed on to it once, as SIGTERM.

    The handlers are in place before the command starts: a process started in the background by a shell
    inherits ignored SIGINT/SIGTERM, which `dagster dev` would then keep ignoring, but a caught signal is
    reset to its default for the new program."""
    children: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        if children and children[0].poll() is None:
            children[0].send_signal(signal.SIGTERM)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        child = subprocess.Popen(list(command), env={**os.environ, **environment}, start_new_session=True)
        children.append(child)
        return child.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for child in children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def main(argv: Sequence[str]) -> int:
    if not argv:
        sys.stderr.write("usage: python -m audit_pipeline.dev_aws COMMAND [ARG...]\n")
        return 2
    paths = paths_from_env()
    if not is_demo_home(paths):
        return run_command(argv, {})
    try:
        port = int(os.environ.get(PORT_ENV, str(DEFAULT_PORT)))
    except ValueError:
        sys.stderr.write(f"{PORT_ENV} must be a port number\n")
        return 2
    configs = list_configs(paths)
    with local_aws_sandbox(port) as sandbox:
        set_up_customers(sandbox, configs)
        names = ", ".join(f"s3://{c.bucket} ({c.name})" for c in configs) or "no export configs"
        print(f"local S3/STS/IAM stand-in for the demo's exports on {sandbox.endpoint_url}: {names}", flush=True)
        code = run_command(argv, sandbox.exporter_variables())
    print("local S3/STS/IAM stand-in stopped", flush=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
