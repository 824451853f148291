"""Send slots in a user's local time, quiet hours, and when a slot happens in a window.

A slot is a waking day-part of a weekday in the user's own time zone: 5 day-parts x
7 days = 35 slots, named like ``mon-morning``. The timing agent learns, per user, which
slots get their messages opened; the orchestrator then picks a moment inside the chosen
slot's occurrence in the campaign's send window. Quiet hours are cut out of every slot
occurrence, so a message is never scheduled inside them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# (name, first hour, end hour) in local time: waking hours only.
DAYPARTS = (
    ("morning", 8, 11),
    ("midday", 11, 14),
    ("afternoon", 14, 17),
    ("evening", 17, 20),
    ("night", 20, 23),
)
SLOT_DIMENSION_DAY = "send_day"
SLOT_DIMENSION_DAYPART = "send_daypart"


@dataclass(frozen=True, slots=True)
class Slot:
    day: int  # 0 = Monday
    part: str
    start_hour: int
    end_hour: int

    @property
    def name(self) -> str:
        return f"{DAYS[self.day]}-{self.part}"

    @property
    def labels(self) -> dict[str, str]:
        """What the agent learns about: the day and the day-part, pooled across slots."""
        return {SLOT_DIMENSION_DAY: DAYS[self.day], SLOT_DIMENSION_DAYPART: self.part}


SLOTS = tuple(Slot(day, part, start, end) for day in range(7) for part, start, end in DAYPARTS)
SLOT_BY_NAME = {slot.name: slot for slot in SLOTS}


@lru_cache(maxsize=1024)
def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The time zone by IANA name; unknown or missing names fall back to ``default``."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def known_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def slot_of(timestamp: float, tz: ZoneInfo) -> str | None:
    """The slot a moment falls in, in that time zone; None outside waking hours."""
    local = datetime.fromtimestamp(timestamp, tz)
    for part, start, end in DAYPARTS:
        if start <= local.hour < end:
            return f"{DAYS[local.weekday()]}-{part}"
    return None


@dataclass(frozen=True, slots=True)
class Quiet:
    """Quiet hours as minutes after local midnight; ``start > end`` spans midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, start: str, end: str) -> Quiet:
        def minutes(value: str) -> int:
            hours, mins = value.split(":")
            return int(hours) * 60 + int(mins)

        return cls(minutes(start), minutes(end))

    def contains(self, minute: int) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def is_quiet(self, timestamp: float, tz: ZoneInfo) -> bool:
        local = datetime.fromtimestamp(timestamp, tz)
        return self.contains(local.hour * 60 + local.minute)

    def next_allowed(self, timestamp: float, tz: ZoneInfo) -> float:
        """The first moment at or after ``timestamp`` outside quiet hours."""
        if not self.is_quiet(timestamp, tz):
            return timestamp
        local = datetime.fromtimestamp(timestamp, tz)
        end = local.replace(hour=self.end // 60, minute=self.end % 60, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        # Wall-clock arithmetic in the zone, then back to an instant (DST-safe enough:
        # a nonexistent local time resolves forward by fold=0).
        return end.timestamp()


Interval = tuple[float, float]


def _minus_quiet(start: float, end: float, quiet: Quiet | None, tz: ZoneInfo) -> list[Interval]:
    """[start, end) with quiet minutes removed (at minute resolution)."""
    if quiet is None:
        return [(start, end)]
    pieces: list[Interval] = []
    cursor = start
    while cursor < end:
        allowed = quiet.next_allowed(cursor, tz)
        if allowed >= end:
            break
        # Walk to the next quiet minute (at most a day away).
        probe = allowed
        step = 60.0
        while probe < end and not quiet.is_quiet(probe, tz):
            probe += step
        stop = min(probe, end)
        if stop > allowed:
            pieces.append((allowed, stop))
        cursor = stop
    return pieces


def occurrences(
    window_start: float, window_end: float, tz: ZoneInfo, quiet: Quiet | None
) -> dict[str, list[Interval]]:
    """For every slot that happens inside the window (in ``tz``), the instants it covers,
    quiet hours removed. Slots cut off entirely by quiet hours or the window are absent."""
    found: dict[str, list[Interval]] = {}
    local = datetime.fromtimestamp(window_start, tz).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    while local.timestamp() < window_end:
        for part, first, last in DAYPARTS:
            begin = local.replace(hour=first).timestamp()
            finish = local.replace(hour=last).timestamp()
            begin, finish = max(begin, window_start), min(finish, window_end)
            if begin >= finish:
                continue
            pieces = _minus_quiet(begin, finish, quiet, tz)
            if pieces:
                found.setdefault(f"{DAYS[local.weekday()]}-{part}", []).extend(pieces)
        local = (local + timedelta(days=1)).replace(hour=0)
    return found


def moment_in(intervals: list[Interval], rng: random.Random) -> float:
    """A uniformly random instant inside the intervals."""
    total = sum(end - start for start, end in intervals)
    point = rng.random() * total
    for start, end in intervals:
        if point < end - start:
            return start + point
        point -= end - start
    return intervals[-1][1] - 1.0
