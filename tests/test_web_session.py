"""The dashboard's session (api/routers/web.py, api/deps.py): the sign-in form posts the token,
which the server keeps in an HttpOnly, SameSite=Strict cookie and never in a URL; the API takes
the cookie beside a bearer token; a write by cookie must show it comes from the page (CSRF).
The browser side, with the form submitted before any script ran: tests/e2e/test_e2e_shell.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_client import role_tokens
from builders import onboard
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import SESSION_COOKIE

OWN = "http://testserver"


@pytest.fixture
def site(settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(settings), base_url=OWN, follow_redirects=False) as client:
        yield client, role_tokens(client.app.state.engine, rep_id="R-1", team_id="T-1")


def sign_in(client: TestClient, token: str, **headers: str):
    return client.post(
        "/web/sign-in",
        content=f"token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": OWN, **headers},
    )


def test_the_form_sets_an_httponly_strict_cookie_and_sends_the_browser_to_the_page(site):
    client, tokens = site
    response = sign_in(client, tokens["manager"])
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http (the next test: https)
    assert tokens["manager"] not in response.headers["location"]
    me = client.get("/web/me")  # the cookie alone
    assert me.status_code == 200 and me.json()["role"] == "manager" and me.json()["team_id"] == "T-1"


def test_over_https_the_cookie_is_secure(settings):
    with TestClient(create_app(settings), base_url="https://perf.example", follow_redirects=False) as client:
        token = role_tokens(client.app.state.engine, rep_id="R-1", team_id="T-1")["admin"]
        response = client.post(
            "/web/sign-in",
            content=f"token={token}",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://perf.example"},
        )
        assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_a_token_not_accepted_goes_back_to_the_form_which_says_so_without_echoing_it(site):
    client, _ = site
    response = sign_in(client, "not-a-token-xyz")
    assert response.status_code == 303 and response.headers["location"] == "/?sign-in=failed"
    assert "set-cookie" not in response.headers
    page = client.get(response.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "令牌未被接受" in page.text and "not-a-token-xyz" not in page.text
    english = client.get("/?sign-in=failed", headers={"Accept-Language": "en"})
    assert "That token was not accepted: it is unknown or revoked." in english.text
    assert client.get("/web/me").status_code == 401


def test_the_pages_script_signs_in_through_the_same_route_and_reads_json(site):
    client, tokens = site
    refused = sign_in(client, "nope", **{"X-Requested-With": "perfledger", "Accept-Language": "en"})
    assert refused.status_code == 401 and refused.json()["code"] == "session.refused"
    assert "not accepted" in refused.json()["detail"] and "nope" not in refused.text
    accepted = sign_in(client, tokens["rep"], **{"X-Requested-With": "perfledger"})
    assert accepted.status_code == 204 and SESSION_COOKIE in accepted.headers["set-cookie"]
    assert client.get("/web/me").json()["rep_id"] == "R-1"


def test_another_site_cannot_sign_a_browser_in(site):
    client, tokens = site
    response = sign_in(client, tokens["admin"], Origin="https://evil.example")
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_a_write_by_cookie_needs_the_pages_header_or_origin_and_says_so(site):
    client, tokens = site
    sign_in(client, tokens["admin"])
    event = {"events": [onboard("R-9")]}
    bare = client.post("/events", json=event, headers={"Accept-Language": "en"})
    assert bare.status_code == 403
    assert "X-Requested-With" in bare.json()["detail"] and bare.json()["code"] == "session.csrf"
    cross = client.post("/events", json=event, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    by_page = client.post("/events", json=event, headers={"X-Requested-With": "perfledger"})
    assert by_page.status_code == 201, by_page.text
    same_origin = client.post("/events", json={"events": [onboard("R-8")]}, headers={"Origin": OWN})
    assert same_origin.status_code == 201, same_origin.text


def test_a_bearer_token_still_works_and_wins_over_the_cookie(site):
    client, tokens = site
    sign_in(client, tokens["rep"])
    me = client.get("/web/me", headers={"Authorization": f"Bearer {tokens['finance']}"})
    assert me.json()["role"] == "finance"
    written = client.post(
        "/events", json={"events": [onboard("R-7")]}, headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert written.status_code == 201  # no CSRF header needed: a bearer token is not sent by a browser on its own


def test_signing_out_clears_the_cookie(site):
    client, tokens = site
    sign_in(client, tokens["admin"])
    assert client.get("/web/me").status_code == 200
    response = client.post("/web/sign-out", headers={"X-Requested-With": "perfledger"})
    assert response.status_code == 204 and f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert client.get("/web/me").status_code == 401
    form = client.post("/web/sign-out")
    assert form.status_code == 303 and form.headers["location"] == "/"


def test_the_browsers_own_fetch_site_header_decides_where_a_request_comes_from(site):
    """A form of this page sends no referrer (Referrer-Policy: no-referrer): its Origin is
    "null", so the browser's Sec-Fetch-Site (which no page can set) says whose page it is."""
    client, tokens = site
    other = sign_in(client, tokens["admin"], Origin="null", **{"Sec-Fetch-Site": "cross-site"})
    assert other.status_code == 403 and "set-cookie" not in other.headers
    own = sign_in(client, tokens["admin"], Origin="null", **{"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 303 and SESSION_COOKIE in own.headers["set-cookie"]
    sibling = client.post(
        "/events", json={"events": [onboard("R-6")]}, headers={"Origin": OWN, "Sec-Fetch-Site": "same-site"}
    )
    assert sibling.status_code == 403  # a sibling subdomain's page is another site's


def test_with_a_session_the_page_holds_back_the_form_until_the_script_has_asked(site):
    """No flash of the sign-in form for someone signed in; the script shows it if the session
    has ended (api/web/app.js showSignIn)."""
    client, tokens = site
    assert "data-session" not in client.get("/").text
    sign_in(client, tokens["admin"])
    assert '<html lang="en" data-session>' in client.get("/").text
