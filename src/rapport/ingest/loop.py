"""The processing loop: a thread that drains the inbox, in `serve` or in `worker`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from rapport.core.background import BackgroundLoop
from rapport.profiles.processor import Processor

log = logging.getLogger("rapport.processing")


class Companion(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class ProcessingLoop(BackgroundLoop):
    """Runs :meth:`Processor.process_once` until stopped; wakes early when poked."""

    thread_name = "processing"

    def __init__(
        self,
        processor: Processor,
        idle_seconds: float = 0.05,
        periodic: Sequence[tuple[float, Callable[[], object]]] = (),
        companions: Sequence[Companion] = (),
    ) -> None:
        super().__init__()
        self.processor = processor
        self.idle_seconds = idle_seconds
        # (interval seconds, job): housekeeping such as retention, run between batches.
        self.periodic = list(periodic)
        self._next_run = [time.monotonic() + 5.0 for _ in self.periodic]
        # Slower background work in threads of its own (the taste groups' fit), started
        # and stopped with the loop, so it never delays a batch.
        self.companions = list(companions)
        self.processed = 0

    def stop(self) -> None:
        for companion in self.companions:
            companion.stop()
        super().stop()

    def run(self) -> None:
        """Loop until :meth:`stop` (``rapport worker`` calls this in its main thread)."""
        for companion in self.companions:
            companion.start()
        backoff = 0.5
        while not self._stop.is_set():
            try:
                count = self.processor.process_once()
            except DBAPIError as exc:
                # Lost a race with another worker (deadlock, serialization): the batch was
                # rolled back whole; take it again.
                log.warning("processing batch rolled back, retrying", extra={"error": str(exc)})
                self._stop.wait(0.05)
                continue
            except Exception:
                log.exception("processing failed; retrying")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            self.processed += count
            self._run_periodic()
            if count < self.processor.batch_size:
                # Caught up: wait for new messages (or the next poll) rather than spin
                # through a transaction, and its fsync, per trickle of messages.
                self._wake.wait(self.idle_seconds)
                self._wake.clear()

    def _run_periodic(self) -> None:
        now = time.monotonic()
        for index, (interval, job) in enumerate(self.periodic):
            if now >= self._next_run[index]:
                self._next_run[index] = now + interval
                try:
                    job()
                except Exception:
                    log.exception("periodic job failed", extra={"job": repr(job)})
