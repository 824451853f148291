"""Identifiers: time-ordered UUIDs (v7) so keyset pagination follows creation order."""

from __future__ import annotations

import secrets
import time
import uuid

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def uuid7() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then random bits (RFC 9562)."""
    millis = time.time_ns() // 1_000_000
    rand = secrets.randbits(74)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def short_id(length: int = 12) -> str:
    """A random lowercase base32 id, safe in URLs and key strings."""
    return "".join(secrets.choice(_BASE32) for _ in range(length))
