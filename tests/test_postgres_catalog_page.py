"""The Audit Logs page, served by uvicorn, on a lake whose catalog is PostgreSQL: the same answers as on SQLite.

The browser tests of tests/test_web_browser.py run here again, unchanged, against the shared form of the lake
(the catalog on a PostgreSQL server the tests start), through the connection the server really uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from audit_pipeline.settings import Paths
from audit_pipeline.storage.lake import CATALOG_ENV
from tests.postgres_server import PostgresServer, postgres_server  # noqa: F401 - fixture
from tests.test_web_browser import (  # noqa: F401 - fixtures and the tests they serve, collected here again
    base_url,
    browser,
    page,
    test_paging_moves_through_the_whole_list,
    test_picking_filters_narrows_the_list_and_updates_the_counts,
    test_sign_in_then_the_list_shows_the_total_and_newest_rows,
    test_the_download_button_saves_the_current_view,
    test_typing_in_the_search_bar_finds_the_matching_events,
)
from tests.test_web_dataset import WebHome, expected, populated_home

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", name="web")
def postgres_web(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[WebHome]:  # noqa: F811
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(CATALOG_ENV, postgres_server.create_database())
        home = populated_home(Paths(tmp_path_factory.mktemp("web-pg") / "home").ensure())
        assert home.paths.lake.is_postgres
        yield home


def test_the_api_answers_filters_and_an_empty_result_on_postgres(web: WebHome, base_url: str) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {web.tokens['alice']}"}
    logins = httpx.get(f"{base_url}/api/v1/audit-logs", params={"period": "all", "action": "Login"},
                       headers=headers).json()
    assert logins["total"] == len(expected(since=None, where=lambda r: r["action"] == "Login"))
    nothing = httpx.get(f"{base_url}/api/v1/audit-logs", params={"period": "all", "q": "no-such-words-anywhere"},
                        headers=headers).json()
    assert (nothing["total"], nothing["events"]) == (0, [])
