"""Activity figures as the Management API shows them."""

from __future__ import annotations

from datetime import datetime

import msgspec


class ActivityBucket(msgspec.Struct, kw_only=True):
    """One time bucket: events by event time; decisions made and how many converted."""

    start: datetime
    events: int
    decisions: int
    conversions: int
    conversion_rate: float | None


class Activity(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: list[ActivityBucket]


class Processing(msgspec.Struct, kw_only=True):
    """Messages acknowledged but not yet processed, and the age of the oldest."""

    backlog: int
    lag_seconds: float


class Summary(msgspec.Struct, kw_only=True):
    profiles: int
    processing: Processing
    # Rejected ingestion requests per dialect in the last hour, as seen by this process.
    ingestion_errors_last_hour: dict[str, int]


class IngestionErrorPublic(msgspec.Struct, kw_only=True):
    at: datetime
    dialect: str
    path: str
    status: int
    code: str
    message: str


class ArmPoint(msgspec.Struct, kw_only=True):
    """Cumulative decisions and conversions of one arm up to a point in time."""

    assignments: int
    conversions: int
    rate: float | None


class UpliftPoint(msgspec.Struct, kw_only=True):
    difference: float
    low: float
    high: float


class TrendPoint(msgspec.Struct, kw_only=True):
    end: datetime
    personalized: ArmPoint
    holdout: ArmPoint
    uplift: UpliftPoint | None


class ReportTrend(msgspec.Struct, kw_only=True):
    """Uplift of personalized traffic over the holdout, cumulative, bucket by bucket."""

    surface_id: str
    bucket_seconds: int
    points: list[TrendPoint]
