"""`export verify` against the local AWS sandbox (IAM checks on): an untouched history verifies, and each
kind of tampering is detected and named; the write-only permissions policy still suffices to export."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.bucket_reader import BucketReadError, S3BucketReader
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import ExportResult
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, configure_export  # noqa: F401 - fixture
from tests.digest_helpers import (
    BUCKET,
    DIGESTS,
    add_a_foreign_file,
    attach_read_policy,
    delete_a_data_file,
    delete_a_digest,
    delete_the_newest_digest,
    export_history,
    flip_a_byte,
    history,  # noqa: F401 - fixture
    re_sign_a_digest,
    swap_two_digests,
)


def verify(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["export", "verify", "acme-prod", *extra, "--format", "json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)


def test_untouched_history_verifies(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, results = history
    code, out = verify(capsys)
    assert (code, out["problems"]) == (0, [])
    assert out["digests"] == 3
    assert out["files"] == sum(len(r.objects) for r in results) > 3
    assert results[-1].digest is not None
    assert out["chain_head"] == {"key": results[-1].digest.key, "sha256": results[-1].digest.sha256}
    assert main(["export", "verify", "acme-prod"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "3 digest(s)" in line and "all hold" in line


def test_digests_describe_their_exports(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    _, results = history
    documents = [json.loads(aws_sandbox.read_object(BUCKET, key)) for key in aws_sandbox.list_keys(BUCKET, DIGESTS)]
    assert [d["export_number"] for d in documents] == [1, 2, 3]
    assert documents[0]["previous_digest"] is None
    for earlier, later, result in zip(documents, documents[1:], results, strict=False):
        assert later["previous_digest"]["key"] == earlier["digest_key"] == result.digest.key  # type: ignore[union-attr]
        assert later["window"]["from_seq"] == earlier["window"]["to_seq"]
    first, empty, last = documents
    assert [f["key"] for f in first["files"]] == results[0].object_keys
    assert sum(f["user_events"] for f in first["files"]) == 30
    assert [(f["user_events"], f["system_events"]) for f in empty["files"]] == [(0, 1)]
    assert [(f["user_events"], f["system_events"]) for f in last["files"]] == [(1, 1)]
    assert all(k.startswith("exports/audit/audit-logs-digest/org_id=acme/dt=") and k.endswith("_digest.json")
               for k in aws_sandbox.list_keys(BUCKET, DIGESTS))


@pytest.mark.parametrize("tamper", [
    flip_a_byte, delete_a_data_file, delete_a_digest, delete_the_newest_digest, add_a_foreign_file,
    re_sign_a_digest, swap_two_digests,
])
def test_each_tampering_is_detected_and_named(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    capsys: pytest.CaptureFixture[str], tamper: Callable[[LocalAwsSandbox], tuple[str, str]],
) -> None:
    kind, key = tamper(aws_sandbox)
    code, out = verify(capsys)
    assert code == 1
    assert {"problem": kind, "key": key} in [{"problem": p["problem"], "key": p["key"]} for p in out["problems"]]
    assert main(["export", "verify", "acme-prod"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert f"{kind} {key}: " in "\n".join(lines[:-1])
    assert len(lines) == len(out["problems"]) + 1


def test_since_and_until_limit_what_is_checked(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, results = history
    code, out = verify(capsys, "--since", "2000-01-01", "--until", "2000-01-02")
    assert (code, out["digests"], out["problems"]) == (0, 0, [])
    code, out = verify(capsys, "--since", results[0].plan.cutoff_at.strftime("%Y-%m-%d"))
    assert (code, out["digests"]) == (0, 3)


@pytest.mark.parametrize(("argv", "message"), [
    (["export", "verify", "nope"], "no export named 'nope'"),
    (["export", "verify", "acme-prod", "--since", "yesterday"], "is not a time"),
    (["export", "verify", "acme-prod", "--since", "2026-11-02", "--until", "2026-11-01"], "must be later"),
])
def test_bad_arguments_exit_2_with_one_line(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
    argv: list[str], message: str,
) -> None:
    configure_export(paths, aws_sandbox)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_write_only_policy_exports_and_verify_asks_for_the_read_policy(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    config = configure_export(paths, aws_sandbox)
    results = export_history(paths, config)  # the role has s3:PutObject below the prefix and nothing else
    assert len(aws_sandbox.list_keys(BUCKET, DIGESTS)) == len(results)
    assert main(["export", "verify", config.name]) == 1
    err = capsys.readouterr().err
    assert "may not list" in err and "optional read policy" in err and err.count("\n") == 1
    attach_read_policy(aws_sandbox, config)
    assert main(["export", "verify", config.name]) == 0
    # The read policy reads the two export folders only. (moto checks its GetObject resources, but ignores the
    # s3:prefix condition of its ListBucket statement: tests/test_export_cli.py checks that condition's text.)
    with pytest.raises(BucketReadError, match="may not read"):
        S3BucketReader(config).read("exports/audit/other.json")
