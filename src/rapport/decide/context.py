"""The context of a decision: the user's day part and device type.

Population preferences may differ by context (offers in the evening, short copy on
phones); each context value has its own population statistics, which the agents use
as the prior where they have evidence.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEVICE_TYPES = ("mobile", "tablet", "desktop")
_TABLET = re.compile(r"iPad|Tablet|PlayBook|Silk|Android(?!.*Mobile)", re.IGNORECASE)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry|Opera Mini", re.I)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def day_part(now: float, timezone: str | None) -> str:
    """``morning`` (5-11), ``afternoon`` (11-17), ``evening`` (17-22) or ``night``, in
    the user's local time (UTC when unknown)."""
    zone = _zone(timezone or "UTC") or _zone("UTC")
    hour = datetime.fromtimestamp(now, zone).hour
    if 5 <= hour < 11:
        return "morning"
    if 11 <= hour < 17:
        return "afternoon"
    if 17 <= hour < 22:
        return "evening"
    return "night"


@lru_cache(maxsize=4096)
def device_type(user_agent: str | None) -> str | None:
    """``mobile``, ``tablet`` or ``desktop`` from a User-Agent (None when absent).

    A coarse split is all the agents use; detailed parsing (OS, browser) belongs to the
    audiences' in-session attributes.
    """
    if not user_agent:
        return None
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"
