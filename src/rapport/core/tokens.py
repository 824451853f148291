"""Short-lived signed access tokens for the Management API (JWT, HS256).

A token names the workspace it is bound to and the admin key that obtained it, so
revoking or rotating that key ends its tokens too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from rapport.core.clock import utcnow

_ALGORITHM = "HS256"
_AUDIENCE = "rapport-management"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid token asserts."""

    workspace_id: str
    key_id: str
    issued_at: datetime
    expires_at: datetime


class InvalidToken(Exception):
    """The token is malformed, tampered with or expired."""


def issue(secret: str, workspace_id: str, key_id: str, ttl_seconds: int) -> tuple[str, datetime]:
    """A signed token and its expiry time."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    token = jwt.encode(
        {
            "sub": key_id,
            "wsp": workspace_id,
            "aud": _AUDIENCE,
            "iat": now.timestamp(),
            "exp": int(expires.timestamp()),
        },
        secret,
        algorithm=_ALGORITHM,
    )
    return token, expires


def verify(secret: str, token: str) -> AccessClaims:
    """The token's claims, or :class:`InvalidToken`."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    workspace_id, key_id = claims.get("wsp"), claims.get("sub")
    if not isinstance(workspace_id, str) or not isinstance(key_id, str):
        raise InvalidToken("token lacks its workspace or key")
    return AccessClaims(
        workspace_id=workspace_id,
        key_id=key_id,
        issued_at=datetime.fromtimestamp(claims["iat"], tz=utcnow().tzinfo),
        expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
    )
