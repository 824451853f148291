"""Event times from each dialect's conventions, as Unix epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime

# Epoch seconds pass 1e11 in the year 5138; epoch milliseconds passed it in 1973.
_MILLIS_THRESHOLD = 1e11


def from_epoch(value: float) -> float:
    """Seconds from a number that may be seconds (with decimals) or milliseconds."""
    return value / 1000.0 if abs(value) >= _MILLIS_THRESHOLD else float(value)


def parse_iso(value: str) -> float:
    """Seconds from an ISO 8601 timestamp; naive times are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def skew_corrected(timestamp: float, sent_at: float | None, received_at: float) -> float:
    """Segment's clock-skew correction: ``receivedAt - (sentAt - timestamp)``."""
    if sent_at is None:
        return timestamp
    return received_at - (sent_at - timestamp)
