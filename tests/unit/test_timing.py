"""Send slots, quiet hours and slot occurrences, across time zones."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from rapport.messaging.timing import SLOTS, Quiet, moment_in, occurrences, slot_of, zone

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
QUIET = Quiet.parse("21:00", "08:00")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_there_are_35_waking_slots() -> None:
    assert len(SLOTS) == 35
    assert len({slot.name for slot in SLOTS}) == 35
    assert all(8 <= slot.start_hour < slot.end_hour <= 23 for slot in SLOTS)


def test_slot_of_reads_local_time() -> None:
    # 2026-11-25 (a Wednesday) 12:30 UTC is 21:30 in Tokyo and 07:30 in New York.
    moment = at("2026-11-25T12:30:00")
    assert slot_of(moment, TOKYO) == "wed-night"
    assert slot_of(moment, NEW_YORK) is None
    assert slot_of(at("2026-11-25T22:00:00"), NEW_YORK) == "wed-evening"


@pytest.mark.parametrize("tz", [TOKYO, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")])
def test_quiet_hours_are_the_users_own(tz: ZoneInfo) -> None:
    for hour in range(24):
        moment = at(f"2026-11-25T{hour:02d}:15:00")
        local = datetime.fromtimestamp(moment, tz)
        assert QUIET.is_quiet(moment, tz) == (local.hour >= 21 or local.hour < 8)
        allowed = QUIET.next_allowed(moment, tz)
        assert not QUIET.is_quiet(allowed, tz)
        assert allowed >= moment
        if QUIET.is_quiet(moment, tz):
            assert datetime.fromtimestamp(allowed, tz).strftime("%H:%M") == "08:00"


def test_quiet_hours_within_a_day_and_empty() -> None:
    lunch = Quiet.parse("12:00", "13:00")
    utc = ZoneInfo("UTC")
    assert lunch.is_quiet(at("2026-11-25T12:30:00"), utc)
    assert not lunch.is_quiet(at("2026-11-25T13:00:00"), utc)
    assert not Quiet.parse("10:00", "10:00").is_quiet(at("2026-11-25T10:00:00"), utc)


def test_occurrences_cover_the_window_minus_quiet_hours() -> None:
    start = at("2026-11-23T00:00:00")  # a Monday
    week = occurrences(start, start + 7 * 86400, TOKYO, QUIET)
    # The night slot (20-23) keeps only 20:00-21:00 under quiet hours from 21:00.
    assert set(week) == {slot.name for slot in SLOTS}
    for name, pieces in week.items():
        for begin, end in pieces:
            assert begin < end
            assert slot_of(begin, TOKYO) == name
            assert not QUIET.is_quiet(begin, TOKYO)
            assert not QUIET.is_quiet(end - 1, TOKYO)
    night = sum(end - begin for begin, end in week["mon-night"])
    assert night == pytest.approx(3600)
    # A two-day window only holds the slots of those two local days.
    short = occurrences(start, start + 2 * 86400, ZoneInfo("UTC"), None)
    assert {name.split("-")[0] for name in short} == {"mon", "tue"}


def test_occurrences_with_quiet_hours_covering_the_day_are_empty() -> None:
    start = at("2026-11-23T00:00:00")
    always = Quiet.parse("00:00", "23:59")
    assert occurrences(start, start + 86400, ZoneInfo("UTC"), always) == {}


def test_moment_in_stays_inside() -> None:
    rng = random.Random(1)
    pieces = [(100.0, 110.0), (200.0, 205.0)]
    for _ in range(200):
        value = moment_in(pieces, rng)
        assert 100 <= value < 110 or 200 <= value < 205


def test_unknown_zones_fall_back() -> None:
    assert zone("Not/AZone").key == "UTC"
    assert zone(None, "Europe/Paris").key == "Europe/Paris"
