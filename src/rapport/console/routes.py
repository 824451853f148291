"""The web console's server side: sign-in and sign-out, the session probe, and the
static files of the single-page app (plain HTML, CSS and JS modules: no build step).

Everything the console shows or changes goes through the Management API routes, which
accept the session cookie in place of ``Authorization`` (see :mod:`.session`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated

import msgspec
from msgspec import Meta

from rapport.api import oauth
from rapport.api.http import Request, Response, Route, empty_response, json_response
from rapport.console import session as sessions
from rapport.console.session import SessionCodec
from rapport.core import tokens
from rapport.core.errors import Forbidden, Unauthorized
from rapport.workspaces.auth import KeyAuthenticator

STATIC_PREFIX = "/console/static/"
_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".json": b"application/json",
}
# Only our own files: no inline scripts, no third-party origins, no framing.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
TAGS = ("Console",)


class SignIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The console's sign-in form."""

    admin_key: Annotated[str, Meta(min_length=1, max_length=500)]
    # Optional: refuse the key if it belongs to another workspace.
    workspace: Annotated[str, Meta(max_length=63)] | None = None


class SessionInfo(msgspec.Struct, kw_only=True):
    """What the page needs of its session (never the token itself)."""

    workspace: str
    csrf_token: str
    expires_at: datetime
    api_version: str


class SignInToken(msgspec.Struct):
    csrf_token: str


def _files(root: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for item in root.iterdir():
        if item.is_dir():
            yield from _files(item, f"{prefix}{item.name}/")
        elif item.name.rsplit(".", 1)[-1] in {"html", "css", "js", "svg", "json"}:
            yield f"{prefix}{item.name}", item


def _static(name: str, body: bytes) -> Route:
    suffix = "." + name.rsplit(".", 1)[-1]
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    async def serve(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(b"", status=304, media_type=None, headers={"ETag": etag})
        return Response(
            body, media_type=_TYPES[suffix], headers={**_SECURITY_HEADERS, "ETag": etag}
        )

    return Route(
        "GET", STATIC_PREFIX + name, serve, name=f"console_static:{name}", include_in_schema=False
    )


def _secure(request: Request) -> bool:
    return request.scope.get("scheme") == "https"


def build_routes(
    keys: KeyAuthenticator, token_secret: str, ttl_seconds: int, api_version: str
) -> list[Route]:
    """The console's page, its static files and its session endpoints."""
    codec = SessionCodec(token_secret)
    static = resources.files("rapport.console") / "static"
    files = {name: item.read_bytes() for name, item in _files(static)}
    index = files.pop("index.html")

    def info(session: sessions.ConsoleSession) -> SessionInfo:
        return SessionInfo(
            workspace=session.workspace_id,
            csrf_token=session.csrf,
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
            api_version=api_version,
        )

    def with_session(response: Response, request: Request, value: str, max_age: int) -> Response:
        response.headers.append(
            sessions.cookie_header(
                sessions.SESSION_COOKIE, value, max_age=max_age, secure=_secure(request)
            )
        )
        response.headers.append((b"cache-control", b"no-store"))
        return response

    async def page(request: Request) -> Response:
        return Response(index, media_type=_TYPES[".html"], headers=_SECURITY_HEADERS)

    async def sign_in_token(request: Request) -> Response:
        nonce, value = codec.pre_session()
        response = json_response(SignInToken(nonce), headers={"Cache-Control": "no-store"})
        response.headers.append(
            sessions.cookie_header(
                sessions.PRE_SESSION_COOKIE,
                value,
                max_age=sessions.PRE_SESSION_SECONDS,
                secure=_secure(request),
                path="/console/auth",
            )
        )
        return response

    async def sign_in(request: Request) -> Response:
        expected = codec.pre_session_nonce(request)
        if expected is None:
            raise Forbidden(
                "The sign-in form expired: reload the page and try again", code="csrf_failed"
            )
        sessions.check_csrf(request, expected)
        form = await request.json(SignIn)
        issued = await oauth.exchange(
            keys, token_secret, ttl_seconds, form.admin_key.strip(), form.workspace or None
        )
        session = codec.new_session(issued.access_token, issued.workspace)
        response = json_response(info(session))
        response.headers.append(
            sessions.cookie_header(
                sessions.PRE_SESSION_COOKIE,
                "",
                max_age=0,
                secure=_secure(request),
                path="/console/auth",
            )
        )
        return with_session(
            response, request, codec.session_value(session), sessions.SESSION_SECONDS
        )

    async def current(request: Request) -> Response:
        """The session, with its access token renewed once half its life has passed,
        as long as the admin key behind it still stands."""
        session = codec.session(request)
        if session is None:
            raise Unauthorized("Not signed in to the console", code="no_session")
        try:
            claims = tokens.verify(token_secret, session.token)
        except tokens.InvalidToken:
            claims = None
        if claims is None or not await keys.still_valid(claims.key_id, claims.issued_at):
            response = json_response(
                {"error": {"code": "session_ended", "message": "Your session ended: sign in"}},
                401,
            )
            return with_session(response, request, "", 0)
        remaining = claims.expires_at.timestamp() - time.time()
        if remaining > ttl_seconds / 2:
            return json_response(info(session), headers={"Cache-Control": "no-store"})
        token, _ = tokens.issue(token_secret, claims.workspace_id, claims.key_id, ttl_seconds)
        renewed = sessions.ConsoleSession(
            token, session.workspace_id, session.csrf, session.expires_at
        )
        max_age = max(1, int(session.expires_at - time.time()))
        return with_session(
            json_response(info(renewed)), request, codec.session_value(renewed), max_age
        )

    async def sign_out(request: Request) -> Response:
        session = codec.session(request)
        if session is not None:
            sessions.check_csrf(request, session.csrf)
        return with_session(empty_response(204), request, "", 0)

    return [
        Route("GET", "/console", page, name="console", include_in_schema=False),
        Route("GET", "/console/", page, name="console_slash", include_in_schema=False),
        Route(
            "GET",
            "/console/auth/sign-in",
            sign_in_token,
            name="console_sign_in_token",
            summary="A CSRF token for the sign-in form (bound to a short-lived cookie)",
            tags=TAGS,
            response=SignInToken,
        ),
        Route(
            "POST",
            "/console/auth/sign-in",
            sign_in,
            name="console_sign_in",
            summary="Sign in with an admin key: sets the HttpOnly session cookie",
            tags=TAGS,
            body=SignIn,
            response=SessionInfo,
            errors=(400, 401, 403, 415, 421, 422),
        ),
        Route(
            "GET",
            "/console/auth/session",
            current,
            name="console_session",
            summary="The console session (workspace, CSRF token); renews its access token",
            tags=TAGS,
            response=SessionInfo,
            errors=(401,),
        ),
        Route(
            "POST",
            "/console/auth/sign-out",
            sign_out,
            name="console_sign_out",
            summary="Sign out: clears the session cookie",
            tags=TAGS,
            status=204,
            errors=(403,),
        ),
        *(_static(name, body) for name, body in sorted(files.items())),
    ]
