"""The orchestrator: starts, plans, sends and completes campaigns, in `serve` or `worker`.

One thread with its own event loop (providers speak HTTP asynchronously). Every step
keeps its state in the database, so any number of orchestrators (one per worker
process) can run against PostgreSQL: planning locks the campaign row it extends and
sending claims rows with ``FOR UPDATE SKIP LOCKED``; what one process dies holding,
another takes over when its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rapport.core.background import BackgroundLoop
from rapport.core.db import Database
from rapport.messaging import storage
from rapport.messaging.planner import Planner
from rapport.messaging.sender import Sender

log = logging.getLogger("rapport.messaging")


class Orchestrator(BackgroundLoop):
    """Runs :meth:`tick` until stopped; wakes early when poked."""

    thread_name = "orchestrator"

    def __init__(
        self,
        database: Database,
        sender: Sender,
        *,
        idle_seconds: float = 0.5,
        plan_seconds: float = 0.25,
    ) -> None:
        super().__init__()
        self.database = database
        self.sender = sender
        self.planner = Planner()
        self.idle_seconds = idle_seconds
        # Planning a page at a time until this much time passed, then a round of sending,
        # so a long audience never starves the sends that are due.
        self.plan_seconds = plan_seconds

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        backoff = 0.5
        try:
            while not self._stop.is_set():
                try:
                    busy = await self.tick()
                except Exception:
                    log.exception("orchestrator round failed; retrying")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.5
                if not busy:
                    await asyncio.to_thread(self._wake.wait, self.idle_seconds)
                    self._wake.clear()
        finally:
            await self.sender.aclose()

    async def tick(self, now: float | None = None) -> bool:
        """One round: start due campaigns, plan, send, complete; whether work was done."""
        now = time.time() if now is None else now
        with self.database.begin() as conn:
            self._start_due(conn, now)
        with self.database.read() as conn:
            running = storage.campaigns_with_status(conn, ("running",))
        planned = self._plan(running, now)
        sent = await self.sender.send_due(running, now) if running else 0
        with self.database.begin() as conn:
            self._complete(conn, running, now)
        return bool(planned or sent)

    def _start_due(self, conn: Any, now: float) -> None:
        for row in storage.campaigns_with_status(conn, ("scheduled",)):
            if row.starts_at is None or row.starts_at <= now:
                values = {"status": "running", "updated_at": now}
                if row.starts_at is None:
                    values["starts_at"] = now
                storage.update_campaign(conn, row.id, values)
                log.info("campaign started", extra={"campaign": row.id})

    def _plan(self, running: list[Any], now: float) -> int:
        planned = 0
        deadline = time.monotonic() + self.plan_seconds
        for row in running:
            if row.kind != "broadcast" or row.planned_at is not None:
                continue
            while time.monotonic() < deadline:
                with self.database.begin() as conn:
                    count = self.planner.plan_page(conn, row.id, now)
                if count is None:
                    break
                planned += count
        return planned

    def _complete(self, conn: Any, running: list[Any], now: float) -> None:
        """A broadcast is complete once planned and nothing is left to send."""
        for row in running:
            if row.kind != "broadcast":
                continue
            fresh = storage.get_campaign(conn, row.workspace_id, row.id)
            if fresh is None or fresh.status != "running" or fresh.planned_at is None:
                continue
            if storage.pending_count(conn, row.id) == 0:
                storage.update_campaign(conn, row.id, {"status": "completed", "updated_at": now})
                log.info("campaign completed", extra={"campaign": row.id})
