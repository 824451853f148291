"""The console's session: sign-in with an admin key, the HttpOnly cookie standing in
for a bearer token on Management API routes, CSRF checks, renewal and sign-out."""

from __future__ import annotations

from contextlib import closing

import httpx
import pytest

from rapport.core.keys import KeyKind
from tests.conftest import API_VERSION, ThreadedServer, Workspace, access_token, management_headers


def signed_in(server: ThreadedServer, workspace: Workspace) -> tuple[httpx.Client, dict[str, str]]:
    """A browser-like client with a console session, and the headers its page sends."""
    client = httpx.Client(base_url=server.url, timeout=10)
    token = client.get("/console/auth/sign-in").json()["csrf_token"]
    answer = client.post(
        "/console/auth/sign-in",
        json={"admin_key": workspace.keys[KeyKind.ADMIN]},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert info["workspace"] == workspace.id
    assert info["api_version"] == API_VERSION
    return client, {
        "Rapport-Workspace": workspace.id,
        "Api-Version": API_VERSION,
        "X-CSRF-Token": info["csrf_token"],
    }


def test_the_console_page_and_its_files_are_served(http: httpx.Client) -> None:
    page = http.get("/console")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/console/static/js/app.js">' in page.text
    script = http.get("/console/static/js/nav.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = http.get("/console/static/js/nav.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    assert http.get("/console/static/js/missing.js").status_code == 404


def test_sign_in_sets_an_httponly_strict_cookie_accepted_by_the_api(
    server: ThreadedServer, workspace: Workspace
) -> None:
    client, headers = signed_in(server, workspace)
    with closing(client):
        cookie = next(
            h for h in client.cookies.jar if h.name == "rapport_console"
        )  # the jar keeps it for the whole site
        assert cookie.path == "/"
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite") == "Strict"
        read = client.get("/api/workspace", headers=headers)
        assert read.status_code == 200, read.text
        assert read.json()["id"] == workspace.id
        created = client.post("/api/api-keys", json={"kind": "ingest"}, headers=headers)
        assert created.status_code == 201, created.text


def test_unsafe_requests_need_the_csrf_token_and_a_same_origin(
    server: ThreadedServer, workspace: Workspace
) -> None:
    client, headers = signed_in(server, workspace)
    with closing(client):
        without = {k: v for k, v in headers.items() if k != "X-CSRF-Token"}
        refused = client.post("/api/api-keys", json={"kind": "ingest"}, headers=without)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
        wrong = client.post(
            "/api/api-keys", json={"kind": "ingest"}, headers={**headers, "X-CSRF-Token": "x"}
        )
        assert wrong.status_code == 403
        foreign = client.post(
            "/api/api-keys",
            json={"kind": "ingest"},
            headers={**headers, "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        cross_site = client.delete(
            "/api/api-keys/whatever", headers={**headers, "Sec-Fetch-Site": "cross-site"}
        )
        assert cross_site.status_code == 403
        # Reads need no CSRF token (they change nothing, and other sites cannot read them).
        assert client.get("/api/api-keys", headers=without).status_code == 200


def test_sign_in_needs_its_own_csrf_token(http: httpx.Client, workspace: Workspace) -> None:
    admin_key = workspace.keys[KeyKind.ADMIN]
    no_form = http.post("/console/auth/sign-in", json={"admin_key": admin_key})
    assert no_form.status_code == 403
    token = http.get("/console/auth/sign-in").json()["csrf_token"]
    mismatch = http.post(
        "/console/auth/sign-in", json={"admin_key": admin_key}, headers={"X-CSRF-Token": "x"}
    )
    assert mismatch.status_code == 403
    empty = http.post("/console/auth/sign-in", json={}, headers={"X-CSRF-Token": token})
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["loc"] == ["body", "admin_key"]
    bad = http.post(
        "/console/auth/sign-in", json={"admin_key": "ak_nope"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status_code == 401
    ingest = http.post(
        "/console/auth/sign-in",
        json={"admin_key": workspace.keys[KeyKind.INGEST]},
        headers={"X-CSRF-Token": token},
    )
    assert ingest.status_code == 403
    other = http.post(
        "/console/auth/sign-in",
        json={"admin_key": admin_key, "workspace": "another-one"},
        headers={"X-CSRF-Token": token},
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "workspace_mismatch"


@pytest.mark.parametrize("cookie", ["garbage", "e30.AAAA", ""])
def test_forged_cookies_are_no_session(http: httpx.Client, cookie: str) -> None:
    headers = {"Cookie": f"rapport_console={cookie}", "Api-Version": API_VERSION}
    assert http.get("/console/auth/session", headers=headers).status_code == 401
    assert http.get("/api/workspace", headers=headers).status_code == 401


def test_session_probe_and_sign_out(server: ThreadedServer, workspace: Workspace) -> None:
    client, headers = signed_in(server, workspace)
    with closing(client):
        info = client.get("/console/auth/session")
        assert info.status_code == 200
        assert info.json()["csrf_token"] == headers["X-CSRF-Token"]
        assert "access_token" not in info.text
        refused = client.post("/console/auth/sign-out")
        assert refused.status_code == 403
        out = client.post("/console/auth/sign-out", headers=headers)
        assert out.status_code == 204
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert client.get("/console/auth/session").status_code == 401
        assert client.get("/api/workspace", headers=headers).status_code == 401


def test_a_revoked_admin_key_ends_the_session(server: ThreadedServer, workspace: Workspace) -> None:
    client, headers = signed_in(server, workspace)
    with closing(client), httpx.Client(base_url=server.url) as admin:
        token = access_token(admin, workspace.keys[KeyKind.ADMIN])
        key_id = workspace.key_id(KeyKind.ADMIN)
        # Another admin key revokes the console's key.
        other = admin.post(
            "/api/api-keys",
            json={"kind": "admin"},
            headers=management_headers(token, workspace.id),
        ).json()["key"]
        other_token = access_token(admin, other)
        revoked = admin.delete(
            f"/api/api-keys/{key_id}", headers=management_headers(other_token, workspace.id)
        )
        assert revoked.status_code == 204
        ended = client.get("/console/auth/session")
        assert ended.status_code == 401
        assert ended.json()["error"]["code"] == "session_ended"
        assert client.get("/api/workspace", headers=headers).status_code == 401


def test_an_explicit_bearer_token_wins_over_the_cookie(
    server: ThreadedServer, workspace: Workspace, workspace_factory: object
) -> None:
    client, _headers = signed_in(server, workspace)
    other: Workspace = workspace_factory()  # type: ignore[operator]
    with closing(client):
        token = access_token(client, other.keys[KeyKind.ADMIN])
        answer = client.get("/api/workspace", headers=management_headers(token, other.id))
        assert answer.json()["id"] == other.id
