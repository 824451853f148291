"""Pytest fixtures for the fakes (registered in ``tests/conftest.py``).

Session-wide servers, reset before each test that asks for them:

- ``fake_ca``: the session's CA (``.ca_file`` is what rapport is told to trust through
  ``RAPPORT_PROVIDER_CA_FILE``; the ``server`` fixture already does).
- ``provider_tls``: an ``ssl.SSLContext`` trusting it, for building providers directly.
- ``fcm_fake`` (``FakeFCM``) with ``fcm_service_account`` (its service-account JSON);
  ``fcm_provider_body`` is a ready ``POST /api/providers`` body.
- ``apns_fake`` (``FakeAPNs``) with ``apns_credentials`` (team id, key id, bundle id,
  ``.p8`` PEM); ``apns_provider_body``.
- ``webhook_receiver`` (``WebhookReceiver``); ``webhook_provider_body``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM, service_account
from tests.fakes.serving import BackgroundServer
from tests.fakes.tls import TestCA, make_ca
from tests.fakes.webhook import WebhookReceiver

APNS_TEAM_ID = "TEAM123456"
APNS_KEY_ID = "KEY1234567"
APNS_BUNDLE_ID = "com.example.rapport"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture(scope="session")
def fake_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_ca(tmp_path_factory.mktemp("fake-ca"))


@pytest.fixture(scope="session")
def provider_tls(fake_ca: TestCA) -> ssl.SSLContext:
    return fake_ca.client_context()


@dataclass
class _Fcm:
    fake: FakeFCM
    private_key: rsa.RSAPrivateKey


@pytest.fixture(scope="session")
def _fcm_server(fake_ca: TestCA) -> Iterator[_Fcm]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake = FakeFCM("rapport-test", "push@rapport-test.iam.gserviceaccount.com", key.public_key())
    server = BackgroundServer(fake.app, fake_ca).start()
    fake.base_url = server.url
    yield _Fcm(fake, key)
    server.stop()


@pytest.fixture
def fcm_fake(_fcm_server: _Fcm) -> FakeFCM:
    _fcm_server.fake.reset()
    return _fcm_server.fake


@pytest.fixture
def fcm_service_account(_fcm_server: _Fcm) -> dict[str, str]:
    return service_account(_fcm_server.fake, _fcm_server.private_key)


@pytest.fixture
def fcm_provider_body(fcm_fake: FakeFCM, fcm_service_account: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "fcm",
        "name": "fcm",
        "settings": {"endpoint": fcm_fake.base_url},
        "credentials": {"service_account": fcm_service_account},
    }


@dataclass
class _Apns:
    fake: FakeAPNs
    pem: str


@pytest.fixture(scope="session")
def _apns_server(fake_ca: TestCA) -> Iterator[_Apns]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    fake = FakeAPNs(APNS_TEAM_ID, APNS_KEY_ID, APNS_BUNDLE_ID, key.public_key())
    server = BackgroundServer(fake.app, fake_ca).start()
    fake.base_url = server.url
    yield _Apns(fake, pem)
    server.stop()


@pytest.fixture
def apns_fake(_apns_server: _Apns) -> FakeAPNs:
    _apns_server.fake.reset()
    return _apns_server.fake


@pytest.fixture
def apns_credentials(_apns_server: _Apns) -> dict[str, str]:
    return {
        "team_id": APNS_TEAM_ID,
        "key_id": APNS_KEY_ID,
        "bundle_id": APNS_BUNDLE_ID,
        "private_key": _apns_server.pem,
    }


@pytest.fixture
def apns_provider_body(apns_fake: FakeAPNs, apns_credentials: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": "apns",
        "name": "apns",
        "settings": {
            "team_id": apns_credentials["team_id"],
            "key_id": apns_credentials["key_id"],
            "bundle_id": apns_credentials["bundle_id"],
            "environment": "sandbox",
            "endpoint": apns_fake.base_url,
        },
        "credentials": {"private_key": apns_credentials["private_key"]},
    }


@pytest.fixture(scope="session")
def _webhook_server(fake_ca: TestCA) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(WEBHOOK_SECRET)
    server = BackgroundServer(receiver.app, fake_ca).start()
    receiver.base_url = server.url
    yield receiver
    server.stop()


@pytest.fixture
def webhook_receiver(_webhook_server: WebhookReceiver) -> WebhookReceiver:
    _webhook_server.reset()
    return _webhook_server


@pytest.fixture
def webhook_provider_body(webhook_receiver: WebhookReceiver) -> dict[str, Any]:
    return {
        "kind": "webhook",
        "name": "webhook",
        "settings": {"url": webhook_receiver.url},
        "credentials": {"signing_secret": WEBHOOK_SECRET},
    }
