"""Campaigns run by real processes: a worker killed mid-campaign, and real providers.

The worker is SIGKILLed while it sends a rate-limited broadcast through the webhook
provider; a new worker finishes the campaign. Every user gets exactly one send id (no
gap), and the receiver sees no second send id for anyone (no duplicate); the only
repeats allowed are deliveries of the batch in flight at the kill, under the same
idempotency key.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from rapport.core.db import Database
from rapport.core.keys import KeyKind
from rapport.core.tables import campaign_sends
from tests.api.processes import Process, Server
from tests.conftest import (
    TEST_ENCRYPTION_KEY,
    Workspace,
    access_token,
    make_workspace,
    management_headers,
    wait_processed,
)
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.tls import TestCA
from tests.fakes.webhook import WebhookReceiver

USERS = 60


def wait_for(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@contextmanager
def admin_client(url: str, workspace: Workspace) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        token = access_token(client, workspace.keys[KeyKind.ADMIN])
        client.headers.update(management_headers(token, workspace.id))
        yield client


def env(fake_ca: TestCA) -> dict[str, str]:
    return {
        "RAPPORT_ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "RAPPORT_PROVIDER_CA_FILE": str(fake_ca.ca_file),
        "RAPPORT_SEND_LEASE_SECONDS": "2",
    }


def ingest_users(url: str, workspace: Workspace, count: int, **device: str) -> None:
    headers = {"Authorization": f"Bearer {workspace.keys[KeyKind.INGEST]}"}
    events = [
        {"contact_id": f"user{i}", "event_name": "app_open", "timestamp": int(time.time() * 1000)}
        for i in range(count)
    ]
    assert httpx.post(f"{url}/v1/events", json=events, headers=headers).status_code == 202
    if device:
        public = {"Authorization": f"Bearer {workspace.keys[KeyKind.PUBLIC]}"}
        for i in range(count):
            body = {"external_id": f"user{i}", "device_id": f"d{i}", "model": "Pixel 8"}
            body.update(app_build="42", app_version="1.0", **device)
            body["token"] = f"{device['token']}-{i}"
            response = httpx.post(f"{url}/api/client/devices", json=body, headers=public)
            assert response.status_code == 204


def sends(db: Database, campaign_id: str) -> list[Any]:
    with db.read() as conn:
        return list(
            conn.execute(select(campaign_sends).where(campaign_sends.c.campaign_id == campaign_id))
        )


def test_killing_the_worker_mid_campaign_loses_and_repeats_nothing(
    fresh_database_url: str,
    fake_ca: TestCA,
    webhook_receiver: WebhookReceiver,
    webhook_provider_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    extra = env(fake_ca)
    server = Server(
        fresh_database_url, tmp_path / "serve.log", RAPPORT_PROCESS_INLINE="false", **extra
    )
    db = Database(fresh_database_url)
    worker = Process(["worker"], fresh_database_url, tmp_path / "worker1.log", **extra)
    try:
        workspace = make_workspace(db)
        ingest_users(server.url, workspace, USERS)
        wait_processed(db, workspace.id)
        with admin_client(server.url, workspace) as admin:
            provider = admin.post("/api/providers", json=webhook_provider_body)
            assert provider.status_code == 201, provider.text
            body = {
                "name": "Crash test",
                "channel": "webhook",
                "provider_id": provider.json()["id"],
                "alternates": [{"name": "only", "title": "Hello"}],
                "timing": "immediate",
                "holdout_percent": 0,
                "rate_limit_per_second": 15,
            }
            created = admin.post("/api/campaigns", json=body)
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            assert admin.post(f"/api/campaigns/{cid}/schedule").status_code == 200
            wait_for(lambda: len(webhook_receiver.received) >= 15)
            worker.kill()
            at_kill = len(webhook_receiver.received)
            assert at_kill < USERS, "the campaign finished before the kill"
            worker = Process(["worker"], fresh_database_url, tmp_path / "worker2.log", **extra)
            wait_for(lambda: admin.get(f"/api/campaigns/{cid}").json()["status"] == "completed")
            report = admin.get(f"/api/campaigns/{cid}/report").json()
        rows = sends(db, cid)
        assert len(rows) == USERS
        assert {row.status for row in rows} == {"sent"}
        assert len({row.profile_id for row in rows}) == USERS
        assert report["progress"]["sent"] == USERS
        keys = Counter(hit["idempotency_key"] for hit in webhook_receiver.received)
        assert set(keys) == {row.id for row in rows}  # no gap, no stranger
        bodies: defaultdict[str, set[str]] = defaultdict(set)
        for hit in webhook_receiver.received:
            # The same message each time (only its remaining time to live shrinks).
            same = {k: v for k, v in hit["body"].items() if k != "ttl_seconds"}
            bodies[hit["idempotency_key"]].add(repr(same))
        assert all(len(variants) == 1 for variants in bodies.values())
        repeats = sum(count - 1 for count in keys.values())
        assert repeats <= 15  # at most the batch in flight at the kill, same key
    finally:
        worker.stop()
        server.stop()
        db.dispose()


def test_a_campaign_through_fcm_and_apns_retires_dead_tokens(
    fresh_database_url: str,
    fake_ca: TestCA,
    fcm_fake: FakeFCM,
    fcm_provider_body: dict[str, Any],
    apns_fake: FakeAPNs,
    apns_provider_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    server = Server(fresh_database_url, tmp_path / "serve.log", **env(fake_ca))
    db = Database(fresh_database_url)
    try:
        workspace = make_workspace(db)
        ingest_users(server.url, workspace, 4, token="fcm", os="android")
        wait_processed(db, workspace.id)
        fcm_fake.fail("fcm-3", "UNREGISTERED")
        with admin_client(server.url, workspace) as admin:
            results = {}
            for name, body in (("fcm", fcm_provider_body), ("apns", apns_provider_body)):
                provider = admin.post("/api/providers", json=body)
                assert provider.status_code == 201, provider.text
                campaign = {
                    "name": name,
                    "provider_id": provider.json()["id"],
                    "alternates": [{"name": "a", "title": "Hi", "deep_link": "app://home"}],
                    "timing": "immediate",
                    "holdout_percent": 0,
                }
                cid = admin.post("/api/campaigns", json=campaign).json()["id"]
                admin.post(f"/api/campaigns/{cid}/schedule")
                wait_for(
                    lambda cid=cid: (
                        admin.get(f"/api/campaigns/{cid}").json()["status"] == "completed"
                    )
                )
                results[name] = admin.get(f"/api/campaigns/{cid}/report").json()
                if name == "fcm":
                    # The unregistered token is retired: APNs will find three devices.
                    apns_fake.fail("fcm-2", "BadDeviceToken")
        assert results["fcm"]["progress"]["sent"] == 3
        assert results["fcm"]["failed_by_reason"] == {"invalid_token": 1}
        assert len(fcm_fake.messages) == 3
        assert results["apns"]["progress"]["sent"] == 2
        assert results["apns"]["failed_by_reason"] == {"invalid_token": 1}
        assert results["apns"]["skipped_by_reason"] == {"no_device": 1}
        assert len(apns_fake.messages) >= 2
    finally:
        server.stop()
        db.dispose()
