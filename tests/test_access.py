"""Users, roles and token digests in the access database, and the `users` commands."""

from __future__ import annotations

import json

import pytest

from audit_pipeline.access import (
    AccessError,
    UserDirectory,
    add_user,
    can_manage_exports,
    can_view_audit_logs,
    list_users,
    revoke_user,
)
from audit_pipeline.access.tokens import token_digest
from audit_pipeline.cli.main import main
from audit_pipeline.settings import Paths
from audit_pipeline.storage import database


def test_a_token_is_stored_only_as_its_digest(paths: Paths) -> None:
    issued = add_user(paths, "Alice@Acme.test", "acme", "read_write", "Alice Adams")

    assert issued.user.email == "alice@acme.test"
    with database.open_reader(paths) as connection:
        stored = connection.execute("SELECT * FROM users").fetchall()
    assert issued.token not in repr(stored)
    assert issued.user.token_sha256 == token_digest(issued.token)


def test_directory_finds_active_users_by_token_only(paths: Paths) -> None:
    alice = add_user(paths, "alice@acme.test", "acme", "read_write")
    bob = add_user(paths, "bob@globex.test", "globex", "read_only")
    directory = UserDirectory(paths)

    found = directory.user_for_token(alice.token)
    assert found is not None
    assert (found.email, found.org_id, found.role) == ("alice@acme.test", "acme", "read_write")
    assert directory.user_for_token(bob.token) == bob.user
    assert directory.user_for_token(alice.token + "x") is None
    assert directory.user_for_token("") is None


def test_revocation_is_seen_by_a_directory_that_already_cached_the_user(paths: Paths) -> None:
    alice = add_user(paths, "alice@acme.test", "acme", "read_write")
    directory = UserDirectory(paths)
    assert directory.user_for_token(alice.token) is not None

    revoke_user(paths, "alice@acme.test")

    assert directory.user_for_token(alice.token) is None
    assert directory.active_user("alice@acme.test") is None


def test_a_revoked_user_can_be_added_again_with_a_new_token(paths: Paths) -> None:
    first = add_user(paths, "alice@acme.test", "acme", "read_only")
    revoke_user(paths, "alice@acme.test")
    second = add_user(paths, "alice@acme.test", "acme", "read_write")
    directory = UserDirectory(paths)

    assert directory.user_for_token(first.token) is None
    again = directory.user_for_token(second.token)
    assert again is not None and again.role == "read_write"


@pytest.mark.parametrize(
    ("email", "org", "role", "message"),
    [
        ("not-an-email", "acme", "read_write", "not an email address"),
        ("a@b.test", "  ", "read_write", "org is empty"),
        ("a@b.test", "x" * 300, "read_write", "longer than"),
        ("a@b.test", "acme\n", "owner", "role must be one of"),
        ("a@b.test", "ac\x00me", "read_only", "control characters"),
    ],
)
def test_bad_user_input_is_refused_with_a_reason(
    paths: Paths, email: str, org: str, role: str, message: str
) -> None:
    with pytest.raises(AccessError, match=message):
        add_user(paths, email, org, role)
    assert list_users(paths) == []


def test_an_active_user_is_not_silently_given_a_second_token(paths: Paths) -> None:
    add_user(paths, "alice@acme.test", "acme", "read_write")
    with pytest.raises(AccessError, match="already has access"):
        add_user(paths, "alice@acme.test", "globex", "read_write")
    assert [u.org_id for u in list_users(paths)] == ["acme"]


def test_revoking_an_unknown_or_revoked_user_says_so(paths: Paths) -> None:
    with pytest.raises(AccessError, match="no user"):
        revoke_user(paths, "ghost@acme.test")
    add_user(paths, "alice@acme.test", "acme", "read_write")
    revoke_user(paths, "alice@acme.test")
    with pytest.raises(AccessError, match="already revoked"):
        revoke_user(paths, "alice@acme.test")


def test_users_commands_round_trip_in_json(paths: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "alice@acme.test", "--org", "acme", "--role", "read_write",
                 "--name", "Alice Adams", "--format", "json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert UserDirectory(paths).user_for_token(added["token"]) is not None

    assert main(["users", "revoke", "alice@acme.test", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is False

    assert main(["users", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["email"], u["org_id"], u["role"], u["active"]) for u in listed] == [
        ("alice@acme.test", "acme", "read_write", False)
    ]
    assert "token" not in listed[0] and "token_sha256" not in listed[0]


def test_users_add_prints_the_token_once_in_table_format(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "bob@acme.test", "--org", "acme", "--role", "read_only"]) == 0
    out = capsys.readouterr().out
    token = out.split("token (shown only now): ")[1].strip()
    assert UserDirectory(paths).user_for_token(token) is not None

    assert main(["users", "list"]) == 0
    assert token not in capsys.readouterr().out


def test_users_add_makes_an_admin_who_may_read_logs_and_manage_exports(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "ada@acme.test", "--org", "acme", "--role", "admin", "--format", "json"]) == 0
    added = json.loads(capsys.readouterr().out)
    user = UserDirectory(paths).user_for_token(added["token"])
    assert user is not None and user.role == "admin"
    assert can_manage_exports(user.role) and can_view_audit_logs(user.role)
    assert not can_manage_exports("read_write") and not can_manage_exports("read_only")


def test_users_command_errors_are_one_line_and_exit_2(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "revoke", "ghost@acme.test"]) == 2
    assert capsys.readouterr().err.strip() == "audit-pipeline: no user ghost@acme.test"
