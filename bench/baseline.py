"""The bare ASGI baseline: the fastest a Python JSON endpoint can be on this machine.

It reads the request body, decodes it as JSON and answers a small JSON document, with
no framework, no validation and no storage. Every HTTP benchmark is printed as a ratio
to this app served by the same uvicorn configuration in the same run, because the
machines are noisy and absolute figures mean little.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]

_HEADERS = [(b"content-type", b"application/json")]


async def app(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer every HTTP request with ``{"accepted": N}``, N the items in the JSON body."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    count = 0
    if body:
        decoded = json.loads(body)
        count = len(decoded) if isinstance(decoded, list) else 1
    payload = json.dumps({"accepted": count}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": payload})
