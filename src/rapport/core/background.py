"""A loop in a daemon thread of its own, started and stopped with the process's
services, and woken early when there is new work (the processing loop, the
orchestrator)."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Owns the thread, the stop flag and the wake-up of a polling loop; subclasses
    write :meth:`run` (checking ``self._stop``, waiting on ``self._wake``)."""

    thread_name = "background"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """New work was committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run(self) -> None:
        raise NotImplementedError
