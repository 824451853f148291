"""Management API conventions: access tokens, workspace and version headers.

Every ``/api/...`` management call carries ``Authorization: Bearer <access token>``,
``Rapport-Workspace`` (must match the token) and ``Api-Version`` (a supported date).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rapport.api.http import Param, Request, Response, Route
from rapport.core import tokens
from rapport.core.db import Database
from rapport.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from rapport.workspaces import storage
from rapport.workspaces.auth import KeyAuthenticator

SUPPORTED_VERSIONS: tuple[str, ...] = ("2026-11-01",)
SECURITY_SCHEME = "accessToken"

STANDARD_PARAMS: tuple[Param, ...] = (
    Param("Rapport-Workspace", "header", "The workspace the access token is bound to.", True),
    Param(
        "Api-Version",
        "header",
        "API version date.",
        True,
        {"type": "string", "enum": list(SUPPORTED_VERSIONS)},
    ),
)
PAGE_PARAMS: tuple[Param, ...] = (
    Param("limit", "query", "Items per page (1-1000).", schema={"type": "integer", "default": 100}),
    Param("next_token", "query", "The `next_token` of the previous page."),
    Param("with_total", "query", "Include `total`.", schema={"type": "boolean"}),
)


@dataclass(frozen=True, slots=True)
class WorkspaceContext:
    """A verified management caller."""

    workspace_id: str
    key_id: str
    api_version: str


def bearer(request: Request) -> str | None:
    """The credential of an ``Authorization: Bearer`` header."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def basic_auth(request: Request) -> tuple[str, str] | None:
    """``(user name, password)`` of an ``Authorization: Basic`` header; None when absent
    or unreadable (the password may be empty: Segment sends only a write key)."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


# Finds an access token elsewhere than the Authorization header (the console's session
# cookie), or None.
TokenSource = Callable[[Request], str | None]


class ManagementAuth:
    """Resolves the caller of a management endpoint, or raises the documented error."""

    def __init__(
        self,
        database: Database,
        keys: KeyAuthenticator,
        token_secret: str,
        fallback_token: TokenSource | None = None,
    ) -> None:
        self.database = database
        self.keys = keys
        self.token_secret = token_secret
        self.fallback_token = fallback_token

    async def resolve(self, request: Request) -> WorkspaceContext:
        token = bearer(request)
        if token is None and self.fallback_token is not None:
            token = self.fallback_token(request)
        if token is None:
            raise Unauthorized("Send `Authorization: Bearer <access token>`")
        try:
            claims = tokens.verify(self.token_secret, token)
        except tokens.InvalidToken as exc:
            raise Unauthorized(f"The access token is not valid: {exc}") from None
        if not await self.keys.still_valid(claims.key_id, claims.issued_at):
            raise Unauthorized("The admin key behind this access token was rotated or revoked")
        version = request.headers.get("api-version")
        if version not in SUPPORTED_VERSIONS:
            said = "missing" if version is None else f"{version!r} is not supported"
            raise BadRequest(
                f"Api-Version header {said}; supported: {', '.join(SUPPORTED_VERSIONS)}",
                code="unsupported_api_version",
                extra={"supported_versions": list(SUPPORTED_VERSIONS)},
            )
        workspace_id = request.headers.get("rapport-workspace")
        if not workspace_id:
            raise BadRequest("Rapport-Workspace header is required", code="missing_workspace")
        if workspace_id != claims.workspace_id:
            raise Forbidden(
                "The access token is bound to another workspace", code="workspace_mismatch"
            )
        workspace = await self.database.run(storage.get_workspace, workspace_id)
        if workspace is None:
            raise NotFound(f"Workspace {workspace_id!r} does not exist", code="workspace_not_found")
        self.keys.check_region(workspace.id, workspace.region)
        return WorkspaceContext(workspace_id, claims.key_id, version)


ManagementHandler = Callable[[Request, WorkspaceContext], Awaitable[Response]]


class ManagementRoutes:
    """Builds management routes that resolve their caller before the handler runs."""

    def __init__(self, auth: ManagementAuth) -> None:
        self.auth = auth

    def route(
        self,
        method: str,
        path: str,
        handler: ManagementHandler,
        *,
        name: str,
        summary: str,
        tags: Sequence[str],
        body: Any = None,
        response: Any = None,
        status: int = 200,
        paged: bool = False,
        params: Sequence[Param] = (),
        errors: Sequence[int] = (),
    ) -> Route:
        auth = self.auth

        async def endpoint(request: Request) -> Response:
            context = await auth.resolve(request)
            return await handler(request, context)

        return Route(
            method,
            path,
            endpoint,
            name=name,
            summary=summary,
            tags=tags,
            body=body,
            response=response,
            status=status,
            params=(*STANDARD_PARAMS, *(PAGE_PARAMS if paged else ()), *params),
            security=SECURITY_SCHEME,
            errors=(400, 401, 403, 421, *errors),
        )
