"""Free-text search through the served app answers what `audit-pipeline logs --search` answers, on every index path.

The app is served by uvicorn on 127.0.0.1 over the readers' snapshot (the server's own `SnapshotReader`), on
a dataset built so that each way the search index finds a word's texts is taken: the postings of a rare
trigram, the trigram signatures of a word made of common trigrams, no text at all (a trigram nobody holds),
reading every text (a common word), and the events table (a control character). The CLI's answer is the
reference: its totals and first pages must be the API's and the page's, word for word.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_pipeline.cli.main import main
from audit_pipeline.derived.rollup import update_daily_rollup
from audit_pipeline.derived.trigram_postings import RARE_OCCURRENCES
from audit_pipeline.query import indexed_search, sources
from audit_pipeline.settings import HOME_ENV, Paths
from audit_pipeline.storage.database import writer
from audit_pipeline.web.app import create_app
from tests.conftest import ingest_now, land_records
from tests.served_app import served as serving
from tests.test_web_dataset import add_users

NOW = datetime(2026, 11, 21, tzinfo=UTC)
EVENTS = "/api/v1/audit-logs"
PEOPLE = (
    {"user_email": "zoe.obrien@acme.test", "user_name": "Zoë O'Brien", "user_role": "Admin"},
    {"user_email": "amir.quinn@acme.test", "user_name": "Amir Quinn", "user_role": "Developer"},
    {"user_id": "svc-scanner", "user_role": "Service"},
    {"user_email": "li.wei@acme.test", "user_name": "李伟", "user_role": "Viewer"},
)
# More texts hold each of these trigrams than RARE_OCCURRENCES, but only a few hold the whole word.
COMMON_PIECES = ("qwe", "wer", "ert", "rty")
PIECE_TEXTS = RARE_OCCURRENCES + 16
SIGNATURE_WORD = "qwerty"
RARE_WORD = "SEC-7170"


def build_records() -> list[dict[str, Any]]:
    rng = random.Random(7)
    records: list[dict[str, Any]] = []

    def add(action: str, log_type: str, info: dict[str, Any], **fields: Any) -> None:
        moment = NOW - timedelta(days=rng.randrange(1, 20), seconds=rng.randrange(86_400))
        records.append({
            "event_id": f"e{len(records)}", "org_id": "acme", "occurred_at": moment.isoformat(),
            "log_type": log_type, "action": action, "source_ip": f"10.0.{rng.randrange(4)}.{rng.randrange(1, 9)}",
            "additional_info": info, **rng.choice(PEOPLE), **fields,
        })

    for index in range(PIECE_TEXTS):
        for piece in COMMON_PIECES:
            add("Scan Now", "Scan", {"scan_id": f"scan-{index:03d}", "tag": f"{piece} {index}"})
    for index in range(3):
        add("Jira Ticket Opened", "Ticketing", {"ticket_id": f"{RARE_WORD}-{index}", "tag": f"{SIGNATURE_WORD} x"})
    for index in range(60):
        add("Login" if index % 3 else "Login Failed", "Authentication",
            {"login_type": rng.choice(("sso", "password")), "note": rng.choice(("100% sure", "of_the day", "a\\b"))})
    add("Settings Changed", "Settings", {"note": 'say "hi" 100% of_the time'})
    records.append({"event_id": "other-org", "org_id": "globex", "occurred_at": (NOW - timedelta(days=2)).isoformat(),
                    "log_type": "Authentication", "action": "Login", "user_email": "zoe@globex.test",
                    "additional_info": {"ticket_id": RARE_WORD}})
    return records


RECORDS = build_records()
# Each index path, with a word that takes it (the path asserted by `taken_paths`).
PATH_WORDS = {
    "postings": RARE_WORD,
    "signature": SIGNATURE_WORD,
    "none": "zzqx",
    "all texts": COMMON_PIECES[0],
    "events": "of_\x01",
}
SEARCHES = ("login", "zoe", "sso", RARE_WORD, "sec-7170-2", '"login failed"', "10.0", "10.0.1.", "scan-0", "100%",
            "_", "\\", "a\\b", "o'brien", "Zoë", "ZOË O'BRIEN", "李", 'say "hi', "user:amir", 'action:"scan now"',
            "type:ticket qwerty", "scan-01 qwe", "admin", "nowhere", "%", "'); DROP TABLE events;--",
            *PATH_WORDS.values())


@dataclass
class Served:
    paths: Paths
    url: str
    token: str

    def api(self, search: str, **params: Any) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{EVENTS}", params={"q": search, "period": "all", "limit": 50, **params},
                             headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        assert response.status_code == 200, (search, response.text)
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The dataset ingested and indexed as the pipeline does it, and the app served on a free local port."""
    paths = Paths(tmp_path_factory.mktemp("search") / "home").ensure()
    land_records(paths, RECORDS)
    assert ingest_now(paths).ingested == len(RECORDS)
    with writer(paths) as connection:
        update_daily_rollup(connection)
    token = add_users(paths)["alice"]
    with serving(create_app(paths, clock=lambda: NOW)) as url:
        yield Served(paths, url, token)


def cli(served: Served, search: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`audit-pipeline logs --org acme --search TEXT --format json`, as a user runs it."""
    monkeypatch.setenv(HOME_ENV, str(served.paths.home))
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["logs", "--org", "acme", "--search", search, "--format", "json", "--limit", "50"]) == 0
    body: dict[str, Any] = json.loads(out.getvalue())
    return body


def event_ids(body: dict[str, Any]) -> list[str]:
    return [event["event_id"] for event in body["events"]]


@dataclass
class PathSpy:
    """Which way the index narrowed each free-text word's infos, recorded from its narrowing steps."""

    taken: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        by_trigrams, by_signature = indexed_search._rows_by_trigrams, indexed_search._rows_by_signature

        def trigrams(*args: Any) -> list[int] | None:
            rows = by_trigrams(*args)
            if rows is not None:
                self.taken.append("postings" if rows else "none")
            return rows

        def signature(*args: Any) -> list[int] | None:
            rows = by_signature(*args)
            self.taken.append("all texts" if rows is None else "signature")
            return rows

        monkeypatch.setattr(indexed_search, "_rows_by_trigrams", trigrams)
        monkeypatch.setattr(indexed_search, "_rows_by_signature", signature)
        original_can_use = indexed_search.can_use_index

        def can_use(*args: Any) -> bool:
            usable = original_can_use(*args)
            if not usable:
                self.taken.append("events")
            return usable

        monkeypatch.setattr(sources, "can_use_index", can_use)


def test_the_dataset_makes_each_word_take_its_index_path(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PathSpy()
    spy.install(monkeypatch)
    for path, word in PATH_WORDS.items():
        spy.taken.clear()
        served.api(word)
        assert set(spy.taken) == {path}, (word, spy.taken)


@pytest.mark.parametrize("search", SEARCHES)
def test_the_api_answers_every_search_as_the_cli_does(
        served: Served, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api = served.api(search)
    reference = cli(served, search, monkeypatch)
    assert api["total"] == reference["total"]
    assert event_ids(api) == event_ids(reference)


def test_the_words_of_each_path_find_what_they_should(served: Served) -> None:
    assert served.api(PATH_WORDS["postings"])["total"] == 3
    assert served.api(PATH_WORDS["signature"])["total"] == 3
    assert served.api(PATH_WORDS["none"])["total"] == 0
    assert served.api(PATH_WORDS["all texts"])["total"] == PIECE_TEXTS + 3  # and in "qwerty"
    assert served.api("zoe")["total"] == sum(1 for r in RECORDS if r["org_id"] == "acme"
                                             and "zoe" in r.get("user_email", ""))


@pytest.mark.parametrize("search", ["zoe", RARE_WORD, SIGNATURE_WORD, '"login failed"', "100%", "o'brien"])
def test_the_page_shows_the_clis_total(served: Served, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as browser:
        signed_in = browser.post("/sign-in", data={"token": served.token, "next": "/audit-logs"})
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get("/audit-logs", params={"q": search, "period": "all"})
    assert page.status_code == 200, page.text
    match = re.search(r'id="total" data-total="(\d+)"', page.text)
    assert match is not None
    assert int(match.group(1)) == cli(served, search, monkeypatch)["total"]


STORED_TEXTS = sorted({str(value) for record in RECORDS if record["org_id"] == "acme"
                       for value in (*record["additional_info"].values(), record.get("user_name"),
                                     record.get("user_email"), record.get("source_ip"), record["action"])
                       if value})


@st.composite
def stored_words(draw: st.DrawFn) -> str:
    """A piece of a stored text, in any case, sometimes quoted or qualified, sometimes two words."""
    def piece() -> str:
        text = draw(st.sampled_from(STORED_TEXTS))
        start = draw(st.integers(0, len(text) - 1))
        word = text[start:start + draw(st.integers(1, 10))]
        word = draw(st.sampled_from((word, word.upper(), word.lower())))
        if " " in word or draw(st.booleans()):
            word = '"' + word.replace('"', "") + '"'
        return draw(st.sampled_from(("", "", "", "user:", "action:", "type:"))) + word
    return " ".join(piece() for _ in range(draw(st.integers(1, 2))))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(search=stored_words())
def test_property_api_totals_and_first_pages_are_the_clis(
        served: Served, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    api = served.api(search)
    reference = cli(served, search, monkeypatch)
    assert (api["total"], event_ids(api)) == (reference["total"], event_ids(reference))
