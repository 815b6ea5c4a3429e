"""Who may see what: tokens, sessions, roles and orgs, for the API and the page alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from audit_pipeline.access import revoke_user
from audit_pipeline.web.sessions import SESSION_COOKIE, SESSION_LIFETIME, SessionSigner
from tests.test_web_dataset import NOW, WebHome, fresh_web_fixture, web_fixture  # noqa: F401 - fixtures

API_READS = ("/api/v1/audit-logs", "/api/v1/audit-logs/facets", "/api/v1/audit-logs/download",
             "/api/v1/suspicious-activity")
PAGE_READS = ("/audit-logs", "/audit-logs/suspicious", "/audit-logs/download")


@pytest.mark.parametrize("path", API_READS)
def test_api_without_credentials_is_401_with_a_bearer_challenge(web: WebHome, path: str) -> None:
    response = web.client().get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Bearer ", "Basic YWxpY2U6cHc=", "bearer", "x" * 5000])
def test_api_with_a_bad_token_is_401(web: WebHome, header: str) -> None:
    response = web.client().get("/api/v1/audit-logs", headers={"Authorization": header})
    assert response.status_code == 401


@pytest.mark.parametrize("path", API_READS)
def test_api_read_only_user_is_403_naming_the_missing_permission(web: WebHome, path: str) -> None:
    response = web.client("rita").get(path)
    assert response.status_code == 403
    assert response.json()["missing_permission"] == "read_write"


@pytest.mark.parametrize("path", API_READS)
def test_api_read_write_user_may_read(web: WebHome, path: str) -> None:
    assert web.client("alice").get(path).status_code == 200


def test_me_tells_a_read_only_user_what_they_may_do(web: WebHome) -> None:
    body = web.client("rita").get("/api/v1/me").json()
    assert body == {"email": "rita@acme.test", "name": "Rita Reader", "org_id": "acme", "role": "read_only",
                    "can_view_audit_logs": False}
    assert web.client().get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("path", PAGE_READS)
def test_page_without_a_session_shows_the_sign_in_form_with_401(web: WebHome, path: str) -> None:
    response = web.client().get(path, params={"q": "login"})
    assert response.status_code == 401
    assert '<form method="post" action="/sign-in"' in response.text
    assert f'name="next" value="{path}?q=login"' in response.text


@pytest.mark.parametrize("path", PAGE_READS)
def test_page_for_a_read_only_user_is_403_naming_read_write(web: WebHome, path: str) -> None:
    response = web.browser_client("rita").get(path)
    assert response.status_code == 403
    assert '<strong id="missing-permission">read_write</strong>' in response.text
    assert "rita@acme.test" in response.text


def test_page_for_another_org_is_403(web: WebHome) -> None:
    response = web.browser_client("alice").get("/audit-logs", params={"org": "globex"})
    assert response.status_code == 403
    assert "may only view the audit logs of org acme" in response.text


def test_sign_in_sets_a_strict_http_only_session_cookie(web: WebHome) -> None:
    response = web.client().post("/sign-in", data={"token": web.tokens["alice"], "next": "/audit-logs?q=x"},
                                 follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/audit-logs?q=x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert web.tokens["alice"] not in cookie
    assert "Secure" not in cookie


def test_over_https_the_cookie_is_secure(web: WebHome) -> None:
    client = TestClient(web.app, base_url="https://audit.example")
    response = client.post("/sign-in", data={"token": web.tokens["alice"]}, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_token_at_sign_in_says_so_without_a_cookie(web: WebHome) -> None:
    response = web.client().post("/sign-in", data={"token": "nope"}, follow_redirects=False)
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "/\\evil.test", "javascript:alert(1)",
                                    "/\t/evil.test", "/a\\b"])
def test_sign_in_never_redirects_to_another_site(web: WebHome, target: str) -> None:
    response = web.client().post("/sign-in", data={"token": web.tokens["alice"], "next": target},
                                 follow_redirects=False)
    assert response.headers["location"] == "/audit-logs"


def test_sign_in_posted_from_another_site_is_refused(web: WebHome) -> None:
    response = web.client().post("/sign-in", data={"token": web.tokens["alice"]},
                                 headers={"Origin": "https://evil.test"}, follow_redirects=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_forged_or_tampered_cookie_is_not_a_session(web: WebHome) -> None:
    signed_in = web.browser_client("alice")
    value = signed_in.cookies[SESSION_COOKIE]
    payload, mac = value.split(".")
    for forged in (f"{payload}x.{mac}", f"{payload}.{mac[:-2]}AA", "garbage", "a.b.c"):
        client = TestClient(web.app, cookies={SESSION_COOKIE: forged})
        assert client.get("/audit-logs").status_code == 401


def test_a_session_expires_and_cannot_be_read_with_another_key() -> None:
    signer = SessionSigner(b"k" * 32)
    value = signer.sign("alice@acme.test", "digest", NOW)
    assert signer.verify(value, NOW + timedelta(hours=11)) is not None
    assert signer.verify(value, NOW + SESSION_LIFETIME) is None
    assert signer.verify(value, NOW - timedelta(minutes=1)) is None
    assert SessionSigner(b"o" * 32).verify(value, NOW) is None
    assert signer.verify("é.é", NOW) is None


def test_sign_out_ends_the_session(web: WebHome) -> None:
    client = web.browser_client("alice")
    assert client.get("/audit-logs").status_code == 200
    response = client.post("/sign-out", follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/audit-logs").status_code == 401


def test_revoking_a_user_ends_their_token_and_their_sessions(fresh_web: WebHome) -> None:
    api = fresh_web.client("alice")
    page = fresh_web.browser_client("alice")
    assert api.get("/api/v1/audit-logs").status_code == 200
    assert page.get("/audit-logs").status_code == 200

    revoke_user(fresh_web.paths, "alice@acme.test")

    assert api.get("/api/v1/audit-logs").status_code == 401
    assert page.get("/audit-logs").status_code == 401


def test_the_session_cookie_is_ignored_when_a_bearer_header_is_sent(web: WebHome) -> None:
    client = web.browser_client("alice")
    response = client.get("/api/v1/audit-logs", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
