"""Push providers through the Management API: credentials checked on save, encrypted
at rest and never shown again, test sends through the fakes, workspace isolation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select, update

from rapport.config import encryption_key_bytes
from rapport.core.db import Database
from rapport.core.keys import KeyKind
from rapport.core.tables import devices, providers
from rapport.messaging.crypto import Cipher
from rapport.messaging.providers.base import Outcome
from rapport.messaging.providers.registry import CredentialsUnreadable, load_provider
from tests.conftest import (
    TEST_ENCRYPTION_KEY,
    Ingest,
    ThreadedServer,
    Workspace,
    access_token,
    management_headers,
    server_settings,
)
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.webhook import WebhookReceiver


def create(admin: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = admin.post("/api/providers", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def row(db: Database, provider_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(select(providers).where(providers.c.id == provider_id)).one()


def test_credentials_are_encrypted_and_never_returned(
    admin: httpx.Client,
    db: Database,
    fcm_provider_body: dict[str, Any],
    apns_provider_body: dict[str, Any],
    webhook_provider_body: dict[str, Any],
) -> None:
    fcm = create(admin, fcm_provider_body)
    apns = create(admin, apns_provider_body)
    hook = create(
        admin,
        {
            **webhook_provider_body,
            "credentials": {
                **webhook_provider_body["credentials"],
                "headers": {"Authorization": "Bearer gateway-secret"},
            },
        },
    )
    log = create(admin, {"kind": "log", "name": "dry run"})
    account = fcm_provider_body["credentials"]["service_account"]
    assert fcm["credentials"] == {
        "set": True,
        "client_email": account["client_email"],
        "private_key_id": account["private_key_id"],
        "token_uri": account["token_uri"],
    }
    assert fcm["settings"]["project_id"] == "rapport-test"
    assert apns["credentials"]["set"] is True
    assert len(apns["credentials"]["key_fingerprint"]) == 16
    assert apns["settings"]["bundle_id"] == "com.example.rapport"
    assert hook["credentials"] == {"set": True, "headers": ["Authorization"]}
    assert log["credentials"] == {"set": False}
    assert log["settings"] == {"level": "info"}
    secrets = [
        account["private_key"].splitlines()[1],
        apns_provider_body["credentials"]["private_key"].splitlines()[1],
        webhook_provider_body["credentials"]["signing_secret"],
        "gateway-secret",
    ]
    listed = admin.get("/api/providers").text
    shown = [admin.get(f"/api/providers/{p['id']}").text for p in (fcm, apns, hook)]
    for secret in secrets:
        for text in [listed, *shown]:
            assert secret not in text
        for provider in (fcm, apns, hook):
            stored = row(db, provider["id"])
            assert secret.encode() not in bytes(stored.secret)
            assert secret not in str(stored.settings)
    assert b"PRIVATE KEY" not in bytes(row(db, fcm["id"]).secret)


def test_a_secret_copied_to_another_row_does_not_decrypt(
    admin: httpx.Client,
    db: Database,
    workspace: Workspace,
    webhook_provider_body: dict[str, Any],
) -> None:
    first = create(admin, webhook_provider_body)
    second = create(admin, {**webhook_provider_body, "name": "second"})
    cipher = Cipher(encryption_key_bytes(TEST_ENCRYPTION_KEY))
    with db.read() as conn:
        assert load_provider(conn, workspace.id, second["id"], cipher).kind == "webhook"
    with db.begin() as conn:
        conn.execute(
            update(providers)
            .where(providers.c.id == second["id"])
            .values(secret=row(db, first["id"]).secret)
        )
    with db.read() as conn, pytest.raises(CredentialsUnreadable):
        load_provider(conn, workspace.id, second["id"], cipher)
    answer = admin.post(f"/api/providers/{second['id']}/test", json={})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "provider_credentials_unreadable"
    assert admin.post(f"/api/providers/{first['id']}/test", json={}).json()["ok"] is True


def test_list_get_update_and_delete(
    admin: httpx.Client,
    fcm_provider_body: dict[str, Any],
    apns_provider_body: dict[str, Any],
    apns_fake: FakeAPNs,
) -> None:
    ids = [create(admin, {"kind": "log", "name": f"log {n}"})["id"] for n in range(3)]
    apns = create(admin, apns_provider_body)
    page = admin.get("/api/providers", params={"limit": 2, "with_total": "true"}).json()
    assert page["total"] == 4
    rest = admin.get("/api/providers", params={"next_token": page["next_token"]}).json()
    assert "next_token" not in rest
    assert [p["id"] for p in page["data"] + rest["data"]] == [*ids, apns["id"]]
    # Settings merge; credentials stay when not given.
    patched = admin.patch(
        f"/api/providers/{apns['id']}", json={"name": "iOS", "settings": {"priority": 5}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "iOS"
    assert patched.json()["settings"]["priority"] == 5
    assert patched.json()["settings"]["team_id"] == "TEAM123456"
    sent = admin.post(f"/api/providers/{apns['id']}/test", json={"token": "devtok1"})
    assert sent.json()["ok"] is True, sent.text
    assert apns_fake.messages[-1]["headers"]["apns-priority"] == "5"
    # Credentials replaced whole, checked like on create.
    bad = admin.patch(f"/api/providers/{apns['id']}", json={"credentials": {"private_key": "nope"}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "credentials", "private_key"]
    bad_setting = admin.patch(f"/api/providers/{apns['id']}", json={"settings": {"priority": 7}})
    assert bad_setting.status_code == 422
    assert bad_setting.json()["detail"][0]["loc"] == ["body", "settings", "priority"]
    assert admin.delete(f"/api/providers/{ids[0]}").status_code == 204
    assert admin.get(f"/api/providers/{ids[0]}").status_code == 404
    assert admin.delete(f"/api/providers/{ids[0]}").json()["error"]["code"] == "provider_not_found"


def _rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _p384_pem() -> str:
    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_bad_input_gets_422_pointing_at_the_field(
    admin: httpx.Client,
    fcm_provider_body: dict[str, Any],
    apns_provider_body: dict[str, Any],
    webhook_provider_body: dict[str, Any],
) -> None:
    account = fcm_provider_body["credentials"]["service_account"]
    apns_settings = apns_provider_body["settings"]
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"kind": "sms", "name": "x"}, ["body", "kind"]),
        ({"kind": "log"}, ["body", "name"]),
        (
            {**fcm_provider_body, "credentials": {"service_account": "{not json"}},
            ["body", "credentials", "service_account"],
        ),
        (
            {
                **fcm_provider_body,
                "credentials": {"service_account": {**account, "private_key": None}},
            },
            ["body", "credentials", "service_account", "private_key"],
        ),
        (
            {
                **fcm_provider_body,
                "credentials": {"service_account": {**account, "private_key": "garbage"}},
            },
            ["body", "credentials", "service_account", "private_key"],
        ),
        (
            {
                **fcm_provider_body,
                "credentials": {"service_account": {**account, "token_uri": "http://x/token"}},
            },
            ["body", "credentials", "service_account", "token_uri"],
        ),
        (
            {**fcm_provider_body, "settings": {"endpoint": "http://plain.example"}},
            ["body", "settings", "endpoint"],
        ),
        (
            {**apns_provider_body, "credentials": {"private_key": _rsa_pem()}},
            ["body", "credentials", "private_key"],
        ),
        (
            {**apns_provider_body, "credentials": {"private_key": _p384_pem()}},
            ["body", "credentials", "private_key"],
        ),
        (
            {**apns_provider_body, "settings": {**apns_settings, "team_id": "short"}},
            ["body", "settings", "team_id"],
        ),
        (
            {**apns_provider_body, "settings": {**apns_settings, "environment": "staging"}},
            ["body", "settings", "environment"],
        ),
        (
            {**webhook_provider_body, "credentials": {"signing_secret": "short"}},
            ["body", "credentials", "signing_secret"],
        ),
        (
            {
                **webhook_provider_body,
                "credentials": {
                    "signing_secret": "x" * 20,
                    "headers": {"Idempotency-Key": "mine"},
                },
            },
            ["body", "credentials", "headers", "Idempotency-Key"],
        ),
        ({**webhook_provider_body, "settings": {"url": "ftp://x"}}, ["body", "settings", "url"]),
    ]
    for body, loc in cases:
        response = admin.post("/api/providers", json=body)
        assert response.status_code == 422, (loc, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == loc, (body, error)
    assert admin.get("/api/providers").json()["data"] == []
    malformed = admin.post(
        "/api/providers", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"


def _device(ingest: Ingest, token: str, device_id: str = "dev-1", user: str = "ann") -> None:
    response = ingest.client(
        "devices",
        {
            "external_id": user,
            "device_id": device_id,
            "token": token,
            "os": "android",
            "model": "Pixel",
            "app_build": "1",
            "app_version": "1.0",
        },
    )
    assert response.status_code == 204, response.text


def _retired(db: Database, workspace: Workspace, device_id: str) -> bool:
    with db.read() as conn:
        return bool(
            conn.execute(
                select(devices.c.token_retired).where(
                    devices.c.workspace_id == workspace.id, devices.c.device_id == device_id
                )
            ).scalar_one()
        )


def test_test_send_reaches_devices_and_retires_invalid_tokens(
    admin: httpx.Client,
    ingest: Ingest,
    db: Database,
    workspace: Workspace,
    fcm_fake: FakeFCM,
    fcm_provider_body: dict[str, Any],
) -> None:
    _device(ingest, "tok-live", "dev-1", "ann")
    _device(ingest, "tok-gone", "dev-2", "bob")
    ingest.processed()
    fcm = create(admin, fcm_provider_body)
    url = f"/api/providers/{fcm['id']}/test"
    by_device = admin.post(url, json={"device_id": "dev-1", "title": "Hi", "body": "There"})
    assert by_device.status_code == 200, by_device.text
    result = by_device.json()
    assert (result["outcome"], result["ok"], result["device_id"]) == ("sent", True, "dev-1")
    assert result["provider_message_id"].startswith("projects/rapport-test/messages/")
    [sent] = fcm_fake.messages
    assert sent["message"]["token"] == "tok-live"
    assert sent["message"]["notification"] == {"title": "Hi", "body": "There"}
    assert sent["message"]["data"]["send_id"] == result["send_id"]
    by_person = admin.post(url, json={"external_id": "ann"}).json()
    assert (by_person["ok"], by_person["device_id"]) == (True, "dev-1")
    fcm_fake.fail("tok-gone", "UNREGISTERED")
    gone = admin.post(url, json={"external_id": "bob"}).json()
    assert gone["outcome"] == Outcome.INVALID_TOKEN
    assert (gone["code"], gone["token_retired"]) == ("UNREGISTERED", True)
    assert _retired(db, workspace, "dev-2")
    assert not _retired(db, workspace, "dev-1")
    # bob has no live device left.
    none_left = admin.post(url, json={"external_id": "bob"})
    assert none_left.status_code == 422
    fcm_fake.fail("tok-live", "QUOTA_EXCEEDED", retry_after="9")
    limited = admin.post(url, json={"token": "tok-live"}).json()
    assert (limited["outcome"], limited["retry_after"], limited["token_retired"]) == (
        "rate_limited",
        9.0,
        False,
    )
    assert admin.post(url, json={"device_id": "nope"}).json()["error"]["code"] == (
        "device_not_found"
    )
    assert admin.post(url, json={"external_id": "nobody"}).status_code == 404
    both = admin.post(url, json={"token": "t", "device_id": "dev-1"})
    assert both.status_code == 422
    assert both.json()["detail"][0]["loc"] == ["body", "device_id"]
    assert admin.post("/api/providers/missing/test", json={}).status_code == 404


def test_test_send_through_apns_webhook_and_log(
    admin: httpx.Client,
    apns_fake: FakeAPNs,
    webhook_receiver: WebhookReceiver,
    apns_provider_body: dict[str, Any],
    webhook_provider_body: dict[str, Any],
    ingest: Ingest,
    db: Database,
    workspace: Workspace,
) -> None:
    _device(ingest, "apnstok", "iphone", "cat")
    ingest.processed()
    apns = create(admin, apns_provider_body)
    ok = admin.post(f"/api/providers/{apns['id']}/test", json={"device_id": "iphone"}).json()
    assert ok["ok"] is True, ok
    assert apns_fake.messages[0]["headers"]["apns-id"] == ok["send_id"]
    apns_fake.fail("apnstok", "Unregistered")
    gone = admin.post(f"/api/providers/{apns['id']}/test", json={"device_id": "iphone"}).json()
    assert (gone["outcome"], gone["token_retired"]) == ("invalid_token", True)
    assert _retired(db, workspace, "iphone")
    hook = create(admin, webhook_provider_body)
    sent = admin.post(f"/api/providers/{hook['id']}/test", json={"external_id": "cat"}).json()
    assert sent["ok"] is True
    [received] = webhook_receiver.received
    assert received["body"]["recipient"]["external_id"] == "cat"
    assert received["idempotency_key"] == sent["send_id"]
    log = create(admin, {"kind": "log", "name": "dry"})
    dry = admin.post(f"/api/providers/{log['id']}/test", json={}).json()
    assert (dry["ok"], dry["provider_message_id"]) == (True, f"log-{dry['send_id']}")


def test_workspaces_are_isolated(
    server: ThreadedServer,
    admin: httpx.Client,
    workspace_factory: Any,
    webhook_provider_body: dict[str, Any],
) -> None:
    mine = create(admin, webhook_provider_body)
    other = workspace_factory()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token = access_token(client, other.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, other.id))
        url = f"/api/providers/{mine['id']}"
        assert client.get(url).status_code == 404
        assert client.patch(url, json={"name": "mine now"}).status_code == 404
        assert client.post(f"{url}/test", json={}).status_code == 404
        assert client.delete(url).status_code == 404
        assert client.get("/api/providers").json()["data"] == []
        # The right token for the wrong workspace header is refused outright.
        client.headers["Rapport-Workspace"] = admin.headers["Rapport-Workspace"]
        assert client.get(url).status_code == 403
    assert admin.get(f"/api/providers/{mine['id']}").json()["name"] == "webhook"


def test_without_an_encryption_key(
    database_url: str, backend: str, workspace: Workspace, tmp_path: Path
) -> None:
    """Development on a SQLite file generates a key beside it; elsewhere providers
    cannot be saved until RAPPORT_ENCRYPTION_KEY is set (503)."""
    with (
        ThreadedServer(server_settings(database_url)) as running,
        httpx.Client(base_url=running.url, timeout=10) as client,
    ):
        token = access_token(client, workspace.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, workspace.id))
        response = client.post("/api/providers", json={"kind": "log", "name": "dry"})
        if backend == "sqlite":
            assert response.status_code == 201, response.text
            database_file = Path(database_url.removeprefix("sqlite:///"))
            key_file = database_file.with_name(database_file.name + ".key")
            assert oct(key_file.stat().st_mode & 0o777) == "0o600"
            test = client.post(f"/api/providers/{response.json()['id']}/test", json={})
            assert test.json()["ok"] is True
        else:
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "encryption_key_missing"
            assert client.get("/api/providers").status_code == 200


def test_openapi_documents_the_provider_routes(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/api/providers"]) == {"get", "post"}
    assert set(paths["/api/providers/{id}"]) == {"get", "patch", "delete"}
    assert "post" in paths["/api/providers/{id}/test"]
