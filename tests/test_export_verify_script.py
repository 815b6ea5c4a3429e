"""The standalone verification script of docs/export.md, run as a customer would: its own process, only
Python, `cryptography` and boto3, the customer's credentials, the public key as a PEM file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.config import ExportConfig
from audit_pipeline.export.runner import ExportResult
from audit_pipeline.local_aws import LocalAwsSandbox
from tests.aws_sandbox import aws_sandbox  # noqa: F401 - fixture
from tests.digest_helpers import (
    add_a_foreign_file,
    delete_a_digest,
    flip_a_byte,
    history,  # noqa: F401 - fixture
    re_sign_a_digest,
    swap_two_digests,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "export.md"
SCRIPT = re.compile(r'```python\n("""verify_audit_exports\.py.*?)```', re.DOTALL)


def documented_script(folder: Path) -> Path:
    match = SCRIPT.search(DOCS.read_text(encoding="utf-8"))
    assert match, "docs/export.md shows the standalone script"
    script = folder / "verify_audit_exports.py"
    script.write_text(match[1], encoding="utf-8")
    return script


def run_script(tmp_path: Path, sandbox: LocalAwsSandbox, capsys: pytest.CaptureFixture[str],
               config: ExportConfig) -> subprocess.CompletedProcess[str]:
    assert main(["export", "public-key", "--format", "json"]) == 0
    pems = []
    for number, key in enumerate(json.loads(capsys.readouterr().out)["keys"]):
        pem = tmp_path / f"key-{number}.pem"
        pem.write_text(key["public_key_pem"])
        pems.append(str(pem))
    assert sandbox.admin is not None
    customer = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "AUDIT_"))}
    customer.update(AWS_ENDPOINT_URL=sandbox.endpoint_url, AWS_DEFAULT_REGION="us-east-1",
                    AWS_ACCESS_KEY_ID=sandbox.admin.access_key_id,
                    AWS_SECRET_ACCESS_KEY=sandbox.admin.secret_access_key)
    return subprocess.run(
        [sys.executable, str(documented_script(tmp_path)), config.bucket, config.prefix, config.org_id, *pems],
        env=customer, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_documented_script_verifies_an_untouched_history(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    config, _ = history
    result = run_script(tmp_path, aws_sandbox, capsys, config)
    assert (result.returncode, result.stdout) == (0, "every digest, file and window holds\n"), result.stderr


@pytest.mark.parametrize("tamper", [flip_a_byte, delete_a_digest, add_a_foreign_file, re_sign_a_digest,
                                    swap_two_digests])
def test_the_documented_script_names_tampering(
    history: tuple[ExportConfig, list[ExportResult]], aws_sandbox: LocalAwsSandbox,  # noqa: F811
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tamper: Callable[[LocalAwsSandbox], tuple[str, str]],
) -> None:
    config, _ = history
    kind, key = tamper(aws_sandbox)
    result = run_script(tmp_path, aws_sandbox, capsys, config)
    assert result.returncode == 1, result.stderr
    assert f"{kind} {key}" in result.stdout.splitlines()
