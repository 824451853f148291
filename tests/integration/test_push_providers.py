"""Each provider against its fake over real HTTP (HTTP/2 and TLS for APNs): what is
sent, how it authenticates, and how every documented answer is mapped."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rapport.messaging.providers.base import Outcome, Provider, PushMessage, Recipient, SendResult
from rapport.messaging.providers.registry import build_provider
from rapport.messaging.providers.transport import tls_context
from tests.conftest import free_port
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.webhook import WebhookReceiver

SEND_ID = "0193a8f0-1c2d-7e3f-8a9b-0c1d2e3f4a5b"


def message(send_id: str = SEND_ID, **changes: Any) -> PushMessage:
    fields: dict[str, Any] = {
        "send_id": send_id,
        "campaign_id": "camp-1",
        "title": "Hello",
        "body": "A message for you",
        "deep_link": "app://offers/1",
        "data": {"offer": "spring"},
        **changes,
    }
    return PushMessage(**fields)


def to(token: str | None) -> Recipient:
    return Recipient(profile_id="p-1", external_id="u-1", device_id="d-1", token=token)


def send_all(
    provider: Provider, pairs: Sequence[tuple[PushMessage, Recipient]]
) -> list[SendResult]:
    async def go() -> list[SendResult]:
        try:
            return [await provider.send(m, r) for m, r in pairs]
        finally:
            await provider.aclose()

    return asyncio.run(go())


def send_one(provider: Provider, token: str | None, **changes: Any) -> SendResult:
    [result] = send_all(provider, [(message(**changes), to(token))])
    return result


# --- FCM ------------------------------------------------------------------------------


def fcm(fake: FakeFCM, account: dict[str, str], tls: ssl.SSLContext, **settings: Any) -> Provider:
    return build_provider(
        "fcm", {"endpoint": fake.base_url, **settings}, {"service_account": account}, tls=tls
    )


def test_fcm_sends_with_an_oauth_token_obtained_from_a_signed_assertion(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    provider = fcm(fcm_fake, fcm_service_account, provider_tls)
    results = send_all(
        provider, [(message(), to("tok-a")), (message("s-2", ttl_seconds=600), to("tok-b"))]
    )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert results[0].provider_message_id == "projects/rapport-test/messages/1"
    assert fcm_fake.token_requests == 1  # the access token is cached between sends
    assert fcm_fake.rejected_assertions == []
    first, second = (m["message"] for m in fcm_fake.messages)
    assert first["token"] == "tok-a"
    assert first["notification"] == {"title": "Hello", "body": "A message for you"}
    assert first["data"] == {
        "offer": "spring",
        "send_id": SEND_ID,
        "campaign_id": "camp-1",
        "deep_link": "app://offers/1",
    }
    assert first["android"] == {"collapse_key": SEND_ID}
    assert first["apns"]["headers"]["apns-collapse-id"] == SEND_ID
    assert second["android"]["ttl"] == "600s"
    assert {m["http_version"] for m in fcm_fake.messages} == {"2"}


def test_fcm_fetches_a_new_access_token_when_refused_or_about_to_expire(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    provider = fcm(fcm_fake, fcm_service_account, provider_tls)

    async def go() -> list[SendResult]:
        try:
            first = await provider.send(message(), to("tok-a"))
            fcm_fake.revoke_access_tokens()  # FCM answers 401 UNAUTHENTICATED
            fcm_fake.expires_in = 120  # inside the refresh margin: never reused
            second = await provider.send(message("s-2"), to("tok-a"))
            third = await provider.send(message("s-3"), to("tok-a"))
            fourth = await provider.send(message("s-4"), to("tok-a"))
            return [first, second, third, fourth]
        finally:
            await provider.aclose()

    results = asyncio.run(go())
    assert all(r.ok for r in results), results
    # One at first; one after the 401, which lives 120 s, so the third and the fourth
    # send each fetch another.
    assert fcm_fake.token_requests == 4
    assert len(fcm_fake.messages) == 4


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        ("UNREGISTERED", Outcome.INVALID_TOKEN),
        ("INVALID_TOKEN", Outcome.INVALID_TOKEN),
        ("INVALID_ARGUMENT", Outcome.PERMANENT),  # the payload, not the token
        ("SENDER_ID_MISMATCH", Outcome.PERMANENT),
        ("THIRD_PARTY_AUTH_ERROR", Outcome.PERMANENT),
        ("QUOTA_EXCEEDED", Outcome.RATE_LIMITED),
        ("UNAVAILABLE", Outcome.TRANSIENT),
        ("INTERNAL", Outcome.TRANSIENT),
    ],
)
def test_fcm_maps_each_documented_error(
    fcm_fake: FakeFCM,
    fcm_service_account: dict[str, str],
    provider_tls: ssl.SSLContext,
    error: str,
    outcome: Outcome,
) -> None:
    fcm_fake.fail("tok-bad", error)
    result = send_one(fcm(fcm_fake, fcm_service_account, provider_tls), "tok-bad")
    assert result.outcome is outcome, result
    assert result.detail
    expected_code = "INVALID_ARGUMENT" if error == "INVALID_TOKEN" else error
    assert result.code == expected_code
    assert fcm_fake.messages == []


def test_fcm_rate_limits_and_unavailability_carry_retry_after(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    fcm_fake.fail("tok-q", "QUOTA_EXCEEDED", retry_after="30")
    fcm_fake.fail("tok-u", "UNAVAILABLE", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    provider = fcm(fcm_fake, fcm_service_account, provider_tls)
    quota, unavailable = send_all(provider, [(message(), to("tok-q")), (message(), to("tok-u"))])
    assert (quota.outcome, quota.retry_after) == (Outcome.RATE_LIMITED, 30.0)
    assert (unavailable.outcome, unavailable.retry_after) == (Outcome.TRANSIENT, 0.0)


def test_fcm_token_endpoint_failures(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    # A key that is not the service account's: the assertion is refused.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **fcm_service_account,
        "private_key": other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    refused = send_one(fcm(fcm_fake, forged, provider_tls), "tok-a")
    assert (refused.outcome, refused.code) == (Outcome.PERMANENT, "oauth_invalid_grant")
    assert fcm_fake.rejected_assertions
    fcm_fake.token_error = (503, {"error": "backend_error"}, {"Retry-After": "5"})
    down = send_one(fcm(fcm_fake, fcm_service_account, provider_tls), "tok-a")
    assert (down.outcome, down.retry_after) == (Outcome.TRANSIENT, 5.0)
    assert fcm_fake.messages == []


def test_fcm_without_a_token_is_permanent(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    result = send_one(fcm(fcm_fake, fcm_service_account, provider_tls), None)
    assert (result.outcome, result.code) == (Outcome.PERMANENT, "missing_token")


def test_network_and_tls_failures_are_transient(
    fcm_fake: FakeFCM, fcm_service_account: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    closed = f"https://127.0.0.1:{free_port()}"
    account = {**fcm_service_account, "token_uri": f"{closed}/token"}
    refused = send_one(fcm(fcm_fake, account, provider_tls), "tok-a")
    assert (refused.outcome, refused.code) == (Outcome.TRANSIENT, "ConnectError")
    # Verification is always on: the public CAs alone do not trust the fake's CA.
    untrusted = send_one(fcm(fcm_fake, fcm_service_account, tls_context()), "tok-a")
    assert untrusted.outcome is Outcome.TRANSIENT
    assert "CERTIFICATE_VERIFY_FAILED" in (untrusted.detail or "")
    assert fcm_fake.token_requests == 0


# --- APNs -----------------------------------------------------------------------------


def apns(
    fake: FakeAPNs, credentials: dict[str, str], tls: ssl.SSLContext, **settings: Any
) -> Provider:
    return build_provider(
        "apns",
        {
            "team_id": credentials["team_id"],
            "key_id": credentials["key_id"],
            "bundle_id": credentials["bundle_id"],
            "endpoint": fake.base_url,
            **settings,
        },
        {"private_key": credentials["private_key"]},
        tls=tls,
    )


def test_apns_sends_over_http2_with_an_es256_provider_token(
    apns_fake: FakeAPNs, apns_credentials: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    provider = apns(apns_fake, apns_credentials, provider_tls, priority=5)
    results = send_all(
        provider,
        [(message(ttl_seconds=3600), to("devtok1")), (message("not-a-uuid"), to("devtok2"))],
    )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert results[0].provider_message_id == SEND_ID
    first, second = apns_fake.messages
    assert first["http_version"] == "2"
    assert first["device_token"] == "devtok1"
    headers = first["headers"]
    assert headers["apns-topic"] == "com.example.rapport"
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-id"] == SEND_ID
    assert headers["apns-collapse-id"] == SEND_ID
    assert headers["apns-priority"] == "5"
    assert int(headers["apns-expiration"]) > 0
    assert first["payload"]["aps"]["alert"] == {"title": "Hello", "body": "A message for you"}
    assert first["payload"]["send_id"] == SEND_ID
    assert first["payload"]["offer"] == "spring"
    # A send id that is not a UUID still gets a valid, stable apns-id.
    assert len(second["headers"]["apns-id"]) == 36
    assert "apns-expiration" not in second["headers"]
    # One provider token for both sends (Apple refuses frequent renewals).
    assert len(set(apns_fake.provider_tokens)) == 1


def test_apns_renews_an_expired_provider_token_once(
    apns_fake: FakeAPNs, apns_credentials: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    provider = apns(apns_fake, apns_credentials, provider_tls)

    async def go() -> list[SendResult]:
        try:
            first = await provider.send(message(), to("devtok1"))
            apns_fake.expire_provider_tokens()
            second = await provider.send(message("s-2"), to("devtok1"))
            return [first, second]
        finally:
            await provider.aclose()

    assert all(r.ok for r in asyncio.run(go()))
    assert len(set(apns_fake.provider_tokens)) == 2
    assert len(apns_fake.messages) == 2


@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        ("BadDeviceToken", Outcome.INVALID_TOKEN),
        ("Unregistered", Outcome.INVALID_TOKEN),
        ("ExpiredToken", Outcome.INVALID_TOKEN),
        ("DeviceTokenNotForTopic", Outcome.PERMANENT),
        ("InvalidProviderToken", Outcome.PERMANENT),
        ("PayloadTooLarge", Outcome.PERMANENT),
        ("TooManyRequests", Outcome.RATE_LIMITED),
        ("TooManyProviderTokenUpdates", Outcome.RATE_LIMITED),
        ("InternalServerError", Outcome.TRANSIENT),
        ("ServiceUnavailable", Outcome.TRANSIENT),
        ("Shutdown", Outcome.TRANSIENT),
    ],
)
def test_apns_maps_each_documented_reason(
    apns_fake: FakeAPNs,
    apns_credentials: dict[str, str],
    provider_tls: ssl.SSLContext,
    reason: str,
    outcome: Outcome,
) -> None:
    apns_fake.fail("badtok", reason, retry_after="7")
    result = send_one(apns(apns_fake, apns_credentials, provider_tls), "badtok")
    assert (result.outcome, result.code) == (outcome, reason), result
    if outcome in (Outcome.RATE_LIMITED, Outcome.TRANSIENT):
        assert result.retry_after == 7.0
    assert apns_fake.messages == []


def test_apns_answers_about_our_own_mistakes(
    apns_fake: FakeAPNs, apns_credentials: dict[str, str], provider_tls: ssl.SSLContext
) -> None:
    too_big = send_one(apns(apns_fake, apns_credentials, provider_tls), "devtok1", body="x" * 5000)
    assert (too_big.outcome, too_big.code) == (Outcome.PERMANENT, "PayloadTooLarge")
    wrong_app = {**apns_credentials, "bundle_id": "com.example.other"}
    topic = send_one(apns(apns_fake, wrong_app, provider_tls), "devtok1")
    assert (topic.outcome, topic.code) == (Outcome.PERMANENT, "DeviceTokenNotForTopic")
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = {**apns_credentials, "private_key": other_key.decode()}
    refused = send_one(apns(apns_fake, forged, provider_tls), "devtok1")
    assert (refused.outcome, refused.code) == (Outcome.PERMANENT, "InvalidProviderToken")
    assert apns_fake.messages == []


def test_apns_defaults_to_apples_hosts() -> None:
    base = {"team_id": "TEAM123456", "key_id": "KEY1234567", "bundle_id": "a.b"}
    production = build_provider("apns", base, {"private_key": "unused"})
    sandbox = build_provider("apns", {**base, "environment": "sandbox"}, {"private_key": "x"})
    assert production.base == "https://api.push.apple.com"  # type: ignore[attr-defined]
    assert sandbox.base == "https://api.sandbox.push.apple.com"  # type: ignore[attr-defined]


# --- webhook and log ------------------------------------------------------------------


def webhook(receiver: WebhookReceiver, tls: ssl.SSLContext, secret: str, **extra: Any) -> Provider:
    return build_provider(
        "webhook", {"url": receiver.url}, {"signing_secret": secret, **extra}, tls=tls
    )


def test_webhook_posts_signed_json_with_an_idempotency_key(
    webhook_receiver: WebhookReceiver, provider_tls: ssl.SSLContext
) -> None:
    provider = webhook(
        webhook_receiver,
        provider_tls,
        webhook_receiver.secret,
        headers={"Authorization": "Bearer gateway-key"},
    )
    result = send_one(provider, "tok-a")
    assert (result.outcome, result.provider_message_id) == (Outcome.SENT, "hook-1")
    [received] = webhook_receiver.received
    assert received["idempotency_key"] == SEND_ID
    assert received["authorization"] == "Bearer gateway-key"
    body = received["body"]
    assert (body["send_id"], body["title"], body["data"]) == (SEND_ID, "Hello", {"offer": "spring"})
    assert body["recipient"]["profile_id"] == "p-1"
    assert body["recipient"]["token"] == "tok-a"
    wrong = send_one(webhook(webhook_receiver, provider_tls, "not-the-shared-secret"), "tok-a")
    assert (wrong.outcome, wrong.code) == (Outcome.PERMANENT, "401")
    assert webhook_receiver.rejected == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (410, Outcome.INVALID_TOKEN),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
        (408, Outcome.TRANSIENT),
        (400, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (422, Outcome.PERMANENT),
    ],
)
def test_webhook_maps_statuses(
    webhook_receiver: WebhookReceiver,
    provider_tls: ssl.SSLContext,
    status: int,
    outcome: Outcome,
) -> None:
    webhook_receiver.answer(status, {"Retry-After": "12"})
    result = send_one(webhook(webhook_receiver, provider_tls, webhook_receiver.secret), "tok-a")
    assert (result.outcome, result.code) == (outcome, str(status))
    if outcome in (Outcome.RATE_LIMITED, Outcome.TRANSIENT):
        assert result.retry_after == 12.0


def test_webhook_unreachable_is_transient(provider_tls: ssl.SSLContext) -> None:
    provider = build_provider(
        "webhook",
        {"url": f"http://127.0.0.1:{free_port()}/hook"},
        {"signing_secret": "x" * 20},
        tls=provider_tls,
    )
    result = send_one(provider, None)
    assert (result.outcome, result.code) == (Outcome.TRANSIENT, "ConnectError")


def test_log_provider_answers_sent_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    provider = build_provider("log", {"level": "info"}, {})
    with caplog.at_level("INFO", logger="rapport.messaging.log_provider"):
        results = send_all(provider, [(message(f"s-{n}"), to(None)) for n in range(3)])
    assert [r.provider_message_id for r in results] == ["log-s-0", "log-s-1", "log-s-2"]
    assert all(r.ok for r in results)
    assert [record.send_id for record in caplog.records] == ["s-0", "s-1", "s-2"]  # type: ignore[attr-defined]
    assert provider.needs_token is False
