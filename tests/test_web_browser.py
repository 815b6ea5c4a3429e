"""End to end in a real headless Chromium: sign in, search, pick filters, page, download.

Totals and rows are compared with answers computed from the input records (tests/test_web_dataset.py).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.served_app import served
from tests.test_web_dataset import NOW, WebHome, display_user, expected, web_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWER_TIME_ZONE = "America/New_York"


@pytest.fixture(scope="module")
def base_url(web: WebHome) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread stopped after the module."""
    with served(web.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context in New York time; any console error (a CSP violation included) fails the test."""
    context = browser.new_context(base_url=base_url, timezone_id=VIEWER_TIME_ZONE, locale="en-US",
                                  viewport={"width": 1400, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error"
           and "401" not in message.text and "403" not in message.text else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
    assert errors == []


def sign_in(page: Page, web: WebHome, who: str = "alice", path: str = "/audit-logs") -> None:
    page.goto(path)
    page.fill("#token", web.tokens[who])
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state()


def total(page: Page) -> int:
    return int(page.get_attribute("#total", "data-total") or "-1")


def shown_users(page: Page) -> list[str]:
    return page.locator("table.events td.user .cell-text").all_inner_texts()


def submit_and_wait(page: Page, action: Callable[[], object]) -> None:
    with page.expect_navigation():
        action()


def search_for(page: Page, text: str) -> None:
    """Type in the search bar and press Enter, as a person would."""
    page.fill("#q", text)
    submit_and_wait(page, lambda: page.press("#q", "Enter"))


def test_sign_in_then_the_list_shows_the_total_and_newest_rows(page: Page, web: WebHome) -> None:
    sign_in(page, web, path="/audit-logs?size=25")
    want = expected()
    assert total(page) == len(want)
    assert shown_users(page) == [display_user(r) for r in want[:25]]
    assert page.url.endswith("/audit-logs?size=25")


def test_typing_in_the_search_bar_finds_the_matching_events(page: Page, web: WebHome) -> None:
    sign_in(page, web)
    search_for(page, 'user:bob "scan now"')
    want = expected(where=lambda r: r["user_email"] == "bob@acme.test" and r["action"] == "Scan Now")
    assert total(page) == len(want)
    assert page.locator("table.events td.action .cell-text").all_inner_texts() == ["Scan Now"] * len(want)
    assert page.input_value("#q") == 'user:bob "scan now"'


def test_picking_filters_narrows_the_list_and_updates_the_counts(page: Page, web: WebHome) -> None:
    sign_in(page, web, path="/audit-logs?period=30d")
    submit_and_wait(page, lambda: page.check("fieldset[data-facet=action] input[value='Login Failed']"))
    in_period = expected(since=NOW - timedelta(days=30))
    failed = [r for r in in_period if r["action"] == "Login Failed"]
    assert total(page) == len(failed)

    submit_and_wait(page, lambda: page.check("fieldset[data-facet=action] input[value='Login']"))
    either = [r for r in in_period if r["action"] in ("Login", "Login Failed")]
    assert total(page) == len(either)

    submit_and_wait(page, lambda: page.check("fieldset[data-facet=user] input[value='Bob Brown']"))
    bobs = [r for r in either if r["user_email"] == "bob@acme.test"]
    assert total(page) == len(bobs)
    assert set(shown_users(page)) == {"Bob Brown"}
    login_count = page.inner_text("fieldset[data-facet=action] label:has(input[value='Login']) .count")
    assert int(login_count) == sum(1 for r in in_period if r["action"] == "Login"
                                   and r["user_email"] == "bob@acme.test")
    assert "action=Login+Failed" in page.url and "user=Bob+Brown" in page.url


def test_the_period_and_a_custom_range_in_the_viewers_time_zone(page: Page, web: WebHome) -> None:
    sign_in(page, web)
    submit_and_wait(page, lambda: page.select_option("#period", "all"))
    assert total(page) == len(expected(since=None))

    page.select_option("#period", "custom")
    local_since, local_until = "2026-10-22T19:00:00", "2026-11-18T19:00:00"  # EDT, then EST after Nov 1
    page.fill("input[data-utc-field=since]", local_since)
    page.fill("input[data-utc-field=until]", local_until)
    submit_and_wait(page, lambda: page.click("#range button[type=submit]"))
    zone = ZoneInfo(VIEWER_TIME_ZONE)
    since, until = (datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
                    for text in (local_since, local_until))
    assert (since.hour, until.hour) == (23, 0)
    assert total(page) == len(expected(since=since, until=until))
    assert "since=2026-10-22T23%3A00%3A00.000Z" in page.url


def test_dates_show_in_the_viewers_time_zone_with_utc_on_hover(page: Page, web: WebHome) -> None:
    sign_in(page, web)
    first = page.locator("table.events td.date time").first
    newest = expected()[0]["occurred_at"]
    assert (first.get_attribute("datetime") or "").startswith(newest[:19])
    assert first.get_attribute("title") == newest[:10] + " " + newest[11:19] + " UTC"
    local = datetime.fromisoformat(newest.replace("Z", "+00:00")).astimezone(ZoneInfo(VIEWER_TIME_ZONE))
    assert local.strftime("%I:%M:%S %p") in first.inner_text()
    assert "EST" in first.inner_text()


def test_paging_moves_through_the_whole_list(page: Page, web: WebHome) -> None:
    sign_in(page, web, path="/audit-logs?period=all&size=25")
    want = expected(since=None)
    seen = shown_users(page)
    while page.locator("a[rel=next]").count():
        submit_and_wait(page, lambda: page.click("a[rel=next]"))
        seen += shown_users(page)
    assert seen == [display_user(r) for r in want]


def test_the_download_button_saves_the_current_view(page: Page, web: WebHome) -> None:
    sign_in(page, web, path="/audit-logs?type=Scan&period=all")
    with page.expect_download() as download_info:
        page.click("a[download]:text('CSV')")
    saved = Path(download_info.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(saved)))
    assert [r["event_id"] for r in rows] == [r["event_id"] for r in expected(
        since=None, where=lambda r: r["log_type"] == "Scan")]


def test_markup_in_the_search_bar_stays_text(page: Page, web: WebHome) -> None:
    sign_in(page, web)
    payload = '"><img src=x id=injected><script>alert(1)</script>'
    search_for(page, payload)
    assert page.input_value("#q") == payload
    assert page.locator("#injected").count() == 0
    assert total(page) == 0


def test_suspicious_activity_is_one_click_away(page: Page, web: WebHome) -> None:
    sign_in(page, web)
    submit_and_wait(page, lambda: page.click("nav.tabs a[href='/audit-logs/suspicious']"))
    assert page.inner_text("h1") == "Suspicious activity"


def test_a_read_only_user_is_told_which_permission_is_missing(page: Page, web: WebHome) -> None:
    sign_in(page, web, who="rita")
    assert page.inner_text("#missing-permission") == "read_write"
    assert page.locator("table.events").count() == 0
