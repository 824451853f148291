"""A first-come, first-served lock for SQLite's single writer.

SQLite lets one transaction write at a time. When two threads of one process race for
it, the loser sleeps in SQLite's busy handler in growing steps (1, 2, 5 … 100 ms), so a
request can wait far longer than the write it waits for. Queuing writers of a process
on this lock hands the database over the moment it is free, in arrival order, so the
processing loop cannot starve the ingestion writer (``threading.Lock`` promises no
order). Other processes are still arbitrated by SQLite's busy timeout.
"""

from __future__ import annotations

import threading
from collections import deque


class FairLock:
    """A mutex granted in the order it was asked for."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        waiter.acquire()  # released by the holder handing the lock over

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held: ownership moves over
            else:
                self._held = False

    def __enter__(self) -> FairLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
