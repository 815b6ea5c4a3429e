"""In Chromium: every value of a filter pane can be seen, and typing in a pane finds values beyond its top 25."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page

from audit_pipeline.domain.catalogue import LOG_TYPES
from audit_pipeline.settings import Paths
from audit_pipeline.web.app import create_app
from tests.conftest import event, ingest_now, land_records
from tests.served_app import served
from tests.test_web_browser import browser, page  # noqa: F401 - fixtures
from tests.test_web_dataset import WebHome, add_users

pytestmark = pytest.mark.browser
NOW = datetime(2026, 11, 21, tzinfo=UTC)
USERS = 40


@pytest.fixture(scope="module")
def panes_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebHome]:
    """Every documented log type, and 40 users: the most active first, user-39 with a single event."""
    paths = Paths(tmp_path_factory.mktemp("panes") / "home").ensure()
    records = []
    for number in range(USERS):
        for repeat in range(USERS - number):
            log_type = list(LOG_TYPES)[(number + repeat) % len(LOG_TYPES)]
            records.append(event(f"u{number}-{repeat}", occurred_at=(NOW - timedelta(hours=1 + repeat)).isoformat(),
                                 log_type=log_type, action=LOG_TYPES[log_type][0],
                                 user_email=f"user-{number:02d}@acme.test", user_name=f"Person {number:02d}"))
    land_records(paths, records)
    ingest_now(paths)
    yield WebHome(paths, create_app(paths, clock=lambda: NOW), add_users(paths))


@pytest.fixture(scope="module")
def base_url(panes_web: WebHome) -> Iterator[str]:
    with served(panes_web.app) as url:
        yield url


def signed_in(page: Page, web: WebHome) -> None:  # noqa: F811
    page.goto("/audit-logs")
    page.fill("#token", web.tokens["alice"])
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_load_state()


def test_every_log_type_is_visible_in_its_pane(page: Page, panes_web: WebHome) -> None:  # noqa: F811
    signed_in(page, panes_web)
    pane = page.locator("fieldset[data-facet=type] .options")
    options = pane.locator("label.option")
    assert options.count() == len(LOG_TYPES)
    box = pane.bounding_box()
    assert box is not None
    for index in range(options.count()):
        shown = options.nth(index).bounding_box()
        assert shown is not None and shown["y"] + shown["height"] <= box["y"] + box["height"] + 0.5, index


def test_a_long_pane_scrolls_with_a_visible_scrollbar(page: Page, panes_web: WebHome) -> None:  # noqa: F811
    signed_in(page, panes_web)
    sizes = page.eval_on_selector("fieldset[data-facet=user] .options",
                                  "e => [e.scrollHeight, e.clientHeight, e.offsetWidth - e.clientWidth]")
    scroll_height, client_height, scrollbar_width = sizes
    assert scroll_height > client_height and scrollbar_width > 0


def test_typing_in_a_pane_finds_a_user_beyond_the_top_25(page: Page, panes_web: WebHome) -> None:  # noqa: F811
    signed_in(page, panes_web)
    users = page.locator("fieldset[data-facet=user] label.option")
    assert users.count() == 25 and "Person 39" not in users.all_inner_texts()
    page.fill("fieldset[data-facet=user] input.pane-find", "person 3")
    found = page.locator("fieldset[data-facet=user] label.option:not([hidden]) .value")
    found.filter(has_text="Person 39").wait_for()
    assert sorted(found.all_inner_texts()) == [f"Person 3{n}" for n in range(10)]
    with page.expect_navigation():
        page.check("fieldset[data-facet=user] input[value='Person 39']")
    assert int(page.get_attribute("#total", "data-total") or "-1") == 1
