"""A generic webhook: one signed JSON POST per message, for SMS or email gateways and
in-house senders.

The receiver verifies ``Rapport-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256 of ``"<t>." + raw body`` with the shared signing secret (Stripe's scheme),
and de-duplicates on ``Idempotency-Key`` (the send id), since a retried attempt
carries the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from rapport.messaging.providers.base import Outcome, PushMessage, Recipient, SendResult
from rapport.messaging.providers.transport import (
    by_status,
    make_client,
    network_failure,
    retry_after,
)

SIGNATURE_HEADER = "Rapport-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0) -> bool:
    """What a receiver does (and what the tests' receiver does): check the MAC in
    constant time and refuse stale timestamps, which stops replays."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def payload(message: PushMessage, recipient: Recipient) -> bytes:
    body: dict[str, Any] = {
        "send_id": message.send_id,
        "campaign_id": message.campaign_id,
        "title": message.title,
        "body": message.body,
        "deep_link": message.deep_link,
        "data": dict(message.data),
        "ttl_seconds": message.ttl_seconds,
        "recipient": {
            "profile_id": recipient.profile_id,
            "external_id": recipient.external_id,
            "device_id": recipient.device_id,
            "token": recipient.token,
            "platform": recipient.platform,
            "email": recipient.email,
            "phone": recipient.phone,
        },
    }
    return msgspec.json.encode(body)


def map_response(response: httpx.Response) -> SendResult:
    status = response.status_code
    if 200 <= status < 300:
        message_id = None
        try:
            answer = msgspec.json.decode(response.content) if response.content else None
        except msgspec.DecodeError:
            answer = None
        if isinstance(answer, dict):
            found = answer.get("id") or answer.get("message_id")
            message_id = str(found) if found is not None else None
        return SendResult(Outcome.SENT, provider_message_id=message_id)
    detail = response.text[:500]
    if status == 410:
        return SendResult(Outcome.INVALID_TOKEN, code="410", detail=detail)
    return by_status(status, str(status), detail, retry_after(response))


class WebhookProvider:
    """POSTs each message to one URL, signed with a shared secret."""

    kind = "webhook"
    needs_token = False

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        headers: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url
        self.secret = signing_secret
        self.extra_headers = dict(headers or {})
        self._tls = tls
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self._tls)
        return self._client

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        body = payload(message, recipient)
        headers = {
            **self.extra_headers,
            "Content-Type": "application/json",
            "Idempotency-Key": message.send_id,
            SIGNATURE_HEADER: sign(self.secret, int(time.time()), body),
        }
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return network_failure(exc)
        return map_response(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
