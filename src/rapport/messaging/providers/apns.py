"""Apple Push Notification service, token-based authentication over HTTP/2.

An ES256 JWT (``kid`` = key id, ``iss`` = team id, ``iat``) signed with the team's
``.p8`` key authenticates every request; Apple wants it renewed at most every 20
minutes and at least every hour, so it is reused for 50 minutes and regenerated at
once when Apple answers ``ExpiredProviderToken``. Reasons are mapped from
https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
"""

from __future__ import annotations

import hashlib
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import msgspec

from rapport.messaging.providers.base import Outcome, PushMessage, Recipient, SendResult
from rapport.messaging.providers.transport import (
    by_status,
    make_client,
    network_failure,
    retry_after,
)

HOSTS = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
TOKEN_LIFETIME = 50 * 60.0
INVALID_TOKEN_REASONS = frozenset({"BadDeviceToken", "Unregistered", "ExpiredToken"})
TRANSIENT_REASONS = frozenset({"InternalServerError", "ServiceUnavailable", "Shutdown"})


@dataclass(frozen=True, slots=True)
class ApnsKey:
    """A team's signing key and the app it sends for."""

    team_id: str
    key_id: str
    private_key: str  # the .p8 file's PEM text
    bundle_id: str


def apns_id(send_id: str) -> str:
    """``apns-id`` must be a UUID: the send id itself when it is one, else derived."""
    try:
        return str(uuid.UUID(send_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rapport:{send_id}"))


def collapse_id(send_id: str) -> str:
    """At most 64 bytes, as ``apns-collapse-id`` allows."""
    raw = send_id.encode()
    return send_id if len(raw) <= 64 else hashlib.sha256(raw).hexdigest()


def payload(message: PushMessage) -> bytes:
    body: dict[str, Any] = dict(message.data)
    body["send_id"] = message.send_id
    body["campaign_id"] = message.campaign_id
    if message.deep_link:
        body["deep_link"] = message.deep_link
    body["aps"] = {"alert": {"title": message.title, "body": message.body}, "sound": "default"}
    return msgspec.json.encode(body)


def _reason(response: httpx.Response) -> str:
    try:
        answer = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return str(response.status_code)
    if isinstance(answer, dict) and answer.get("reason"):
        return str(answer["reason"])
    return str(response.status_code)


def map_response(response: httpx.Response) -> SendResult:
    """One APNs answer as an outcome."""
    if response.status_code == 200:
        return SendResult(Outcome.SENT, provider_message_id=response.headers.get("apns-id"))
    reason = _reason(response)
    if response.status_code == 410 or reason in INVALID_TOKEN_REASONS:
        return SendResult(Outcome.INVALID_TOKEN, code=reason, detail=reason)
    after = retry_after(response)
    if reason in TRANSIENT_REASONS:
        return SendResult(Outcome.TRANSIENT, retry_after=after, code=reason, detail=reason)
    # 429 TooManyRequests / TooManyProviderTokenUpdates: rate limited; 403
    # InvalidProviderToken, 413 PayloadTooLarge, 400 DeviceTokenNotForTopic (the app's
    # bundle id is wrong) and the other 4xx: permanent.
    return by_status(response.status_code, reason, reason, after)


class ApnsProvider:
    """Sends alert notifications to one app through APNs."""

    kind = "apns"
    needs_token = True

    def __init__(
        self,
        key: ApnsKey,
        *,
        environment: str = "production",
        endpoint: str | None = None,
        priority: int = 10,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.key = key
        self.base = (endpoint or HOSTS[environment]).rstrip("/")
        self.priority = priority
        self._tls = tls
        self._client: httpx.AsyncClient | None = None
        self._jwt: str | None = None
        self._jwt_born = 0.0

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self._tls, http2=True)
        return self._client

    def provider_token(self, renew: bool = False) -> str:
        """The ES256 JWT, reused for 50 minutes."""
        now = time.time()
        if renew or self._jwt is None or now - self._jwt_born > TOKEN_LIFETIME:
            self._jwt = jwt.encode(
                {"iss": self.key.team_id, "iat": int(now)},
                self.key.private_key,
                algorithm="ES256",
                headers={"kid": self.key.key_id},
            )
            self._jwt_born = now
        return self._jwt

    def headers(self, message: PushMessage, token: str) -> dict[str, str]:
        headers = {
            "authorization": f"bearer {token}",
            "apns-topic": self.key.bundle_id,
            "apns-push-type": "alert",
            "apns-id": apns_id(message.send_id),
            "apns-collapse-id": collapse_id(message.send_id),
            "apns-priority": str(self.priority),
            "content-type": "application/json",
        }
        if message.ttl_seconds is not None:
            expires = int(time.time()) + message.ttl_seconds if message.ttl_seconds > 0 else 0
            headers["apns-expiration"] = str(expires)
        return headers

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        if not recipient.token:
            return SendResult(Outcome.PERMANENT, code="missing_token", detail="no device token")
        url = f"{self.base}/3/device/{recipient.token}"
        body = payload(message)
        renew = False
        for _ in range(2):
            try:
                token = self.provider_token(renew)
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                return SendResult(Outcome.PERMANENT, code="invalid_credentials", detail=str(exc))
            try:
                response = await self.client.post(
                    url, content=body, headers=self.headers(message, token)
                )
            except httpx.HTTPError as exc:
                return network_failure(exc)
            expired = response.status_code == 403 and _reason(response) == "ExpiredProviderToken"
            if expired and not renew:
                renew = True  # Apple thinks our JWT is too old: sign a new one, once
                continue
            return map_response(response)
        return map_response(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
