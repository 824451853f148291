"""The ASGI application: dispatch, error rendering, metrics, lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rapport.api.http import Receive, Request, Response, Route, Router, Scope, Send, json_response
from rapport.api.metrics import Metrics
from rapport.core.errors import RapportError

log = logging.getLogger("rapport.http")

Hook = Callable[[], Awaitable[None]]


class App:
    """Routes requests to endpoints and turns every failure into a documented error body."""

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        max_body_bytes: int,
        metrics: Metrics | None = None,
        on_startup: Iterable[Hook] = (),
        on_shutdown: Iterable[Hook] = (),
    ) -> None:
        self.router = Router(routes)
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics or Metrics()
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)
        # The wired services, for tests and tools that need to reach inside.
        self.state: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = Request(scope, receive, self.max_body_bytes)
        route_name = "unmatched"
        try:
            route, request.path_params = self.router.match(scope["method"], scope["path"])
            route_name = route.path
            if route.max_body is not None:
                request.max_body = route.max_body
            response = await route.endpoint(request)
        except RapportError as error:
            response = json_response(error.body(), error.status, error.headers)
        except Exception:
            log.exception("unhandled error", extra={"path": scope["path"]})
            response = json_response(
                {"error": {"code": "internal", "message": "Internal server error"}}, 500
            )
        await response.send(send)
        elapsed = time.perf_counter() - started
        self.metrics.observe(route_name, scope["method"], response.status, elapsed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": response.status,
                    "ms": round(elapsed * 1000, 3),
                },
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.on_shutdown:
                    await hook()
                await send({"type": "lifespan.shutdown.complete"})
                return


__all__ = ["App", "Response"]
