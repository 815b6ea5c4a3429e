"""What a new user meets on the page in the first hour: drill-downs that tick the counted user, a 403 page
that says it once, a favicon, rule names in words, and an empty export that counts its events consistently."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from audit_pipeline.derived.build import build_all
from audit_pipeline.storage.database import writer
from audit_pipeline.web.presentation import rule_label
from tests.conftest import event, ingest_now, land_records
from tests.test_web_dataset import NOW, WebHome, fresh_web_fixture, web_fixture  # noqa: F401 - fixtures


def test_a_findings_drill_down_ticks_the_user_as_the_user_pane_counts_them(fresh_web: WebHome) -> None:
    paths = fresh_web.paths
    burst = [event(f"burst-{n}", occurred_at=(NOW - timedelta(hours=3, minutes=n)).isoformat(),
                   action="Login Failed", user_email="amir.quinn@acme.test", user_name="Amir Quinn")
             for n in range(6)]
    land_records(paths, burst, name="burst.jsonl")
    ingest_now(paths)
    with writer(paths) as connection:
        build_all(connection)
    client = fresh_web.browser_client("alice")
    findings = client.get("/audit-logs/suspicious", params={"period": "all"}).text
    links = [html.unescape(link) for link in re.findall(r'href="(/audit-logs\?period=custom[^"]+)"', findings)]
    assert links
    amir = [link for link in links if "Amir+Quinn" in link]
    assert amir, links
    for link in links:
        page = client.get(link).text
        total = int(re.search(r'id="total" data-total="(\d+)"', page).group(1))  # type: ignore[union-attr]
        pane = page[page.index('data-facet="user"'):page.index('data-facet="type"')]
        ticked = re.findall(r'<label class="option selected" title="([^"]*): ([\d,]+) events">', pane)
        assert len(ticked) == 1, (link, ticked)
        assert int(ticked[0][1].replace(",", "")) == total > 0, link
    assert "Burst of failed logins" in findings and "Failed login burst" not in findings


def test_rule_labels_read_as_words() -> None:
    assert rule_label("login_from_new_ip") == "Login from a new IP"
    assert rule_label("some_new_rule") == "Some new rule"


def test_the_403_page_says_it_once_and_offers_no_views_it_cannot_open(web: WebHome) -> None:
    page = web.browser_client("rita").get("/audit-logs")
    assert page.status_code == 403
    text = re.sub(r"<[^>]+>", " ", page.text)
    assert text.count("read_write") == 1 and text.count("rita@acme.test") == 1
    assert 'href="/audit-logs/suspicious"' not in page.text and 'aria-label="Views"' not in page.text
    assert "Sign out" in page.text


def test_the_favicon_is_served(web: WebHome) -> None:
    response = web.client().get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.lstrip().startswith(b"<svg")
