"""``rapport serve`` reads the encryption key and the providers' CA from its
environment; rotating the key keeps old credentials readable through
``RAPPORT_ENCRYPTION_OLD_KEYS``, and without the old key they are refused, not sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from rapport.core.keys import KeyKind
from rapport.messaging.crypto import generate_key
from tests.api.processes import Server
from tests.conftest import Workspace, access_token, management_headers
from tests.fakes.tls import TestCA
from tests.fakes.webhook import WebhookReceiver


@contextmanager
def _client(server: Server, workspace: Workspace) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token = access_token(client, workspace.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, workspace.id))
        yield client


def test_key_rotation_across_server_restarts(
    database_url: str,
    workspace: Workspace,
    fake_ca: TestCA,
    webhook_receiver: WebhookReceiver,
    webhook_provider_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    first_key, second_key = generate_key(), generate_key()
    ca = {"RAPPORT_PROVIDER_CA_FILE": str(fake_ca.ca_file)}
    log = tmp_path / "serve.log"

    def serve(**env: str) -> Server:
        return Server(database_url, log, **ca, **env)

    server = serve(RAPPORT_ENCRYPTION_KEY=first_key)
    try:
        with _client(server, workspace) as client:
            provider = client.post("/api/providers", json=webhook_provider_body).json()
            test_url = f"/api/providers/{provider['id']}/test"
            assert client.post(test_url, json={}).json()["ok"] is True
    finally:
        server.stop()
    server = serve(RAPPORT_ENCRYPTION_KEY=second_key, RAPPORT_ENCRYPTION_OLD_KEYS=first_key)
    try:
        with _client(server, workspace) as client:
            assert client.post(test_url, json={}).json()["ok"] is True
    finally:
        server.stop()
    server = serve(RAPPORT_ENCRYPTION_KEY=second_key)
    try:
        with _client(server, workspace) as client:
            refused = client.post(test_url, json={})
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "provider_credentials_unreadable"
            # Saving the credentials again writes them with the current key.
            credentials = webhook_provider_body["credentials"]
            patched = client.patch(
                f"/api/providers/{provider['id']}", json={"credentials": credentials}
            )
            assert patched.status_code == 200, patched.text
            assert client.post(test_url, json={}).json()["ok"] is True
    finally:
        server.stop()
    assert len(webhook_receiver.received) == 3
