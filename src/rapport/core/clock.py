"""One place that tells the time, so tests and benchmarks can move it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime as UTC (SQLite returns naive values)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_timestamp(value: float) -> datetime:
    """A stored Unix time as an aware UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


def from_timestamp_or_none(value: float | None) -> datetime | None:
    """:func:`from_timestamp`, keeping a missing time missing."""
    return None if value is None else datetime.fromtimestamp(value, UTC)
