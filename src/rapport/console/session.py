"""The console's session: a signed HttpOnly cookie carrying a Management API access
token, and the CSRF checks every state-changing browser request must pass.

The browser never sees the token (HttpOnly); the cookie is ``SameSite=Strict``; every
unsafe request also carries ``X-CSRF-Token``, which must equal the secret bound to the
session, and an ``Origin`` (when the browser sends one) naming this server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from rapport.api.http import Request
from rapport.core.errors import Forbidden

SESSION_COOKIE = "rapport_console"
PRE_SESSION_COOKIE = "rapport_console_signin"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_SECONDS = 12 * 3600  # a signed-in console lives this long at most, even when busy
PRE_SESSION_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """What the session cookie holds."""

    token: str
    workspace_id: str
    csrf: str
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cookies(request: Request) -> dict[str, str]:
    """The request's cookies (the first of a repeated name wins, as browsers send the
    most specific one first)."""
    found: dict[str, str] = {}
    for part in request.headers.get("cookie", "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in found:
            found[name] = value.strip().strip('"')
    return found


class SessionCodec:
    """Signs and verifies cookie values with a key derived from the server secret."""

    def __init__(self, server_secret: str) -> None:
        self._key = hmac.new(
            server_secret.encode(), b"rapport-console-cookie", hashlib.sha256
        ).digest()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def encode(self, payload: dict[str, Any]) -> str:
        body = _b64(msgspec.json.encode(payload))
        return f"{body}.{self._sign(body)}"

    def decode(self, value: str) -> dict[str, Any] | None:
        """The payload, or None when the value is not one we signed or has expired."""
        body, _, signature = value.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload = msgspec.json.decode(_unb64(body))
        except (binascii.Error, msgspec.DecodeError, ValueError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("x"), (int, float)):
            return None
        return payload if payload["x"] > time.time() else None

    def session(self, request: Request) -> ConsoleSession | None:
        """The request's console session, if it carries a valid one."""
        value = cookies(request).get(SESSION_COOKIE)
        payload = self.decode(value) if value else None
        if payload is None:
            return None
        token, workspace, csrf = payload.get("t"), payload.get("w"), payload.get("c")
        if not (isinstance(token, str) and isinstance(workspace, str) and isinstance(csrf, str)):
            return None
        return ConsoleSession(token, workspace, csrf, float(payload["x"]))

    def session_value(self, session: ConsoleSession) -> str:
        return self.encode(
            {
                "t": session.token,
                "w": session.workspace_id,
                "c": session.csrf,
                "x": session.expires_at,
            }
        )

    def new_session(self, token: str, workspace_id: str) -> ConsoleSession:
        return ConsoleSession(
            token, workspace_id, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS
        )

    def pre_session(self) -> tuple[str, str]:
        """A sign-in CSRF secret and the cookie value that binds it to this browser."""
        nonce = secrets.token_urlsafe(32)
        return nonce, self.encode({"n": nonce, "x": time.time() + PRE_SESSION_SECONDS})

    def pre_session_nonce(self, request: Request) -> str | None:
        value = cookies(request).get(PRE_SESSION_COOKIE)
        payload = self.decode(value) if value else None
        nonce = payload.get("n") if payload else None
        return nonce if isinstance(nonce, str) else None


def check_origin(request: Request) -> None:
    """403 when a browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise Forbidden("Cross-origin request refused", code="csrf_failed")
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        raise Forbidden("Cross-site request refused", code="csrf_failed")


def check_csrf(request: Request, expected: str) -> None:
    """403 unless the request carries the expected CSRF token and a same-origin Origin."""
    check_origin(request)
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Forbidden(
            "Missing or wrong X-CSRF-Token: reload the console and try again",
            code="csrf_failed",
        )


def bridge_token(codec: SessionCodec, request: Request) -> str | None:
    """The access token of the request's console session, CSRF-checked for unsafe
    methods; None when there is no session (the caller then answers 401)."""
    session = codec.session(request)
    if session is None:
        return None
    if request.method not in SAFE_METHODS:
        check_csrf(request, session.csrf)
    return session.token


def cookie_header(
    name: str, value: str, *, max_age: int, secure: bool, path: str = "/"
) -> tuple[bytes, bytes]:
    """A ``Set-Cookie`` header: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    parts = [f"{name}={value}", f"Path={path}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return b"set-cookie", "; ".join(parts).encode()
