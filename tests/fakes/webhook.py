"""A webhook receiver that verifies rapport's HMAC signature the documented way."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rapport.messaging.providers.webhook import verify
from tests.fakes.serving import Receive, Scope, Send, header, read_body, respond


@dataclass
class WebhookReceiver:
    secret: str
    base_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    _answers: deque[tuple[int, dict[str, str]]] = field(default_factory=deque)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/push"

    def answer(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next ``times`` valid calls get ``status`` instead of 200."""
        for _ in range(times):
            self._answers.append((status, headers or {}))

    def reset(self) -> None:
        self.received.clear()
        self._answers.clear()
        self.rejected = 0

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        signature = header(scope, "rapport-signature") or ""
        if scope["path"] != "/hooks/push" or not verify(self.secret, signature, body):
            self.rejected += 1
            await respond(send, 401, {"error": "bad signature"})
            return
        self.received.append(
            {
                "body": json.loads(body),
                "idempotency_key": header(scope, "idempotency-key"),
                "authorization": header(scope, "authorization"),
            }
        )
        if self._answers:
            status, headers = self._answers.popleft()
            await respond(send, status, {"error": "scripted"}, headers)
            return
        await respond(send, 202, {"id": f"hook-{len(self.received)}"})
