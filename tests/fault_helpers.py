"""Helpers for the fault-matrix tests: failing destinations, child processes, and an exactly-once check
against the records the test itself sent.

Child processes run `python -c "from tests.fault_helpers import ...; ..."` from the repository root, so
the hooks that make them fail live here and never in the product code.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

from audit_pipeline.export.errors import UPLOAD_STEP, unreachable
from audit_pipeline.export.runner import Destination
from audit_pipeline.local_aws import ADMIN_REGION, LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import EXPORT_ACTION, assert_exported_exactly_once

REPOSITORY = Path(__file__).resolve().parents[1]
KILL_POINT_ENV = "AUDIT_PIPELINE_TEST_KILL_POINT"
KILL_BEFORE_BOOKKEEPING = "before-bookkeeping"
KILL_AFTER_FIRST_PART = "after-first-part"
KILL_AFTER_FIRST_ARCHIVE = "after-first-archive"
# A folder: each child with this set waits, before its first ingestion commit, until this many children wait.
COMMIT_BARRIER_ENV = "AUDIT_PIPELINE_TEST_COMMIT_BARRIER"
COMMIT_BARRIER_PARTIES = 2
CHILD_WAIT_SECONDS = 300.0
REPEAT_PAUSE_SECONDS = 0.3


def is_export_event(line: Mapping[str, Any]) -> bool:
    """The one System event an export writes when its window holds no events of the org."""
    return bool(line["log_type"] == "System" and line["action"] == EXPORT_ACTION)


_admin_clients: dict[tuple[str, str, str], Any] = {}


def _admin_s3(sandbox: LocalAwsSandbox, region: str) -> Any:
    """One S3 client of the sandbox's administrator per region, kept for the sandbox's lifetime."""
    assert sandbox.admin is not None, "start() the sandbox first"
    key = (sandbox.endpoint_url, sandbox.admin.access_key_id, region)
    if key not in _admin_clients:
        _admin_clients[key] = sandbox.admin_client("s3", region)
    return _admin_clients[key]


def bucket_lines(sandbox: LocalAwsSandbox, bucket: str, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every JSON line of the export objects named (default: all of the bucket), in key order.

    Like `tests.aws_sandbox.read_lines`, through one kept client: creating one per object dominates otherwise.
    """
    s3 = _admin_s3(sandbox, sandbox.bucket_regions.get(bucket, ADMIN_REGION))
    if keys is None:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = sorted(item["Key"] for page in pages for item in page.get("Contents", []))
    lines: list[dict[str, Any]] = []
    for key in keys:
        if "/audit-logs/" not in f"/{key}":
            continue
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        lines.extend(json.loads(line) for line in body.decode("utf-8").splitlines())
    return lines


def exported_ids(sandbox: LocalAwsSandbox, bucket: str) -> list[str]:
    """The event ids of every data line in the bucket (export events left out), duplicates kept."""
    return [line["event_id"] for line in bucket_lines(sandbox, bucket) if not is_export_event(line)]


def assert_no_duplicates(ids: Iterable[str]) -> None:
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert repeated == [], f"exported more than once: {repeated}"


def assert_bucket_holds_exactly(
    paths: Paths, sandbox: LocalAwsSandbox, bucket: str, org_id: str, sent_ids: Iterable[str]
) -> None:
    """Exactly once twice over: against the events table, and against the ids the test sent for the org."""
    assert_exported_exactly_once(paths, sandbox, bucket, org_id)
    ids = exported_ids(sandbox, bucket)
    assert_no_duplicates(ids)
    assert sorted(ids) == sorted(set(sent_ids))


def object_bodies(sandbox: LocalAwsSandbox, bucket: str) -> dict[str, bytes]:
    return {key: sandbox.read_object(bucket, key) for key in sandbox.list_keys(bucket)}


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so no `except Exception` in the export swallows it."""


class FailingDestination:
    """Delegates to a real destination and fails after `parts_before_failure` uploads succeeded.

    `failure` is called instead of the next upload, with the key about to be written; it raises.
    """

    def __init__(self, inner: Destination, parts_before_failure: int,
                 failure: Callable[[str], None]) -> None:
        self.inner = inner
        self.parts_before_failure = parts_before_failure
        self.failure = failure
        self.uploaded: list[str] = []

    def assume_role(self) -> None:
        self.inner.assume_role()

    def put_file(self, key: str, path: Path, *, sha256_hex: str, content_type: str,
                 metadata: Mapping[str, str]) -> None:
        if len(self.uploaded) == self.parts_before_failure:
            self.failure(key)
        self.inner.put_file(key, path, sha256_hex=sha256_hex, content_type=content_type, metadata=metadata)
        self.uploaded.append(key)


def s3_unreachable(key: str) -> None:
    """What the export raises when S3 cannot be reached, as `S3Destination.put_file` builds it."""
    cause = EndpointConnectionError(endpoint_url=f"http://127.0.0.1:9/{key}")
    raise unreachable(UPLOAD_STEP, "Amazon S3", cause) from cause


def process_dies(key: str) -> None:
    raise SimulatedCrash(f"the exporting process died before writing {key}")


class StopServerAfterParts:
    """Delegates to a real destination and stops the local AWS server once `parts` uploads succeeded."""

    def __init__(self, inner: Destination, sandbox: LocalAwsSandbox, parts: int) -> None:
        self.inner = inner
        self.sandbox = sandbox
        self.parts = parts
        self.uploaded: list[str] = []

    def assume_role(self) -> None:
        self.inner.assume_role()

    def put_file(self, key: str, path: Path, *, sha256_hex: str, content_type: str,
                 metadata: Mapping[str, str]) -> None:
        self.inner.put_file(key, path, sha256_hex=sha256_hex, content_type=content_type, metadata=metadata)
        self.uploaded.append(key)
        if len(self.uploaded) == self.parts:
            self.sandbox.stop()


# --- child processes -------------------------------------------------------------------------------------

def child_environment(**extra: str) -> dict[str, str]:
    """This process's environment (home folders, exporter credentials) plus `extra`, for a child."""
    environment = dict(os.environ)
    environment.pop(KILL_POINT_ENV, None)
    environment.update(extra)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPOSITORY), environment.get("PYTHONPATH", "")) if p
    )
    return environment


@contextlib.contextmanager
def child_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """A list to add started children to; any child still running when the block ends is killed."""
    started: list[subprocess.Popen[str]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait()


def start_python(code: str, args: Iterable[str], environment: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=REPOSITORY, env=dict(environment),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_cli_child(args: Iterable[str], environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`audit-pipeline <args>` in a child process, with the kill hook installed when KILL_POINT_ENV is set."""
    code = "from tests.fault_helpers import cli_child_main; cli_child_main()"
    with child_processes() as started:
        process = start_python(code, args, environment)
        started.append(process)
        out, err = process.communicate(timeout=CHILD_WAIT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _die(*_: object, **__: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install_kill_hook() -> None:
    """In a child: SIGKILL this process at the point named by KILL_POINT_ENV (nothing when unset)."""
    point = os.environ.get(KILL_POINT_ENV, "")
    if point == KILL_BEFORE_BOOKKEEPING:
        from audit_pipeline.export import runner

        runner.mark_delivered = _die  # type: ignore[attr-defined]  # every upload done, nothing recorded
    elif point == KILL_AFTER_FIRST_PART:
        from audit_pipeline.export.aws import S3Destination

        upload = S3Destination.put_file

        def upload_then_die(self: S3Destination, key: str, path: Path, **options: Any) -> None:
            upload(self, key, path, **options)
            _die()

        S3Destination.put_file = upload_then_die  # type: ignore[method-assign]
    elif point == KILL_AFTER_FIRST_ARCHIVE:
        from audit_pipeline.storage import commit_group

        archive_and_report = commit_group.archive_and_report

        def archive_then_die(*args: Any, **kwargs: Any) -> Any:
            action = archive_and_report(*args, **kwargs)

            def run() -> None:
                action()
                _die()  # the group committed and its first file left the landing area; the rest did not

            return run

        commit_group.archive_and_report = archive_then_die  # type: ignore[assignment]
    elif point:
        raise ValueError(f"unknown {KILL_POINT_ENV}: {point!r}")


def install_commit_barrier() -> None:
    """In a child: meet the other children at COMMIT_BARRIER_ENV before the first ingestion commit, so that
    every one of them has read the same landing files before any commits them."""
    folder = os.environ.get(COMMIT_BARRIER_ENV, "")
    if not folder:
        return
    from audit_pipeline.storage.commit_group import CommitGroup

    commit = CommitGroup._commit
    waited: list[bool] = []

    def meet_then_commit(self: CommitGroup) -> Any:
        if not waited:
            waited.append(True)
            Path(folder, str(os.getpid())).touch()
            deadline = time.monotonic() + CHILD_WAIT_SECONDS
            while len(os.listdir(folder)) < COMMIT_BARRIER_PARTIES and time.monotonic() < deadline:
                time.sleep(0.05)
        return commit(self)

    CommitGroup._commit = meet_then_commit  # type: ignore[method-assign]


def cli_child_main() -> None:
    """Entry point of a child: `python -c ... <cli args>`."""
    from audit_pipeline.cli.main import main

    install_kill_hook()
    install_commit_barrier()
    raise SystemExit(main(sys.argv[1:]))


def run_export_child(name: str, part_bytes: int, environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`run_export` of config `name` in a child process without Dagster (quicker to start than the CLI)."""
    code = "from tests.fault_helpers import export_child_main; export_child_main()"
    with child_processes() as started:
        process = start_python(code, [name, str(part_bytes)], environment)
        started.append(process)
        out, err = process.communicate(timeout=CHILD_WAIT_SECONDS)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def export_child_main() -> None:
    """Entry point of a child: `python -c ... <export name> <part bytes>`; prints the export's summary."""
    from audit_pipeline.export.aws import S3Destination
    from audit_pipeline.export.config_store import get_config
    from audit_pipeline.export.runner import run_export
    from audit_pipeline.settings import paths_from_env

    install_kill_hook()
    name, part_bytes = sys.argv[1], int(sys.argv[2])
    paths = paths_from_env()
    config = get_config(paths, name)
    result = run_export(paths, config, S3Destination(config), run_id=f"child-{os.getpid()}",
                        part_bytes=part_bytes)
    print(json.dumps(result.summary(), default=str))


# --- several CLI commands in a row, in step with other processes ------------------------------------------

def start_cli_loop(
    commands: list[list[str]], folder: Path, name: str, environment: Mapping[str, str],
    *, repeat_until_done: str | None = None,
) -> subprocess.Popen[str]:
    """A child that imports everything, says it is ready, waits for the go file, then runs `commands`.

    With `repeat_until_done`, it runs them again and again until the loop child of that name has finished.
    """
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / f"{name}.spec.json"
    until = str(_results_file(folder, repeat_until_done)) if repeat_until_done else None
    spec.write_text(json.dumps({"commands": commands, "ready": str(folder / f"{name}.ready"),
                                "go": str(folder / "go"), "results": str(_results_file(folder, name)),
                                "until": until}))
    code = "from tests.fault_helpers import cli_loop_main; cli_loop_main()"
    return start_python(code, [str(spec)], environment)


def wait_until_ready(folder: Path, names: Iterable[str], processes: Iterable[subprocess.Popen[str]]) -> None:
    """Wait until every loop child is ready to start (or fail if one exits first), then let them all go."""
    pending = [folder / f"{name}.ready" for name in names]
    deadline = time.monotonic() + CHILD_WAIT_SECONDS
    while not all(p.exists() for p in pending):
        exited = [p for p in processes if p.poll() is not None]
        assert not exited, f"a child exited before starting: {[p.communicate() for p in exited]}"
        assert time.monotonic() < deadline, "children did not get ready"
        time.sleep(0.05)
    (folder / "go").touch()


def _results_file(folder: Path, name: str) -> Path:
    return folder / f"{name}.results.json"


def read_loop_results(folder: Path, name: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = json.loads(_results_file(folder, name).read_text())
    return results


def _run_cli_command(command: list[str]) -> dict[str, Any]:
    from audit_pipeline.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    started = time.time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(command)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except Exception as error:  # reported to the test, which fails on it
            err.write(f"{type(error).__name__}: {error}\n")
            code = -1
    return {"command": command, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "started": started, "ended": time.time()}


def cli_loop_main() -> None:
    """Entry point of a loop child: run each command through `main`, recording exit code, output, times."""
    import audit_pipeline.definitions  # noqa: F401 - import the heavy parts before the start signal

    spec = json.loads(Path(sys.argv[1]).read_text())
    Path(spec["ready"]).touch()
    go = Path(spec["go"])
    while not go.exists():
        time.sleep(0.01)
    results = [_run_cli_command(command) for command in spec["commands"]]
    while spec["until"] and not Path(spec["until"]).exists():
        time.sleep(REPEAT_PAUSE_SECONDS)
        results += [_run_cli_command(command) for command in spec["commands"]]
    Path(spec["results"]).write_text(json.dumps(results))
