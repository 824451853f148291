"""Group commit: concurrent requests share one database transaction.

A commit that survives power loss costs a disk flush; at one flush per request SQLite
manages ~5k requests/s, at one flush per hundred rows ~125k rows/s. Requests hand their
rows to a single writer thread and wait; the writer takes everything queued, inserts it
in one transaction, commits, and only then releases every waiting request. A request
is acknowledged only after its rows are committed; if the commit fails, every request
in it gets the error and nothing of theirs is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from rapport.core.db import Database
from rapport.core.errors import ServiceUnavailable

log = logging.getLogger("rapport.ingest.writer")

Rows = Sequence[Mapping[str, Any]]
WriteFn = Callable[[Connection, Rows], None]


@dataclass(slots=True)
class _Pending:
    rows: Rows
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop


class GroupCommitter:
    """One writer thread per process; ``await submit(rows)`` returns once committed."""

    def __init__(
        self,
        database: Database,
        write: WriteFn,
        max_rows: int = 5000,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.write = write
        self.max_rows = max_rows
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.rows_committed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    async def submit(self, rows: Rows) -> None:
        """Wait until ``rows`` are committed (raises if the commit failed)."""
        if not rows:
            return
        if self._thread is None:
            raise ServiceUnavailable("The ingestion writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Pending(rows, future, loop))
        await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.rows)
            while size < self.max_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                size += len(item.rows)
            self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        rows = [row for pending in batch for row in pending.rows]
        error: BaseException | None = None
        try:
            with self.database.begin() as conn:
                self.write(conn, rows)
        except Exception as exc:
            log.exception("group commit failed", extra={"rows": len(rows)})
            error = exc
        else:
            self.commits += 1
            self.rows_committed += len(rows)
            if self.on_commit is not None:
                self.on_commit()
        # One wake-up per event loop, not per request: each call_soon_threadsafe is a
        # write to the loop's self-pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for pending in batch:
            by_loop.setdefault(pending.loop, []).append(pending.future)
        for loop, futures in by_loop.items():
            loop.call_soon_threadsafe(_settle, futures, error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(
                ServiceUnavailable("Could not store the data; nothing was accepted. Retry.")
            )
