"""Firebase Cloud Messaging, HTTP v1 API.

A service account signs an RS256 JWT assertion, exchanged at its ``token_uri`` for an
OAuth2 access token (cached until five minutes before it expires, fetched again when
FCM answers 401); each message is one ``POST /v1/projects/{id}/messages:send``.
Errors are mapped from FCM's documented ``FcmError`` codes
(https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
"""

from __future__ import annotations

import asyncio
import ssl
import time
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

DEFAULT_ENDPOINT = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3600
# Fetch a new access token this long before the current one expires.
REFRESH_MARGIN = 300.0


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a service-account JSON file FCM needs."""

    project_id: str
    client_email: str
    private_key: str  # PEM
    token_uri: str
    private_key_id: str | None = None


def payload(message: PushMessage, token: str) -> bytes:
    """The ``messages:send`` body; the send id travels as collapse key and in data."""
    data = dict(message.data)
    data["send_id"] = message.send_id
    data["campaign_id"] = message.campaign_id
    if message.deep_link:
        data["deep_link"] = message.deep_link
    android: dict[str, Any] = {"collapse_key": message.send_id[:64]}
    apns_headers = {"apns-collapse-id": message.send_id[:64]}
    if message.ttl_seconds is not None:
        android["ttl"] = f"{message.ttl_seconds}s"
        apns_headers["apns-expiration"] = str(int(time.time()) + message.ttl_seconds)
    body = {
        "message": {
            "token": token,
            "notification": {"title": message.title, "body": message.body},
            "data": data,
            "android": android,
            "apns": {"headers": apns_headers},
        }
    }
    return msgspec.json.encode(body)


def _error(response: httpx.Response) -> tuple[str | None, str | None, str, bool]:
    """``(FcmError code, google.rpc status, message, about the token)`` of an error."""
    try:
        error = msgspec.json.decode(response.content).get("error", {})
    except (msgspec.DecodeError, AttributeError):
        return None, None, response.text[:500], False
    if not isinstance(error, dict):
        return None, None, str(error)[:500], False
    fcm_code: str | None = None
    about_token = False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind.endswith("FcmError") and detail.get("errorCode"):
            fcm_code = str(detail["errorCode"])
        if kind.endswith("BadRequest"):
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and violation.get("field") == "message.token":
                    about_token = True
    text = str(error.get("message", ""))
    about_token = about_token or "registration token" in text.lower()
    status = error.get("status")
    return fcm_code, str(status) if status else None, text, about_token


def map_response(response: httpx.Response) -> SendResult:
    """One ``messages:send`` answer as an outcome."""
    if response.status_code == 200:
        try:
            name = msgspec.json.decode(response.content).get("name")
        except (msgspec.DecodeError, AttributeError):
            name = None
        return SendResult(Outcome.SENT, provider_message_id=name)
    fcm_code, status, text, about_token = _error(response)
    code = fcm_code or status or str(response.status_code)
    after = retry_after(response)
    if fcm_code == "UNREGISTERED":
        return SendResult(Outcome.INVALID_TOKEN, code=code, detail=text)
    if (fcm_code or status) == "INVALID_ARGUMENT" and about_token:
        return SendResult(Outcome.INVALID_TOKEN, code=code, detail=text)
    if fcm_code == "QUOTA_EXCEEDED":
        return SendResult(Outcome.RATE_LIMITED, retry_after=after, code=code, detail=text)
    if fcm_code in {"UNAVAILABLE", "INTERNAL"}:
        return SendResult(Outcome.TRANSIENT, retry_after=after, code=code, detail=text)
    # SENDER_ID_MISMATCH (the token belongs to another project), THIRD_PARTY_AUTH_ERROR
    # (the APNs or web push credentials in Firebase are wrong), other INVALID_ARGUMENTs
    # (the message itself) and PERMISSION_DENIED will not succeed on a retry.
    return by_status(response.status_code, code, text, after)


class FcmProvider:
    """Sends through FCM HTTP v1 with one service account."""

    kind = "fcm"
    needs_token = True

    def __init__(
        self,
        account: ServiceAccount,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.account = account
        self.url = f"{endpoint.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self._tls = tls
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = asyncio.Lock()

    @property
    def client(self) -> httpx.AsyncClient:
        # Created on first use: construction stays cheap and loop-independent.
        if self._client is None:
            self._client = make_client(self._tls, http2=True)
        return self._client

    def assertion(self) -> str:
        """The signed JWT a token endpoint exchanges for an access token."""
        now = int(time.time())
        claims = {
            "iss": self.account.client_email,
            "scope": SCOPE,
            "aud": self.account.token_uri,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        }
        headers = {"kid": self.account.private_key_id} if self.account.private_key_id else None
        return jwt.encode(claims, self.account.private_key, algorithm="RS256", headers=headers)

    async def access_token(self, stale: str | None = None) -> str | SendResult:
        """A valid access token (a fresh one when ``stale`` was refused), or why not."""
        async with self._lock:
            fresh = self._token is not None and self._token != stale
            if fresh and time.monotonic() < self._token_expires - REFRESH_MARGIN:
                return self._token  # type: ignore[return-value]
            try:
                assertion = self.assertion()
            except (ValueError, TypeError, jwt.PyJWTError) as exc:
                return SendResult(Outcome.PERMANENT, code="invalid_credentials", detail=str(exc))
            started = time.monotonic()
            try:
                response = await self.client.post(
                    self.account.token_uri,
                    data={"grant_type": JWT_BEARER, "assertion": assertion},
                )
            except httpx.HTTPError as exc:
                return network_failure(exc)
            try:
                answer = msgspec.json.decode(response.content)
            except msgspec.DecodeError:
                answer = {}
            if not isinstance(answer, dict):
                answer = {}
            if response.status_code != 200 or not answer.get("access_token"):
                code = f"oauth_{answer.get('error', response.status_code)}"
                detail = str(answer.get("error_description") or response.text[:500])
                return by_status(response.status_code, code, detail, retry_after(response))
            self._token = str(answer["access_token"])
            self._token_expires = started + float(answer.get("expires_in", 3600))
            return self._token

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        if not recipient.token:
            return SendResult(Outcome.PERMANENT, code="missing_token", detail="no device token")
        body = payload(message, recipient.token)
        stale: str | None = None
        for _ in range(2):
            token = await self.access_token(stale)
            if isinstance(token, SendResult):
                return token
            try:
                response = await self.client.post(
                    self.url,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
            except httpx.HTTPError as exc:
                return network_failure(exc)
            if response.status_code == 401 and _error(response)[0] is None and stale is None:
                stale = token  # expired or revoked access token: fetch another, once
                continue
            return map_response(response)
        return map_response(response)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
