"""Settings -> Audit Logs -> Configuration in a real headless Chromium, against the local AWS sandbox.

An admin enables the connector, copies the trust policy, fills the form (watching the layout preview and
the inline errors as they type), tests the connection with each kind of mistake and then rightly, saves,
reads when the first export runs in their own time zone and UTC, runs the export now and sees its result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from playwright.sync_api import Browser, Page, expect

from audit_pipeline.assets.export import EXPORT_CONFIG_TAG
from audit_pipeline.local_aws import LocalAwsSandbox
from tests.aws_sandbox import aws_sandbox, role_arn  # noqa: F401 - fixture
from tests.served_app import served
from tests.test_web_browser import VIEWER_TIME_ZONE, browser  # noqa: F401 - fixture
from tests.test_web_settings import (  # noqa: F401 - fixture
    FAILURES,
    PAGE,
    SettingsHome,
    home,
    set_up_customer_with_mistakes,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(home: SettingsHome) -> Iterator[str]:  # noqa: F811
    with served(home.client_app) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    """New York time; any console error (a CSP violation included) or dialog fails the test."""
    context = browser.new_context(base_url=base_url, timezone_id=VIEWER_TIME_ZONE, locale="en-US",
                                  viewport={"width": 1400, "height": 1000},
                                  permissions=["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    errors: list[str] = []
    expected_statuses = ("401", "403", "404", "422")
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error"
           and not any(status in message.text for status in expected_statuses) else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
    tab.set_default_timeout(30_000)
    yield tab
    context.close()
    assert errors == []


def sign_in(page: Page, home: SettingsHome, who: str) -> None:  # noqa: F811
    page.goto("/audit-logs")
    page.fill("#token", home.tokens[who])
    with page.expect_navigation():
        page.click("form[action='/sign-in'] button[type=submit]")


def fill_form(page: Page, **values: str) -> None:
    fields = {"name": "#f-name", "bucket": "#f-bucket", "prefix": "#f-prefix", "frequency_hours": "#f-frequency",
              "role_arn": "#f-role"}
    for name, value in values.items():
        if name == "region":
            page.select_option("#f-region", value)
        else:
            page.fill(fields[name], value)


def test_an_admin_sets_up_tests_saves_and_runs_an_export(
    page: Page, home: SettingsHome, aws_sandbox: LocalAwsSandbox  # noqa: F811
) -> None:
    sign_in(page, home, "ada")
    with page.expect_navigation():
        page.click(f"nav.tabs a[href='{PAGE}']")
    expect(page.locator("#no-exports")).to_be_visible()

    with page.expect_navigation():
        page.click("#enable-connector")
    external_id = page.inner_text("#external-id")
    assert len(external_id) >= 32
    assert f'"sts:ExternalId": "{external_id}"' in page.inner_text("#trust-policy")
    page.click("button[data-copy=trust-policy]")
    expect(page.locator("button[data-copy=trust-policy]")).to_have_text("Copied")
    assert external_id in page.evaluate("navigator.clipboard.readText()")
    set_up_customer_with_mistakes(aws_sandbox, external_id)

    fill_form(page, name="acme-prod", bucket="Bad_Bucket")
    expect(page.locator("#error-bucket")).to_contain_text("is not a valid S3 bucket name")
    fill_form(page, bucket="acme-audit", prefix="/security/audit/", region="eu-west-1", frequency_hours="6",
              role_arn=role_arn("acme-role"))
    expect(page.locator("#layout-preview")).to_have_text(re.compile(
        r"^s3://acme-audit/security/audit/audit-logs/org_id=acme/dt=\d{4}-\d\d-\d\d/hour=\d\d/$"))
    expect(page.locator("#error-bucket")).to_be_empty()
    expect(page.locator("#permissions-policy")).to_contain_text("arn:aws:s3:::acme-audit/security/audit/*")

    for case, (values, message) in FAILURES.items():
        fill_form(page, **{"bucket": "acme-audit", "region": "eu-west-1", "role_arn": role_arn("acme-role"),
                           **values})
        with page.expect_navigation():
            page.click("#test-connection")
        expect(page.locator("#connection-steps li.failed")).to_contain_text(message)
        assert page.locator("#connection-steps").get_attribute("data-ok") == "false", case
        assert page.input_value("#f-name") == "acme-prod", "the form keeps what was typed"

    fill_form(page, bucket="acme-audit", region="eu-west-1", role_arn=role_arn("acme-role"))
    with page.expect_navigation():
        page.click("#test-connection")
    steps = page.locator("#connection-steps li")
    expect(steps).to_have_count(3)
    assert page.locator("#connection-steps li.ok").count() == 3
    expect(page.locator("#connection-verdict")).to_contain_text("Connection works")
    assert aws_sandbox.list_keys("acme-audit") == []

    with page.expect_navigation():
        page.click("#save-export")
    first = datetime.fromisoformat(
        (page.get_attribute("#first-export-local", "datetime") or "").replace("Z", "+00:00"))
    assert first > datetime.now(UTC) and (first.minute, first.second) == (0, 0)
    local = first.astimezone(ZoneInfo(VIEWER_TIME_ZONE))
    shown_local = page.inner_text("#first-export-local")
    assert local.strftime("%I:%M:%S %p") in shown_local and local.tzname() in shown_local
    assert page.inner_text("#first-export-utc") == first.strftime("%Y-%m-%d %H:%M:%S UTC")
    row = page.locator("tr#export-acme-prod")
    expect(row).to_contain_text("s3://acme-audit/security/audit/audit-logs/org_id=acme/")

    with page.expect_navigation():
        row.locator("button.run-now").click()
    status = page.locator("tr#export-acme-prod .run-status")
    expect(status).to_have_attribute("data-state", "succeeded", timeout=120_000)
    expect(status).to_contain_text("Exported 4 events (export #1, 1 file")
    health = page.locator("tr#export-acme-prod td.health")
    expect(health.locator(".health-state")).to_have_text("healthy")
    expect(health).to_contain_text("Last export: ")
    expect(health.locator("time").first).to_contain_text(local.tzname() or "")
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_records(dg.RunsFilter(tags={EXPORT_CONFIG_TAG: "acme-prod"}))

    with page.expect_navigation():
        row.locator("button.toggle").click()
    expect(page.locator("tr#export-acme-prod td.state")).to_contain_text("Disabled")
    with page.expect_navigation():
        page.locator("tr#export-acme-prod a.remove").click()
    with page.expect_navigation():
        page.click("#confirm-remove")
    expect(page.locator("#removed-notice")).to_contain_text("acme-prod")
    assert page.locator("tr#export-acme-prod").count() == 0


@pytest.mark.parametrize("who", ["alice", "rita"])
def test_non_admins_are_refused_settings_with_the_permission_named(
    page: Page, home: SettingsHome, who: str  # noqa: F811
) -> None:
    sign_in(page, home, who)
    assert page.locator(f"nav.tabs a[href='{PAGE}']").count() == 0
    page.goto(PAGE)
    assert page.inner_text("#missing-permission") == "admin"
    assert page.locator("#export-form").count() == 0


def test_another_orgs_admin_does_not_see_the_export(page: Page, home: SettingsHome) -> None:  # noqa: F811
    api = home.api("ada")
    api.post("/api/v1/audit-log-exports/connector")
    assert api.post("/api/v1/audit-log-exports", json={
        "name": "acme-prod", "bucket": "acme-audit", "region": "eu-west-1", "frequency_hours": 6,
        "role_arn": role_arn("acme-role")}).status_code == 201
    sign_in(page, home, "gabe")
    page.goto(PAGE)
    assert page.locator("tr#export-acme-prod").count() == 0
    response = page.goto(f"{PAGE}/exports/acme-prod")
    assert response is not None and response.status == 404
