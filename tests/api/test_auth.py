"""Keys, access tokens and tenant isolation, over real HTTP."""

import httpx
import pytest

from rapport.core.keys import KeyKind
from tests.conftest import ThreadedServer, Workspace, access_token, management_headers


def test_an_admin_key_gets_a_short_lived_token(http: httpx.Client, workspace: Workspace) -> None:
    response = http.post(
        "/api/oauth/token", headers={"Authorization": f"Bearer {workspace.keys[KeyKind.ADMIN]}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["workspace"] == workspace.id
    assert 60 <= body["expires_in"] <= 3600
    assert response.headers["cache-control"] == "no-store"


def test_the_oauth_client_credentials_forms_work(http: httpx.Client, workspace: Workspace) -> None:
    admin_key = workspace.keys[KeyKind.ADMIN]
    form = http.post(
        "/api/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": workspace.id,
            "client_secret": admin_key,
        },
    )
    assert form.status_code == 200, form.text
    as_json = http.post(
        "/api/oauth/token", json={"grant_type": "client_credentials", "client_secret": admin_key}
    )
    assert as_json.status_code == 200, as_json.text


def test_token_requests_are_validated(http: httpx.Client, workspace: Workspace) -> None:
    admin_key = workspace.keys[KeyKind.ADMIN]
    grant = http.post(
        "/api/oauth/token", json={"grant_type": "password", "client_secret": admin_key}
    )
    assert grant.status_code == 422
    assert grant.json()["detail"][0]["loc"] == ["body", "grant_type"]
    other = http.post(
        "/api/oauth/token", json={"client_secret": admin_key, "client_id": "someone-else"}
    )
    assert other.status_code == 403
    assert http.post("/api/oauth/token").status_code == 401


@pytest.mark.parametrize("kind", [k for k in KeyKind if k is not KeyKind.ADMIN])
def test_only_admin_keys_get_tokens(
    http: httpx.Client, workspace: Workspace, kind: KeyKind
) -> None:
    response = http.post(
        "/api/oauth/token", headers={"Authorization": f"Bearer {workspace.keys[kind]}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_key_kind"


@pytest.mark.parametrize(
    "presented",
    ["Bearer", "nonsense", "ak_abcdefghijkl_wrongsecret", "ak_" + "a" * 12 + "_" + "b" * 43],
)
def test_bad_keys_get_401(http: httpx.Client, presented: str) -> None:
    header = presented if presented == "Bearer" else f"Bearer {presented}"
    response = http.post("/api/oauth/token", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_right_key_id_with_a_wrong_secret_is_401(
    http: httpx.Client, workspace: Workspace
) -> None:
    admin_key = workspace.keys[KeyKind.ADMIN]
    tampered = admin_key[:-4] + ("AAAA" if not admin_key.endswith("AAAA") else "BBBB")
    response = http.post("/api/oauth/token", headers={"Authorization": f"Bearer {tampered}"})
    assert response.status_code == 401


def test_management_calls_need_a_token(http: httpx.Client, workspace: Workspace) -> None:
    headers = {"Rapport-Workspace": workspace.id, "Api-Version": "2026-11-01"}
    assert http.get("/api/workspace", headers=headers).status_code == 401
    bad = {**headers, "Authorization": "Bearer not-a-token"}
    assert http.get("/api/workspace", headers=bad).status_code == 401
    # An admin key is not an access token.
    raw = {**headers, "Authorization": f"Bearer {workspace.keys[KeyKind.ADMIN]}"}
    assert http.get("/api/workspace", headers=raw).status_code == 401


def test_a_rotated_key_gets_401_at_once(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace
) -> None:
    old = workspace.keys[KeyKind.SURFACES]
    assert http.get("/health", headers={"X-API-Key": old}).status_code == 200
    rotated = admin.post(f"/api/api-keys/{workspace.key_id(KeyKind.SURFACES)}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["key"]
    assert http.get("/health", headers={"X-API-Key": old}).status_code == 401
    assert http.get("/health", headers={"X-API-Key": new}).status_code == 200


def test_a_revoked_key_gets_401_at_once(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace
) -> None:
    key = workspace.keys[KeyKind.SURFACES]
    assert http.get("/health", headers={"X-API-Key": key}).status_code == 200
    assert admin.delete(f"/api/api-keys/{workspace.key_id(KeyKind.SURFACES)}").status_code == 204
    response = http.get("/health", headers={"X-API-Key": key})
    assert response.status_code == 401
    listed = admin.get("/api/api-keys").json()["data"]
    [revoked] = [k for k in listed if k["id"] == workspace.key_id(KeyKind.SURFACES)]
    assert revoked["status"] == "revoked"
    assert revoked["revoked_at"] is not None


def test_tokens_die_with_their_admin_key(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace
) -> None:
    second = admin.post("/api/api-keys", json={"kind": "admin", "name": "second"}).json()
    token = access_token(http, second["key"])
    headers = management_headers(token, workspace.id)
    assert http.get("/api/workspace", headers=headers).status_code == 200
    assert admin.post(f"/api/api-keys/{second['id']}/rotate").status_code == 200
    assert http.get("/api/workspace", headers=headers).status_code == 401
    third = admin.post("/api/api-keys", json={"kind": "admin", "name": "third"}).json()
    headers = management_headers(access_token(http, third["key"]), workspace.id)
    assert admin.delete(f"/api/api-keys/{third['id']}").status_code == 204
    assert http.get("/api/workspace", headers=headers).status_code == 401


def test_workspace_a_cannot_read_workspace_b(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace, workspace_factory
) -> None:
    other: Workspace = workspace_factory()
    # A's token with B's workspace header: refused.
    forged = admin.get("/api/workspace", headers={"Rapport-Workspace": other.id})
    assert forged.status_code == 403
    assert other.id not in forged.text or forged.json()["error"]["code"] == "workspace_mismatch"
    # A's token cannot list, rotate or revoke B's keys: they do not exist for A.
    listed = admin.get("/api/api-keys").json()["data"]
    assert {k["id"] for k in listed}.isdisjoint({other.key_id(k) for k in KeyKind})
    for call in (
        admin.post(f"/api/api-keys/{other.key_id(KeyKind.INGEST)}/rotate"),
        admin.delete(f"/api/api-keys/{other.key_id(KeyKind.INGEST)}"),
    ):
        assert call.status_code == 404
        assert "secret" not in call.text
    # ... and B's key still works.
    assert (
        http.get("/health", headers={"X-API-Key": other.keys[KeyKind.SURFACES]}).status_code == 200
    )
    token_b = access_token(http, other.keys[KeyKind.ADMIN])
    assert (
        http.get("/api/workspace", headers=management_headers(token_b, other.id)).json()["id"]
        == other.id
    )


def test_last_used_at_is_kept(
    admin: httpx.Client, http: httpx.Client, workspace: Workspace
) -> None:
    key_id = workspace.key_id(KeyKind.SURFACES)
    before = {k["id"]: k for k in admin.get("/api/api-keys").json()["data"]}[key_id]
    assert before["last_used_at"] is None
    assert (
        http.get("/health", headers={"X-API-Key": workspace.keys[KeyKind.SURFACES]}).status_code
        == 200
    )
    after = {k["id"]: k for k in admin.get("/api/api-keys").json()["data"]}[key_id]
    assert after["last_used_at"] is not None


def test_keys_are_shown_once(admin: httpx.Client) -> None:
    created = admin.post("/api/api-keys", json={"kind": "public", "name": "app"})
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("pk_")
    assert body["prefix"] == body["key"][:15]
    listed = admin.get("/api/api-keys").json()["data"]
    [shown] = [k for k in listed if k["id"] == body["id"]]
    assert "key" not in shown
    assert body["key"] not in admin.get("/api/api-keys").text


def test_server_in_another_region_refuses_with_421(
    server: ThreadedServer, http: httpx.Client, workspace_factory
) -> None:
    abroad: Workspace = workspace_factory(region="europe-west3")
    surfaces = http.get("/health", headers={"X-API-Key": abroad.keys[KeyKind.SURFACES]})
    assert surfaces.status_code == 421
    assert surfaces.json()["error"]["region"] == "europe-west3"
    token = http.post(
        "/api/oauth/token", headers={"Authorization": f"Bearer {abroad.keys[KeyKind.ADMIN]}"}
    )
    assert token.status_code == 421
    assert "europe-west3" in token.json()["error"]["message"]
