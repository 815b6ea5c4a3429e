"""Settings -> Audit Logs -> Configuration through the API and the page's forms: who may, CSRF, orgs, and the
whole set-up against the local AWS sandbox (IAM checks on), down to a run in Dagster's run history.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from audit_pipeline.access import add_user
from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.export_runs import REQUESTED_BY_TAG
from audit_pipeline.local_aws import LocalAwsSandbox
from audit_pipeline.settings import Paths
from audit_pipeline.storage.ingest import pending_landing_files
from audit_pipeline.storage.landing_batches import reads_waiting_reason
from audit_pipeline.web.app import create_app
from tests.alert_receiver import alert_receiver
from tests.aws_sandbox import aws_sandbox, role_arn  # noqa: F401 - fixture
from tests.conftest import event, ingest_now, land_records

PAGE = "/settings/audit-logs/configuration"
API = "/api/v1/audit-log-exports"
USERS = {
    "ada": ("ada@acme.test", "acme", "admin", "Ada Admin"),
    "alice": ("alice@acme.test", "acme", "read_write", "Alice Adams"),
    "rita": ("rita@acme.test", "acme", "read_only", "Rita Reader"),
    "gabe": ("gabe@globex.test", "globex", "admin", "Gabe Globex"),
}
RUN_WAIT_SECONDS = 120


@dataclass
class SettingsHome:
    paths: Paths
    client_app: Any
    tokens: dict[str, str]

    def api(self, who: str) -> TestClient:
        client = TestClient(self.client_app)
        client.headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return client

    def browser(self, who: str) -> TestClient:
        client = TestClient(self.client_app)
        response = client.post("/sign-in", data={"token": self.tokens[who], "next": PAGE}, follow_redirects=False)
        assert response.status_code == 303
        return client

    def change_events(self) -> list[dict[str, Any]]:
        folder = self.paths.landing / "audit-changes"
        lines = [json.loads(p.read_text()) for p in sorted(folder.iterdir())] if folder.exists() else []
        return [line for line in lines if line["log_type"] in ("Settings", "Integration")]


@pytest.fixture
def home(paths: Paths) -> Iterator[SettingsHome]:
    land_records(paths, [event(f"acme-{i}") for i in range(4)] + [event("globex-1", org_id="globex")])
    ingest_now(paths)
    tokens = {who: add_user(paths, *fields).token for who, fields in USERS.items()}
    app = create_app(paths)
    yield SettingsHome(paths, app, tokens)
    app.state.export_settings.runs.close()


def csrf_of(client: TestClient) -> str:
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert match, "no CSRF token in the page"
    return match.group(1)


def settings(**overrides: Any) -> dict[str, Any]:
    values = {"name": "acme-prod", "bucket": "acme-audit", "region": "eu-west-1", "prefix": "security/audit",
              "frequency_hours": 6, "role_arn": role_arn("acme-role"), "gzip": False}
    values.update(overrides)
    return values


def wait_for_run(client: TestClient, name: str, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_WAIT_SECONDS
    while True:
        run: dict[str, Any] = client.get(f"{API}/{name}/runs/{request_id}").json()
        if run["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


@pytest.mark.parametrize("who", ["alice", "rita"])
def test_non_admins_get_403_naming_the_admin_permission_on_page_and_api(home: SettingsHome, who: str) -> None:
    page = home.browser(who).get(PAGE)
    assert page.status_code == 403
    assert '<strong id="missing-permission">admin</strong>' in page.text
    assert "for the admin role" in page.text and "read/write access" not in page.text
    nav = page.text.split("<main>")[0]
    assert "Settings" not in nav, "the nav offers a page the user may not open"
    # The logs stay one click away for the one who may read them, and hidden from the one who may not.
    assert ('href="/audit-logs/suspicious"' in nav) == (who == "alice")
    for method, path in (("GET", API), ("POST", f"{API}/connector"), ("GET", f"{API}/preview"),
                         ("POST", API), ("DELETE", f"{API}/acme-prod"), ("POST", f"{API}/acme-prod/runs")):
        response = home.api(who).request(method, path, json=settings())
        assert response.status_code == 403, (method, path)
        assert response.json()["missing_permission"] == "admin"
    assert home.change_events() == []


def test_not_signed_in_is_401(home: SettingsHome) -> None:
    assert TestClient(home.client_app).get(API).status_code == 401
    assert TestClient(home.client_app).post(f"{API}/connector").status_code == 401
    assert home.browser("rita").post(f"{PAGE}/connector").status_code == 403
    assert "admin" in home.browser("rita").post(f"{API}/connector").json()["missing_permission"]
    page = TestClient(home.client_app).get(PAGE)
    assert page.status_code == 401 and 'action="/sign-in"' in page.text


def test_an_admin_sees_settings_in_the_nav_and_still_reads_audit_logs(home: SettingsHome) -> None:
    client = home.browser("ada")
    assert f'href="{PAGE}"' in client.get("/audit-logs").text
    assert home.api("ada").get("/api/v1/audit-logs").status_code == 200


def test_state_changes_with_the_session_cookie_need_the_sessions_csrf_token(home: SettingsHome) -> None:
    client = home.browser("ada")
    token = csrf_of(client)
    other_session_token = csrf_of(home.browser("gabe"))
    assert other_session_token != token
    for sent in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64}, {"csrf_token": other_session_token}):
        refused = client.post(f"{PAGE}/connector", data=sent)
        assert refused.status_code == 403, sent
        assert "CSRF" in refused.text
    assert client.post(f"{API}/connector").status_code == 403
    assert client.post(f"{API}/connector", headers={"X-CSRF-Token": other_session_token}).status_code == 403
    assert home.change_events() == [], "a refused request changed something"

    assert client.post(f"{PAGE}/connector", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.post(f"{API}/connector", headers={"X-CSRF-Token": token}).status_code == 200
    assert home.api("ada").post(f"{API}/connector").status_code == 200, "a Bearer call needs no CSRF token"
    assert [e["action"] for e in home.change_events()] == ["Connector Enabled"]


def test_the_connector_keeps_its_external_id_until_an_export_uses_it(home: SettingsHome) -> None:
    api = home.api("ada")
    first = api.post(f"{API}/connector").json()
    assert len(first["external_id"]) >= 32
    assert first["trust_policy"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": first["external_id"]}}
    assert api.post(f"{API}/connector").json()["external_id"] == first["external_id"]
    created = api.post(API, json=settings())
    assert created.status_code == 201, created.text
    assert created.json()["external_id"] == first["external_id"]
    assert api.get(API).json()["connector"] is None
    assert api.post(f"{API}/connector").json()["external_id"] != first["external_id"]


def test_saving_refuses_bad_fields_one_message_each_and_saves_nothing(home: SettingsHome) -> None:
    api = home.api("ada")
    api.post(f"{API}/connector")
    response = api.post(API, json=settings(name="Acme Prod", bucket="Bad_Bucket", region="mars-north-1",
                                           prefix="a//b", frequency_hours=25, role_arn="arn:aws:iam::123:role/x"))
    assert response.status_code == 422
    problems = {item["loc"][1]: item["msg"] for item in response.json()["detail"]}
    assert set(problems) == {"name", "bucket", "region", "prefix", "frequency_hours", "role_arn"}
    assert "not a valid S3 bucket name" in problems["bucket"] and "from 1 to 24" in problems["frequency_hours"]
    assert api.get(API).json()["exports"] == []
    reserved = api.post(API, json=settings(name="preview"))
    assert reserved.status_code == 422 and "names a part of the settings API" in reserved.json()["detail"][0]["msg"]

    page = home.browser("ada")
    token = csrf_of(page)
    shown = page.post(PAGE, data={**settings(bucket="Bad_Bucket", frequency_hours="0"), "csrf_token": token})
    assert shown.status_code == 422
    assert re.search(r'id="error-bucket"[^>]*>bucket name &#39;Bad_Bucket&#39; is not a valid', shown.text)
    assert re.search(r'id="error-frequency_hours"[^>]*>frequency must be', shown.text)
    assert 'value="Bad_Bucket"' in shown.text, "what was typed is kept"


def test_another_orgs_export_is_invisible(home: SettingsHome) -> None:
    home.api("ada").post(f"{API}/connector")
    assert home.api("ada").post(API, json=settings()).status_code == 201
    globex = home.api("gabe")
    assert globex.get(API).json()["exports"] == []
    for method, path in (("GET", f"{API}/acme-prod"), ("PUT", f"{API}/acme-prod"),
                         ("POST", f"{API}/acme-prod/disable"), ("DELETE", f"{API}/acme-prod"),
                         ("POST", f"{API}/acme-prod/runs"), ("POST", f"{API}/acme-prod/connection-test")):
        response = globex.request(method, path, json=settings())
        assert response.status_code == 404, (method, path)
        assert "acme" not in response.json()["detail"].replace("acme-prod", "")
    page = home.browser("gabe")
    assert page.get(f"{PAGE}/exports/acme-prod").status_code == 404
    assert "acme-prod" not in page.get(PAGE).text
    globex.post(f"{API}/connector")
    taken = globex.post(API, json=settings(bucket="globex-audit"))
    assert taken.status_code == 422
    assert [item["loc"][1] for item in taken.json()["detail"]] == ["name"]
    assert home.api("ada").get(f"{API}/acme-prod").json()["enabled"] is True


def test_set_up_test_save_run_and_change_through_the_api(
    home: SettingsHome, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    api = home.api("ada")
    external_id = api.post(f"{API}/connector").json()["external_id"]
    aws_sandbox.set_up_customer(bucket="acme-audit", region="eu-west-1", role_name="acme-role",
                                external_id=external_id, prefix="security/audit")

    tested = api.post(f"{API}/connection-test", json=settings()).json()
    assert tested["ok"] is True, tested
    assert [s["step"] for s in tested["steps"]] == ["assume-role", "write-marker", "remove-marker"]
    assert aws_sandbox.list_keys("acme-audit") == [], "the test marker was left behind"
    assert api.get(API).json()["exports"] == [], "testing saved something"

    created = api.post(API, json=settings()).json()
    assert created["first_export_at"].endswith(":00:00Z")
    assert created["layout"].startswith("s3://acme-audit/security/audit/audit-logs/org_id=acme/dt=")

    started = api.post(f"{API}/acme-prod/runs")
    assert started.status_code == 202
    run = wait_for_run(api, "acme-prod", started.json()["request_id"])
    assert run["state"] == "succeeded", run
    assert run["events_exported"] == 4
    assert set(run["object_keys"]) <= set(aws_sandbox.list_keys("acme-audit"))
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={EXPORT_CONFIG_TAG: "acme-prod"}))
    assert [r.dagster_run.run_id for r in records] == [run["run_id"]]
    assert records[0].dagster_run.tags[REQUESTED_BY_TAG] == "ada@acme.test"
    health = api.get(f"{API}/acme-prod").json()["health"]
    assert health["state"] == "healthy" and health["consecutive_failures"] == 0
    assert health["last_cutoff_at"] is not None and health["lag_seconds"] >= 0
    assert api.get(API).json()["exports"][0]["last_run"]["state"] == "succeeded"

    assert api.put(f"{API}/acme-prod", json=settings(frequency_hours=12, gzip=True)).json()["gzip"] is True
    assert api.post(f"{API}/acme-prod/disable").json()["next_export_at"] is None
    assert api.delete(f"{API}/acme-prod").json() == {"name": "acme-prod", "removed": True}
    assert api.get(f"{API}/acme-prod").status_code == 404

    events = home.change_events()
    assert [(e["action"], e["additional_info"].get("change")) for e in events] == [
        ("Connector Enabled", None), ("Audit Log Export Configured", "created"),
        ("Audit Log Export Configured", "updated"), ("Audit Log Export Configured", "disabled"),
        ("Audit Log Export Configured", "removed")]
    assert {e["user_email"] for e in events} == {"ada@acme.test"} and {e["org_id"] for e in events} == {"acme"}
    assert events[2]["additional_info"]["changes"] == {"frequency_hours": {"from": 6, "to": 12},
                                                       "gzip": {"from": False, "to": True}}
    assert events[3]["additional_info"]["enabled"] is False
    assert {e["event_id"].split("-")[0] for e in events} == {"change"}
    # A change is no read: the landing sensor does not hold it back to batch it with reads.
    pending = pending_landing_files(home.paths.landing)
    assert pending and reads_waiting_reason(pending, home.paths.landing, now=time.time()) is None


def test_a_failed_run_shows_its_error(home: SettingsHome, aws_sandbox: LocalAwsSandbox) -> None:  # noqa: F811
    api = home.api("ada")
    api.post(f"{API}/connector")
    api.post(API, json=settings())
    aws_sandbox.create_bucket("acme-audit", "eu-west-1")
    aws_sandbox.create_customer_role("acme-role", external_id="not-the-generated-one", bucket="acme-audit")
    run = wait_for_run(api, "acme-prod", api.post(f"{API}/acme-prod/runs").json()["request_id"])
    assert run["state"] == "failed"
    assert "assume-role" in run["error"] and "trust policy" in run["error"]
    health = api.get(f"{API}/acme-prod").json()["health"]
    assert health["state"] == "failing" and health["consecutive_failures"] == 1
    assert "trust policy" in health["last_error"] and health["last_success_at"] is None
    page = home.browser("ada").get(PAGE).text
    assert "Failed: " in page and re.search(r'class="error last-error">Last error \(1 in a row\)', page)


FAILURES = {
    "wrong_external_id": ({"role_arn": role_arn("stale-role")}, "check the external id in the role's trust policy"),
    "access_denied": ({"role_arn": role_arn("other-bucket-role")}, "may not write s3://acme-audit/"),
    "no_such_bucket": ({"role_arn": role_arn("missing-role"), "bucket": "missing-bucket"},
                       "bucket missing-bucket does not exist"),
    "wrong_region": ({"region": "us-east-1"}, "bucket acme-audit is in eu-west-1, not us-east-1"),
}


def set_up_customer_with_mistakes(sandbox: LocalAwsSandbox, external_id: str) -> None:
    """The customer's bucket and right role, and beside them one role for each mistake in FAILURES."""
    sandbox.set_up_customer(bucket="acme-audit", region="eu-west-1", role_name="acme-role",
                            external_id=external_id, prefix="security/audit")
    sandbox.create_customer_role("stale-role", external_id="an-old-external-id", bucket="acme-audit",
                                 prefix="security/audit")
    sandbox.create_customer_role("other-bucket-role", external_id=external_id, bucket="another-bucket")
    sandbox.create_customer_role("missing-role", external_id=external_id, bucket="missing-bucket",
                                 prefix="security/audit")


@pytest.mark.parametrize("case", list(FAILURES))
def test_connection_test_names_the_failure(
    home: SettingsHome, aws_sandbox: LocalAwsSandbox, case: str  # noqa: F811
) -> None:
    api = home.api("ada")
    external_id = api.post(f"{API}/connector").json()["external_id"]
    set_up_customer_with_mistakes(aws_sandbox, external_id)
    values, message = FAILURES[case]
    tested = api.post(f"{API}/connection-test", json=settings(**values)).json()
    assert tested["ok"] is False
    failed = [s for s in tested["steps"] if not s["ok"]]
    assert len(failed) == 1 and failed[0] == tested["steps"][-1]
    assert message in failed[0]["detail"], failed[0]


NETWORK_OPERATIONS = ("connection-test", "/runs")  # they would reach for AWS, which no test may


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_settings_operation_answers_an_admin_as_documented(home: SettingsHome, mode: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis import GenerationMode

    from tests.test_web_fuzz import CONFORMANCE

    schema = schemathesis.openapi.from_asgi("/openapi.json", home.client_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    mine = [op for op in operations if op.path.startswith(API)
            and not any(part in op.path for part in NETWORK_OPERATIONS)]
    assert len(mine) >= 8
    home.api("ada").post(f"{API}/connector")
    auth = {"Authorization": f"Bearer {home.tokens['ada']}"}
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    for operation in mine:
        if generation is GenerationMode.NEGATIVE and not list(operation.iter_parameters()):
            continue  # nothing to get wrong

        @given(case=operation.as_strategy(generation_mode=generation))
        @hypothesis_settings(max_examples=10, deadline=None, derandomize=True,
                             suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CONFORMANCE)

        answers_as_documented()


def test_an_export_is_edited_from_its_page_keeping_name_and_external_id(home: SettingsHome) -> None:
    home.api("ada").post(f"{API}/connector")
    created = home.api("ada").post(API, json=settings()).json()
    page = home.browser("ada")
    shown = page.get(f"{PAGE}/exports/acme-prod")
    assert shown.status_code == 200
    assert 'id="f-name" name="name" value="acme-prod" readonly' in shown.text
    assert created["external_id"] in shown.text and 'value="security/audit"' in shown.text
    token = csrf_of(page)
    form = {**settings(name="renamed", frequency_hours="12", gzip="on"), "csrf_token": token}
    saved = page.post(f"{PAGE}/exports/acme-prod", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?saved=acme-prod#export-acme-prod"
    after = home.api("ada").get(f"{API}/acme-prod").json()
    assert (after["frequency_hours"], after["gzip"], after["external_id"]) == (12, True, created["external_id"])
    assert home.api("ada").get(f"{API}/renamed").status_code == 404


def test_the_optional_read_policy_for_verify_is_shown_beside_the_other_two(home: SettingsHome) -> None:
    home.api("ada").post(f"{API}/connector")
    home.api("ada").post(API, json=settings())
    detail = home.api("ada").get(f"{API}/acme-prod").json()
    actions = [statement["Action"] for statement in detail["read_policy"]["Statement"]]
    assert actions == ["s3:GetObject", "s3:ListBucket"]
    assert 'id="read-policy"' in home.browser("ada").get(f"{PAGE}/exports/acme-prod").text


def test_saving_disabling_and_removing_on_the_page_ask_a_running_dagster_to_reload(
    home: SettingsHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    with alert_receiver() as (url, received):
        monkeypatch.setenv("AUDIT_PIPELINE_DAGSTER_WEBSERVER", url.removeprefix("http://"))
        admin = home.api("ada")
        admin.post(f"{API}/connector")

        def reloads_after(change: Callable[[], Any]) -> int:
            before = len(received.posts)
            change()
            deadline = time.monotonic() + 30
            while len(received.posts) == before and time.monotonic() < deadline:
                time.sleep(0.05)
            return len(received.posts) - before

        assert reloads_after(lambda: admin.post(API, json=settings())) > 0
        assert reloads_after(lambda: admin.post(f"{API}/acme-prod/disable")) > 0
        assert reloads_after(lambda: admin.delete(f"{API}/acme-prod")) > 0
        assert all(path == "/graphql" for path, _ in received.posts)
