"""``POST /api/oauth/token``: an admin key in, a short-lived access token out.

Takes the OAuth 2.0 client-credentials form (``grant_type=client_credentials`` with the
admin key as ``client_secret``, form-encoded or JSON) or simply
``Authorization: Bearer <admin key>`` with no body.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qs

import msgspec

from rapport.api.http import Request, Response, Route, json_response
from rapport.api.management import bearer
from rapport.api.validation import decode_json
from rapport.core import tokens
from rapport.core.errors import Forbidden, UnsupportedMediaType
from rapport.core.keys import KeyKind
from rapport.workspaces.auth import KeyAuthenticator
from rapport.workspaces.schemas import AccessToken

ADMIN_ONLY = frozenset({KeyKind.ADMIN})


class TokenRequest(msgspec.Struct, kw_only=True):
    """Client-credentials grant; ``client_id`` (the workspace id) is optional."""

    grant_type: Literal["client_credentials"] = "client_credentials"
    client_secret: str | None = None
    client_id: str | None = None


async def _token_request(request: Request) -> TokenRequest:
    body = await request.body()
    if not body.strip():
        return TokenRequest()
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        form = {k: v[-1] for k, v in parse_qs(body.decode("latin-1")).items()}
        return msgspec.convert(form, TokenRequest) if form else TokenRequest()
    if media not in {"application/json", "text/plain"}:
        raise UnsupportedMediaType("Send application/json or application/x-www-form-urlencoded")
    result: TokenRequest = decode_json(body, TokenRequest)
    return result


async def exchange(
    keys: KeyAuthenticator,
    token_secret: str,
    ttl_seconds: int,
    admin_key: str | None,
    claimed_workspace: str | None = None,
) -> AccessToken:
    """An access token for an admin key (401/403/421 as the key's checks decide);
    the token endpoint and the console's sign-in share it."""
    principal = await keys.authenticate(admin_key, ADMIN_ONLY)
    if claimed_workspace and claimed_workspace != principal.workspace_id:
        raise Forbidden("This admin key belongs to another workspace", code="workspace_mismatch")
    token, _ = tokens.issue(token_secret, principal.workspace_id, principal.key_id, ttl_seconds)
    return AccessToken(
        access_token=token,
        token_type="Bearer",  # noqa: S106 (the OAuth token type, not a secret)
        expires_in=ttl_seconds,
        workspace=principal.workspace_id,
    )


def build_route(keys: KeyAuthenticator, token_secret: str, ttl_seconds: int) -> Route:
    """The token endpoint, bound to this process's key authenticator and signing secret."""

    async def issue_token(request: Request) -> Response:
        try:
            grant = await _token_request(request)
        except msgspec.ValidationError as exc:
            from rapport.api.validation import validation_failed

            raise validation_failed(exc) from None
        claimed = grant.client_id or request.headers.get("rapport-workspace")
        issued = await exchange(
            keys, token_secret, ttl_seconds, grant.client_secret or bearer(request), claimed
        )
        return json_response(issued, headers={"Cache-Control": "no-store"})

    return Route(
        "POST",
        "/api/oauth/token",
        issue_token,
        name="issue_access_token",
        summary="Exchange an admin key for a short-lived access token",
        tags=("Authentication",),
        body=TokenRequest,
        response=AccessToken,
        security="adminKey",
        errors=(400, 401, 403, 415, 421, 422),
    )
