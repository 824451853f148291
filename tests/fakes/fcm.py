"""A fake of FCM HTTP v1: Google's OAuth2 token endpoint for service accounts and
``projects/{id}/messages:send``, with the documented error answers.

The token endpoint verifies the RS256 assertion with the service account's public key
(issuer, audience = the token URI, the messaging scope, expiry) before issuing an
access token; ``messages:send`` accepts only tokens it issued and still considers
valid. Errors follow https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.serving import Receive, Scope, Send, header, read_body, respond

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# name -> (HTTP status, google.rpc status, FCM errorCode or None, message, field violated)
ERRORS: dict[str, tuple[int, str, str | None, str, str | None]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.", None),
    "INVALID_TOKEN": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        "message.token",
    ),
    "INVALID_ARGUMENT": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "Invalid value at 'message.data[0].value'",
        "message.data[0].value",
    ),
    "SENDER_ID_MISMATCH": (
        403,
        "PERMISSION_DENIED",
        "SENDER_ID_MISMATCH",
        "SenderId mismatch",
        None,
    ),
    "QUOTA_EXCEEDED": (
        429,
        "RESOURCE_EXHAUSTED",
        "QUOTA_EXCEEDED",
        "Quota exceeded for quota metric 'Send requests'",
        None,
    ),
    "UNAVAILABLE": (
        503,
        "UNAVAILABLE",
        "UNAVAILABLE",
        "The service is currently unavailable.",
        None,
    ),
    "INTERNAL": (500, "INTERNAL", "INTERNAL", "Internal error encountered.", None),
    "THIRD_PARTY_AUTH_ERROR": (
        401,
        "UNAUTHENTICATED",
        "THIRD_PARTY_AUTH_ERROR",
        "Auth error from APNS or Web Push Service",
        None,
    ),
}


def error_body(name: str) -> tuple[int, dict[str, Any]]:
    status, rpc_status, fcm_code, message, violated = ERRORS[name]
    details: list[dict[str, Any]] = []
    if fcm_code:
        details.append({"@type": FCM_ERROR, "errorCode": fcm_code})
    if violated:
        details.append(
            {"@type": BAD_REQUEST, "fieldViolations": [{"field": violated, "description": message}]}
        )
    return status, {
        "error": {"code": status, "message": message, "status": rpc_status, "details": details}
    }


@dataclass
class Scripted:
    error: str
    retry_after: str | None = None
    times: int | None = None  # None: always


@dataclass
class FakeFCM:
    """The fake's state; ``app`` is the ASGI application serving it."""

    project_id: str
    client_email: str
    public_key: rsa.RSAPublicKey
    base_url: str = ""
    expires_in: int = 3600
    messages: list[dict[str, Any]] = field(default_factory=list)
    token_requests: int = 0
    rejected_assertions: list[str] = field(default_factory=list)
    token_error: tuple[int, dict[str, Any], dict[str, str]] | None = None
    _issued: dict[str, float] = field(default_factory=dict)
    _script: dict[str, Scripted] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def fail(
        self,
        device_token: str,
        error: str,
        *,
        retry_after: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer sends to ``device_token`` with ``error`` (a key of ``ERRORS``)."""
        assert error in ERRORS, error
        self._script[device_token] = Scripted(error, retry_after, times)

    def revoke_access_tokens(self) -> None:
        """Every issued access token stops working (as when it expires)."""
        with self._lock:
            self._issued.clear()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.rejected_assertions.clear()
            self._script.clear()
            self._issued.clear()
            self.token_requests = 0
            self.token_error = None
            self._ids = itertools.count(1)
            self.expires_in = 3600

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        if path == "/token" and scope["method"] == "POST":
            await self._token(body, send)
        elif path == f"/v1/projects/{self.project_id}/messages:send" and scope["method"] == "POST":
            await self._send(scope, body, send)
        else:
            await respond(
                send, 404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}
            )

    async def _token(self, body: bytes, send: Send) -> None:
        self.token_requests += 1
        if self.token_error is not None:
            status, answer, headers = self.token_error
            await respond(send, status, answer, headers)
            return
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            await respond(send, 400, {"error": "unsupported_grant_type"})
            return
        assertion = form.get("assertion", "")
        try:
            claims = jwt.decode(
                assertion,
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
            if claims.get("scope") != SCOPE:
                raise jwt.InvalidTokenError("scope")
        except jwt.PyJWTError as exc:
            self.rejected_assertions.append(str(exc))
            await respond(
                send, 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
            return
        token = "ya29." + secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = time.time() + self.expires_in
        await respond(
            send,
            200,
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"},
        )

    async def _send(self, scope: Scope, body: bytes, send: Send) -> None:
        auth = header(scope, "authorization") or ""
        token = auth.removeprefix("Bearer ")
        with self._lock:
            valid = self._issued.get(token, 0) > time.time()
        if not valid:
            await respond(
                send,
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
            )
            return
        message = json.loads(body)["message"]
        device = message.get("token")
        scripted = self._script.get(device)
        if scripted is not None:
            if scripted.times is not None:
                scripted.times -= 1
                if scripted.times <= 0:
                    del self._script[device]
            status, answer = error_body(scripted.error)
            headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else {}
            await respond(send, status, answer, headers)
            return
        self.messages.append({"message": message, "http_version": scope["http_version"]})
        name = f"projects/{self.project_id}/messages/{next(self._ids)}"
        await respond(send, 200, {"name": name})


def service_account(fake: FakeFCM, private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    """A service-account document like the one Firebase's console downloads."""
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": fake.project_id,
        "private_key_id": "a1b2c3d4e5",
        "private_key": pem,
        "client_email": fake.client_email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": fake.token_uri,
    }
