"""What a new user meets in the CLI's first hour: --user's exact match explained, orgs shown, `| head` quiet."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from audit_pipeline.cli.main import main
from audit_pipeline.export.config import ExportSettings
from audit_pipeline.export.config_store import save_config
from audit_pipeline.settings import HOME_ENV, Paths
from tests.aws_sandbox import role_arn
from tests.conftest import event, ingest_now, land_records


@pytest.fixture
def two_orgs(paths: Paths) -> Paths:
    land_records(paths, [event("a1"), event("a2", user_email="alice.b@acme.test", user_name="Alice B"),
                         event("g1", org_id="globex", user_email="gina@globex.test", user_name="Gina")])
    ingest_now(paths)
    return paths


def test_a_user_that_matches_only_as_part_of_one_says_so_in_one_line(
        two_orgs: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "--user", "alice", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert '"total": 0' in captured.out
    [line] = captured.err.splitlines()
    assert "'alice'" in line and '2 event(s) with user:"alice"' in line and "--search" in line
    assert main(["logs", "--user", "nobody"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["logs", "--user", "Alice Adams"]) == 0
    captured = capsys.readouterr()
    assert "Total: 1" in captured.out and captured.err == ""


def test_without_one_org_the_table_shows_each_events_org(two_orgs: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].startswith("Org ")
    assert {line.split()[0] for line in table[3:-1]} == {"acme", "globex"}
    assert main(["logs", "--org", "acme"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("User ")


@pytest.mark.parametrize("command", [["logs", "--limit", "500"], ["export", "show", "acme-prod"]])
def test_a_reader_that_stops_early_ends_the_command_quietly(two_orgs: Paths, command: list[str]) -> None:
    save_config(two_orgs, ExportSettings(name="acme-prod", org_id="acme", bucket="acme-audit", region="us-east-1",
                                         prefix="", frequency_hours=6, role_arn=role_arn("acme-role"), gzip=False))
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line, as `| head -0` would
    try:
        done = subprocess.run([sys.executable, "-m", "audit_pipeline.cli.main", *command],
                              env={**os.environ, HOME_ENV: str(two_orgs.home)}, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, "")
