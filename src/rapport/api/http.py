"""A deliberately small ASGI toolkit: routing, requests, responses.

The hot paths (ingestion, content, experiences) must stay close to a bare ASGI app,
so this layer does only what each request needs: one dict lookup for static paths,
lazy header and query parsing, msgspec for JSON. Routes carry their request and
response types so :mod:`rapport.api.openapi` can document them.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import msgspec

from rapport.api.validation import decode_json
from rapport.core.digits import is_ascii_number
from rapport.core.errors import (
    BadRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_encoder = msgspec.json.Encoder()
JSON_TYPE = b"application/json"


class Request:
    """One HTTP request, parsed lazily."""

    __slots__ = (
        "_body",
        "_headers",
        "_query",
        "max_body",
        "path_params",
        "receive",
        "scope",
        "state",
    )

    def __init__(self, scope: Scope, receive: Receive, max_body: int) -> None:
        self.scope = scope
        self.receive = receive
        self.max_body = max_body
        self.path_params: dict[str, str] = {}
        self.state: dict[str, Any] = {}
        self._headers: dict[str, str] | None = None
        self._query: dict[str, list[str]] | None = None
        self._body: bytes | None = None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def headers(self) -> dict[str, str]:
        """Lower-cased header names; a repeated header keeps its last value."""
        if self._headers is None:
            self._headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in self.scope["headers"]
            }
        return self._headers

    def header(self, name: bytes) -> str | None:
        """One header's value (``name`` in lower case) without decoding them all, for
        the hot paths that read one or two; a repeated header gives its last value, as
        in :attr:`headers`."""
        if self._headers is not None:
            return self._headers.get(name.decode("latin-1"))
        found = None
        for key, value in self.scope["headers"]:
            if key.lower() == name:
                found = value
        return None if found is None else found.decode("latin-1")

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_query(self.scope.get("query_string", b"").decode("latin-1"))
        return self._query

    @property
    def client_ip(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None

    async def body(self) -> bytes:
        """The request body, decompressed, refused with 413 beyond ``max_body``."""
        if self._body is not None:
            return self._body
        declared = self.headers.get("content-length")
        if declared is not None and is_ascii_number(declared) and int(declared) > self.max_body:
            raise PayloadTooLarge(f"Request body exceeds {self.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("Client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(f"Request body exceeds {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        encoding = self.headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            body = _gunzip(body, self.max_body)
        elif encoding not in {"identity", ""}:
            raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip")
        self._body = body
        return body

    def require_json(self) -> None:
        """415 unless the body is declared as JSON (or not declared at all)."""
        content_type = self.headers.get("content-type")
        if content_type is not None and not _is_json(content_type):
            raise UnsupportedMediaType("Send the body as application/json")

    async def json(self, type_: Any) -> Any:
        """The body decoded and validated as ``type_`` (415 if it is not JSON)."""
        self.require_json()
        return decode_json(await self.body(), type_)


def parse_query(raw: str) -> dict[str, list[str]]:
    """``parse_qs(raw, keep_blank_values=True)``, without its per-pair unquoting when
    nothing in ``raw`` is escaped (the common case, and most of its cost)."""
    if "%" in raw or "+" in raw:
        return parse_qs(raw, keep_blank_values=True)
    query: dict[str, list[str]] = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            found = query.get(name)
            if found is None:
                query[name] = [value]
            else:
                found.append(value)
    return query


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/plain"


def _gunzip(body: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BadRequest("Body is not valid gzip", code="malformed_body") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"Decompressed body exceeds {limit} bytes")
    return out


class Response:
    """A complete response, sent in one body message."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        body: bytes = b"",
        status: int = 200,
        media_type: bytes | None = JSON_TYPE,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[bytes, bytes]] = []
        if media_type is not None and status != 204:
            self.headers.append((b"content-type", media_type))
        if headers:
            self.headers.extend((k.lower().encode(), v.encode()) for k, v in headers.items())

    async def send(self, send: Send) -> None:
        headers = self.headers
        if self.status != 204:
            headers = [*headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Encode ``content`` (Structs, dicts, lists) with msgspec."""
    return Response(_encoder.encode(content), status=status, headers=headers)


def empty_response(status: int = 204) -> Response:
    return Response(b"", status=status, media_type=None)


Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Param:
    """A documented query or header parameter."""

    name: str
    where: str  # "query" or "header"
    description: str = ""
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint and what the OpenAPI document says about it."""

    method: str
    path: str
    endpoint: Endpoint
    name: str
    summary: str = ""
    tags: Sequence[str] = ()
    body: Any = None
    response: Any = None
    status: int = 200
    params: Sequence[Param] = ()
    security: str | None = None
    errors: Sequence[int] = ()
    include_in_schema: bool = True
    # Overrides the server-wide body limit (the Segment endpoints allow 500 KB).
    max_body: int | None = None


_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


class Router:
    """Static paths by dict lookup; templated paths by one regex each."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self.routes: list[Route] = []
        self._static: dict[str, dict[str, Route]] = {}
        self._dynamic: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        self.routes.append(route)
        if "{" not in route.path:
            methods = self._static.setdefault(route.path, {})
        else:
            pattern = re.compile(
                "^" + _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", route.path) + "$"
            )
            for existing, existing_methods in self._dynamic:
                if existing.pattern == pattern.pattern:
                    methods = existing_methods
                    break
            else:
                methods = {}
                self._dynamic.append((pattern, methods))
        if route.method in methods:
            raise ValueError(f"Duplicate route {route.method} {route.path}")
        methods[route.method] = route

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for ``method path``, or 404 / 405."""
        methods = self._static.get(path)
        params: dict[str, str] = {}
        if methods is None:
            for pattern, candidate in self._dynamic:
                found = pattern.match(path)
                if found:
                    methods, params = candidate, found.groupdict()
                    break
        if methods is None:
            raise NotFound(f"No endpoint at {path}")
        route = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
        if route is None:
            raise MethodNotAllowed(
                f"{method} is not allowed on {path}",
                headers={"Allow": ", ".join(sorted(methods))},
            )
        return route, params
