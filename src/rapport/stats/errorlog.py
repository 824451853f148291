"""Rejected ingestion requests, kept in memory per process so the console can show
each dialect's errors without a write per rejection.

Bounded: the last ``keep`` errors per workspace and per-minute counts for an hour.
With several API processes each one reports its own share (like ``/metrics``).
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

DIALECTS = ("aampe", "parcelvoy", "segment")
_WINDOW_MINUTES = 60


@dataclass(frozen=True, slots=True)
class IngestionError:
    """One rejected request of an authenticated sender."""

    seq: int
    at: float
    dialect: str
    path: str
    status: int
    code: str
    message: str


class IngestionErrorLog:
    """Records rejections by workspace and dialect; reads are snapshots."""

    def __init__(self, keep: int = 500, clock: Callable[[], float] = time.time) -> None:
        self.keep = keep
        self.clock = clock
        self._seq = itertools.count(1)
        self._recent: dict[str, deque[IngestionError]] = {}
        # (workspace, dialect) -> {minute: count}, pruned to the last hour on write.
        self._minutes: dict[tuple[str, str], dict[int, int]] = {}

    def record(
        self, workspace_id: str, dialect: str, path: str, status: int, code: str, message: str
    ) -> None:
        now = self.clock()
        entry = IngestionError(next(self._seq), now, dialect, path, status, code, message[:500])
        recent = self._recent.setdefault(workspace_id, deque(maxlen=self.keep))
        recent.append(entry)
        minute = int(now // 60)
        counts = self._minutes.setdefault((workspace_id, dialect), {})
        counts[minute] = counts.get(minute, 0) + 1
        for old in [m for m in counts if m <= minute - _WINDOW_MINUTES]:
            del counts[old]

    def last_hour(self, workspace_id: str) -> dict[str, int]:
        """Errors per dialect in the last 60 minutes (every dialect, zeros included)."""
        first = int(self.clock() // 60) - _WINDOW_MINUTES + 1
        return {
            dialect: sum(
                n
                for minute, n in self._minutes.get((workspace_id, dialect), {}).items()
                if minute >= first
            )
            for dialect in DIALECTS
        }

    def newest_first(
        self, workspace_id: str, dialect: str | None = None, before: int | None = None
    ) -> Iterator[IngestionError]:
        """Recorded errors, newest first, optionally of one dialect and older than
        sequence number ``before``."""
        for entry in reversed(list(self._recent.get(workspace_id, ()))):
            if before is not None and entry.seq >= before:
                continue
            if dialect is None or entry.dialect == dialect:
                yield entry
