"""Identifiers: time-ordered UUIDs (v7) so keyset pagination follows creation order."""

from __future__ import annotations

import os
import secrets
import threading
import time

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


class _Entropy(threading.local):
    """Random bytes from the OS, fetched 4 KB at a time per thread: a ``getrandom``
    system call per id costs more than the rest of making it."""

    def __init__(self) -> None:
        self.buffer = b""
        self.offset = 0

    def bits80(self) -> int:
        if self.offset + 10 > len(self.buffer):
            self.buffer = os.urandom(4000)
            self.offset = 0
        start = self.offset
        self.offset = start + 10
        return int.from_bytes(self.buffer[start : start + 10])


_entropy = _Entropy()


def _reseed() -> None:
    # A forked child must not hand out the bytes its parent will hand out too.
    global _entropy
    _entropy = _Entropy()


os.register_at_fork(after_in_child=_reseed)


def uuid7() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then random bits (RFC 9562).

    Formatted by hand: ``uuid.UUID`` validates and copies more than a fresh value needs,
    and decisions make one per surface on the hot paths."""
    millis = time.time_ns() // 1_000_000
    rand = _entropy.bits80()  # 74 of the 80 bits are used
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
