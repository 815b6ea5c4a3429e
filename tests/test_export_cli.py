"""The `audit-pipeline export` commands end to end, against the local AWS sandbox with IAM checks on."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from tests.aws_sandbox import aws_sandbox, role_arn  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    out = json.loads(captured.out) if "--format" in argv and captured.out.strip() else captured.out
    return code, out, captured.err


def configure(capsys: pytest.CaptureFixture[str], *extra: str, name: str = "acme-prod",
              role: str = "acme-role") -> tuple[int, Any, str]:
    return run_cli(capsys, "export", "configure", "--name", name, "--org", "acme", "--bucket", "acme-audit",
                   "--region", "eu-west-1", "--prefix", "/exports/audit/", "--frequency-hours", "6",
                   "--role-arn", role_arn(role), *extra, "--format", "json")


def test_configure_prints_external_id_and_both_policies(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = configure(capsys)
    assert code == 0
    assert set(out) == {"name", "external_id", "trust_policy", "permissions_policy", "read_policy",
                        "first_export_at"}
    assert len(out["external_id"]) >= 32
    statement = out["trust_policy"]["Statement"][0]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": out["external_id"]}}
    permissions = out["permissions_policy"]["Statement"]
    assert permissions == [{"Sid": "WriteAuditLogExports", "Effect": "Allow", "Action": "s3:PutObject",
                            "Resource": "arn:aws:s3:::acme-audit/exports/audit/*"},
                           {"Sid": "RemoveConnectionTestMarkers", "Effect": "Allow", "Action": "s3:DeleteObject",
                            "Resource": "arn:aws:s3:::acme-audit/exports/audit/_connection-test/*"}]
    reads = out["read_policy"]["Statement"]
    assert [(r["Action"], r["Resource"]) for r in reads] == [
        ("s3:GetObject", ["arn:aws:s3:::acme-audit/exports/audit/audit-logs/*",
                          "arn:aws:s3:::acme-audit/exports/audit/audit-logs-digest/*"]),
        ("s3:ListBucket", "arn:aws:s3:::acme-audit"),
    ]
    assert reads[1]["Condition"] == {"StringLike": {"s3:prefix": ["exports/audit/audit-logs/*",
                                                                  "exports/audit/audit-logs-digest/*"]}}
    assert out["first_export_at"].endswith(":00:00Z")
    with dg.DagsterInstance.get() as instance:
        assert instance.has_dynamic_partition("export_configs", "acme-prod")


def test_editing_keeps_the_external_id(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    _, first, _ = configure(capsys)
    code, second, _ = configure(capsys, "--gzip")
    assert code == 0
    assert second["external_id"] == first["external_id"]
    _, other, _ = configure(capsys, name="acme-backup", role="backup-role")
    assert other["external_id"] != first["external_id"]
    code, listed, _ = run_cli(capsys, "export", "list", "--format", "json")
    assert [c["name"] for c in listed] == ["acme-backup", "acme-prod"]
    assert [c["gzip"] for c in listed] == [False, True]


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--bucket", "Bad_Bucket", "not a valid S3 bucket name"),
    ("--region", "mars-north-1", "not an AWS region"),
    ("--prefix", "a//b", "empty, '.' or '..' folder"),
    ("--role-arn", "arn:aws:iam::123:role/x", "not an IAM role ARN"),
    ("--frequency-hours", "25", "from 1 to 24"),
    ("--name", "Acme Prod", "not a slug"),
])
def test_configure_refuses_bad_values_with_one_line(
    paths: Paths, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    argv = {"--name": "acme-prod", "--org": "acme", "--bucket": "acme-audit", "--region": "eu-west-1",
            "--prefix": "p", "--frequency-hours": "1", "--role-arn": role_arn("r"), flag: value}
    code = main(["export", "configure", *[x for pair in argv.items() for x in pair]])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1
    assert main(["export", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_unknown_export_is_a_clear_error(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("show", "test", "run", "enable", "disable", "remove"):
        assert main(["export", action, "nope"]) == 2
        assert "no export named 'nope'" in capsys.readouterr().err


def test_full_cycle_through_the_cli(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    land_records(paths, [event(f"a{i}") for i in range(5)] + [event("b1", org_id="globex")])
    ingest_now(paths)
    _, configured, _ = configure(capsys)
    assert aws_sandbox.role_arn("acme-role") == role_arn("acme-role")
    aws_sandbox.set_up_customer(bucket="acme-audit", region="eu-west-1", role_name="acme-role",
                                external_id=configured["external_id"], prefix="exports/audit")

    code, tested, _ = run_cli(capsys, "export", "test", "acme-prod", "--format", "json")
    assert code == 0, tested
    assert [s["step"] for s in tested["steps"]] == ["assume-role", "write-marker", "remove-marker"]
    assert aws_sandbox.list_keys("acme-audit", "exports/audit/_connection-test/") == []

    code, ran, err = run_cli(capsys, "export", "run", "acme-prod", "--format", "json")
    assert code == 0, err
    assert ran["events_exported"] == 5
    assert ran["window"]["from_seq"] == 0 and ran["window"]["to_seq"] == 6
    assert all(k.startswith("exports/audit/audit-logs/org_id=acme/dt=") for k in ran["object_keys"])
    assert set(ran["object_keys"]) <= set(aws_sandbox.list_keys("acme-audit"))
    assert ran["digest_key"].startswith("exports/audit/audit-logs-digest/org_id=acme/dt=")
    assert ran["digest_key"] in aws_sandbox.list_keys("acme-audit")

    code, shown, _ = run_cli(capsys, "export", "show", "acme-prod", "--format", "json")
    assert shown["last_export"]["status"] == "SUCCESS"
    assert shown["last_export"]["last_successful_export"]["events_exported"] == 5
    assert shown["config"]["next_export_at"] is not None

    code, disabled, _ = run_cli(capsys, "export", "disable", "acme-prod", "--format", "json")
    assert disabled["enabled"] is False and disabled["next_export_at"] is None
    code, enabled, _ = run_cli(capsys, "export", "enable", "acme-prod", "--format", "json")
    assert enabled["enabled"] is True

    code, removed, _ = run_cli(capsys, "export", "remove", "acme-prod", "--format", "json")
    assert removed == {"name": "acme-prod", "removed": True}
    assert run_cli(capsys, "export", "list", "--format", "json")[1] == []


def test_failed_run_names_the_cause_and_shows_in_history(
    paths: Paths, aws_sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    land_records(paths, [event("a1")])
    ingest_now(paths)
    configure(capsys)
    aws_sandbox.create_bucket("acme-audit", "eu-west-1")
    aws_sandbox.create_customer_role("acme-role", external_id="not-the-generated-id-0123456789abcdef",
                                     bucket="acme-audit", prefix="exports/audit")
    code, tested, _ = run_cli(capsys, "export", "test", "acme-prod", "--format", "json")
    assert code == 1
    assert tested["steps"][0]["step"] == "assume-role" and not tested["steps"][0]["ok"]
    assert "external id" in tested["steps"][0]["detail"]

    code = main(["export", "run", "acme-prod"])
    err = capsys.readouterr().err
    assert code == 1
    assert "trust policy" in err and "external id" in err
    _, shown, _ = run_cli(capsys, "export", "show", "acme-prod", "--format", "json")
    assert shown["last_export"]["status"] == "FAILURE"
    assert "external id" in shown["last_export"]["error"]
    assert "last_successful_export" not in shown["last_export"]


def test_the_list_table_shows_the_lag_as_a_person_reads_it() -> None:
    from audit_pipeline.cli.export import lag_text

    assert (lag_text(None), lag_text(283.6), lag_text(5400.0)) == ("-", "4 min", "1.5 h")
