"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document and docs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.api.http import Param, Request, Response, Route, json_response
from rapport.api.metrics import Metrics
from rapport.core.db import Database
from rapport.core.errors import ServiceUnavailable
from rapport.core.keys import KeyKind
from rapport.ingest import storage as inbox
from rapport.workspaces.auth import KeyAuthenticator

SURFACES_ONLY = frozenset({KeyKind.SURFACES})

_DOCS_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>rapport API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script>
</body></html>"""


def _inbox_state(conn: Connection) -> tuple[int, float | None]:
    return inbox.backlog(conn), inbox.oldest_received_at(conn)


class Status(msgspec.Struct, omit_defaults=True):
    status: str
    database: str | None = None


def build_routes(
    database: Database,
    keys: KeyAuthenticator,
    metrics: Metrics,
    openapi: Callable[[], dict[str, Any]],
) -> list[Route]:
    """Routes that every deployment exposes."""
    ok = msgspec.json.encode(Status("ok"))
    document: bytes | None = None

    async def health(request: Request) -> Response:
        # The Content API's clients call /health with their key: check it when given.
        presented = request.headers.get("x-api-key")
        if presented is not None:
            await keys.authenticate(presented, SURFACES_ONLY)
        return Response(ok)

    async def ready(request: Request) -> Response:
        try:
            await database.run(lambda conn: conn.exec_driver_sql("SELECT 1"))
        except Exception as exc:
            raise ServiceUnavailable(f"Database unreachable: {type(exc).__name__}") from None
        return json_response(Status("ready", database.dialect))

    async def metrics_text(request: Request) -> Response:
        backlog, oldest = await database.run_read(_inbox_state)
        metrics.inbox_backlog.set(backlog)
        metrics.inbox_oldest_age.set(0.0 if oldest is None else max(0.0, time.time() - oldest))
        return Response(metrics.render(), media_type=b"text/plain; version=0.0.4; charset=utf-8")

    async def openapi_json(request: Request) -> Response:
        nonlocal document
        if document is None:
            document = msgspec.json.encode(openapi())
        return Response(document)

    async def docs(request: Request) -> Response:
        return Response(_DOCS_HTML, media_type=b"text/html; charset=utf-8")

    return [
        Route(
            "GET",
            "/health",
            health,
            name="health",
            summary="Liveness",
            tags=("Operations",),
            response=Status,
            params=(Param("X-API-Key", "header", "Optional surfaces key (Content API clients)."),),
            errors=(401, 403),
        ),
        Route(
            "GET",
            "/ready",
            ready,
            name="ready",
            summary="Readiness: the database answers",
            tags=("Operations",),
            response=Status,
            errors=(503,),
        ),
        Route(
            "GET",
            "/metrics",
            metrics_text,
            name="metrics",
            summary="Prometheus metrics",
            tags=("Operations",),
        ),
        Route("GET", "/openapi.json", openapi_json, name="openapi", include_in_schema=False),
        Route("GET", "/docs", docs, name="docs", include_in_schema=False),
    ]
