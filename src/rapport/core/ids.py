"""Identifiers: time-ordered UUIDs (v7) so keyset pagination follows creation order."""

from __future__ import annotations

import os
import secrets
import time

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def uuid7() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then random bits (RFC 9562).

    Formatted by hand: ``uuid.UUID`` validates and copies more than a fresh value needs,
    and decisions make one per surface on the hot paths."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))  # 80 bits, of which 74 are used
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def short_id(length: int = 12) -> str:
    """A random lowercase base32 id, safe in URLs and key strings."""
    return "".join(secrets.choice(_BASE32) for _ in range(length))
