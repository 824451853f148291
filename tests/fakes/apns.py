"""A fake of APNs (token-based authentication), served over real HTTP/2 with TLS.

It answers only HTTP/2 requests, verifies the ES256 provider token with the key's
public half (``kid``, ``iss`` = team id, ``iat`` within the hour), checks
``apns-topic`` against the app's bundle id and the other headers, limits payloads to
4 KB, and answers the documented reasons
(https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.serving import Receive, Scope, Send, header, read_body, respond

# reason -> HTTP status
REASONS: dict[str, int] = {
    "BadDeviceToken": 400,
    "DeviceTokenNotForTopic": 400,
    "BadCollapseId": 400,
    "MissingTopic": 400,
    "BadPriority": 400,
    "InvalidProviderToken": 403,
    "ExpiredProviderToken": 403,
    "MissingProviderToken": 403,
    "BadPath": 404,
    "Unregistered": 410,
    "ExpiredToken": 410,
    "PayloadTooLarge": 413,
    "TooManyProviderTokenUpdates": 429,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Shutdown": 503,
}
MAX_PAYLOAD = 4096


@dataclass
class FakeAPNs:
    team_id: str
    key_id: str
    bundle_id: str
    public_key: ec.EllipticCurvePublicKey
    base_url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    provider_tokens: list[str] = field(default_factory=list)
    _expired: set[str] = field(default_factory=set)
    _script: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def fail(self, device_token: str, reason: str, *, retry_after: str | None = None) -> None:
        assert reason in REASONS, reason
        self._script[device_token] = (reason, retry_after)

    def expire_provider_tokens(self) -> None:
        """Every provider token seen so far is answered ExpiredProviderToken."""
        self._expired.update(self.provider_tokens)

    def reset(self) -> None:
        self.messages.clear()
        self.provider_tokens.clear()
        self._expired.clear()
        self._script.clear()

    async def _error(self, send: Send, reason: str, headers: dict[str, str] | None = None) -> None:
        body: dict[str, Any] = {"reason": reason}
        if REASONS[reason] == 410:
            body["timestamp"] = int(time.time() * 1000)
        await respond(send, REASONS[reason], body, headers)

    def _auth_error(self, scope: Scope) -> str | None:
        auth = header(scope, "authorization")
        if not auth or not auth.lower().startswith("bearer "):
            return "MissingProviderToken"
        token = auth[7:]
        self.provider_tokens.append(token)
        try:
            head = jwt.get_unverified_header(token)
            if head.get("alg") != "ES256" or head.get("kid") != self.key_id:
                return "InvalidProviderToken"
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                issuer=self.team_id,
                options={"require": ["iss", "iat"], "verify_iat": True},
            )
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if token in self._expired or time.time() - float(claims["iat"]) > 3600:
            return "ExpiredProviderToken"
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["http_version"] != "2":
            await respond(send, 505, {"reason": "HTTP/2 required"})
            return
        path = scope["path"]
        if scope["method"] != "POST" or not path.startswith("/3/device/"):
            await self._error(send, "BadPath")
            return
        device = path.removeprefix("/3/device/")
        if reason := self._auth_error(scope):
            await self._error(send, reason)
            return
        topic = header(scope, "apns-topic")
        if not topic:
            await self._error(send, "MissingTopic")
            return
        if topic != self.bundle_id:
            await self._error(send, "DeviceTokenNotForTopic")
            return
        if header(scope, "apns-priority") not in (None, "5", "10"):
            await self._error(send, "BadPriority")
            return
        collapse = header(scope, "apns-collapse-id")
        if collapse is not None and len(collapse.encode()) > 64:
            await self._error(send, "BadCollapseId")
            return
        if len(body) > MAX_PAYLOAD:
            await self._error(send, "PayloadTooLarge")
            return
        if device in self._script:
            reason, retry_after = self._script[device]
            await self._error(send, reason, {"Retry-After": retry_after} if retry_after else None)
            return
        apns_id = header(scope, "apns-id") or str(uuid.uuid4())
        self.messages.append(
            {
                "device_token": device,
                "payload": json.loads(body),
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "http_version": scope["http_version"],
            }
        )
        await respond(send, 200, None, {"apns-id": apns_id})
