"""A killed export, retried, still verifies: the retry delivers the very same digest bytes, even when the
signing key was rotated in between, and later digests are signed with the new key."""

from __future__ import annotations

import json
import signal

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.aws import S3Destination
from audit_pipeline.export.runner import run_export
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records
from tests.digest_helpers import BUCKET, DIGESTS, attach_read_policy
from tests.fault_helpers import (
    KILL_AFTER_FIRST_PART,
    KILL_BEFORE_BOOKKEEPING,
    KILL_POINT_ENV,
    child_environment,
    object_bodies,
    run_export_child,
)

SMALL_PARTS = 1_500


def verified(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["export", "verify", "acme-prod", "--format", "json"])
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    assert code == 0, out
    return out


def public_keys(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, object]:
    assert main(["export", "public-key", *extra, "--format", "json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


@pytest.mark.parametrize("kill_point", [KILL_BEFORE_BOOKKEEPING, KILL_AFTER_FIRST_PART])
def test_killed_and_retried_export_still_verifies(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
    kill_point: str,
) -> None:
    config = configure_export(paths, aws_sandbox, gzip=True)
    attach_read_policy(aws_sandbox, config)
    land_records(paths, [event(f"a{i}") for i in range(30)])
    ingest_now(paths)
    signer = public_keys(capsys)["key_id"]

    killed = run_export_child(config.name, SMALL_PARTS, child_environment(**{KILL_POINT_ENV: kill_point}))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    before = object_bodies(aws_sandbox, BUCKET)
    assert bool(aws_sandbox.list_keys(BUCKET, DIGESTS)) == (kill_point == KILL_BEFORE_BOOKKEEPING)

    rotated = public_keys(capsys, "--rotate")
    assert rotated["key_id"] != signer
    assert [k["key_id"] for k in rotated["keys"]] == [signer, rotated["key_id"]]  # type: ignore[attr-defined]

    retried = run_export(paths, config, S3Destination(config), run_id="retry", part_bytes=SMALL_PARTS)
    assert retried.plan.resumed and retried.digest is not None
    after = object_bodies(aws_sandbox, BUCKET)
    assert {key: after[key] for key in before} == before, "the retry wrote the same bytes, digest included"
    assert retried.digest.signing_key_id == signer, "the planned digest keeps the key it was signed with"
    assert verified(capsys)["digests"] == 1

    land_records(paths, [event("b1")], name="more.jsonl")
    ingest_now(paths)
    following = run_export(paths, config, S3Destination(config), run_id="next", part_bytes=SMALL_PARTS)
    assert following.digest is not None and following.digest.signing_key_id == rotated["key_id"]
    assert following.digest.previous is not None and following.digest.previous.key == retried.digest.key
    assert verified(capsys)["digests"] == 2
