"""Activity, summary and report trends: reads for the console's charts."""

from __future__ import annotations

import math
import time

from sqlalchemy import Connection

from rapport.core.clock import from_timestamp
from rapport.core.digits import is_ascii_number
from rapport.core.errors import ValidationFailed
from rapport.decide.engine import AGENT, HOLDOUT
from rapport.decide.model import Counts, uplift_interval
from rapport.stats import storage
from rapport.stats.errorlog import IngestionErrorLog
from rapport.stats.schemas import (
    Activity,
    ActivityBucket,
    ArmPoint,
    Processing,
    ReportTrend,
    Summary,
    TrendPoint,
    UpliftPoint,
)

MAX_BUCKETS = 1440
MAX_TREND_POINTS = 200  # each point with new data costs an uplift interval
_TREND_DRAWS = 1000  # per point: a trend has many points, each needs only a rough interval


def _integer(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    raw = values[-1]
    if not is_ascii_number(raw) or not low <= int(raw) <= high:
        raise ValidationFailed.single(
            ["query", name], f"{name} must be an integer from {low} to {high}", "value_error"
        )
    return int(raw)


def window(
    query: dict[str, list[str]],
    default_minutes: int,
    default_bucket: int,
    max_buckets: int = MAX_BUCKETS,
) -> tuple[int, int]:
    """Validated ``(minutes, bucket_seconds)`` with at most ``max_buckets`` buckets."""
    minutes = _integer(query, "minutes", default_minutes, 1, 90 * 1440)
    bucket = _integer(query, "bucket_seconds", default_bucket, 60, 86400)
    if math.ceil(minutes * 60 / bucket) > max_buckets:
        raise ValidationFailed.single(
            ["query", "bucket_seconds"],
            f"minutes * 60 / bucket_seconds must be at most {max_buckets}",
            "value_error",
        )
    return minutes, bucket


def _buckets(minutes: int, seconds: int, now: float) -> tuple[int, int]:
    """First and last bucket numbers; the last one holds ``now``."""
    last = int(now // seconds)
    return last - math.ceil(minutes * 60 / seconds) + 1, last


def activity(
    conn: Connection, workspace_id: str, minutes: int, seconds: int, now: float | None = None
) -> Activity:
    """Events, decisions and conversions per bucket over the last ``minutes``."""
    now = time.time() if now is None else now
    first, last = _buckets(minutes, seconds, now)
    start, end = first * seconds, (last + 1) * seconds
    per_event = storage.events_per_bucket(conn, workspace_id, start, end, seconds)
    ids = storage.decision_ids(conn, workspace_id)
    per_decision = storage.decisions_per_bucket(conn, workspace_id, ids, start, end, seconds)
    buckets = []
    for number in range(first, last + 1):
        decisions, conversions = per_decision.get(number, (0, 0))
        buckets.append(
            ActivityBucket(
                start=from_timestamp(number * seconds),
                events=per_event.get(number, 0),
                decisions=decisions,
                conversions=conversions,
                conversion_rate=conversions / decisions if decisions else None,
            )
        )
    return Activity(
        start=from_timestamp(start),
        end=from_timestamp(end),
        bucket_seconds=seconds,
        buckets=buckets,
    )


def summary(
    conn: Connection, workspace_id: str, errors: IngestionErrorLog, now: float | None = None
) -> Summary:
    """Profiles, processing backlog and lag, and recent ingestion errors per dialect."""
    now = time.time() if now is None else now
    backlog, oldest = storage.inbox_state(conn, workspace_id)
    return Summary(
        profiles=storage.profile_count(conn, workspace_id),
        processing=Processing(
            backlog=backlog, lag_seconds=0.0 if oldest is None else max(0.0, now - oldest)
        ),
        ingestion_errors_last_hour=errors.last_hour(workspace_id),
    )


def _arm(decisions: int, conversions: int) -> ArmPoint:
    return ArmPoint(
        assignments=decisions,
        conversions=conversions,
        rate=conversions / decisions if decisions else None,
    )


def report_trend(
    conn: Connection,
    workspace_id: str,
    surface_id: str,
    minutes: int,
    seconds: int,
    now: float | None = None,
) -> ReportTrend:
    """Cumulative personalized and holdout rates, and the uplift, at each bucket's end.

    The caller has checked that the surface or experience exists in the workspace.
    """
    now = time.time() if now is None else now
    first, last = _buckets(minutes, seconds, now)
    start, end = first * seconds, (last + 1) * seconds
    before = storage.surface_totals_before(conn, workspace_id, surface_id, start)
    totals = {policy: list(before.get(policy, (0, 0))) for policy in (AGENT, HOLDOUT)}
    per_bucket: dict[int, dict[str, tuple[int, int]]] = {}
    for number, policy, n, c in storage.surface_decisions_per_bucket(
        conn, workspace_id, surface_id, start, end, seconds
    ):
        per_bucket.setdefault(number, {})[policy] = (n, c)
    points = []
    uplift: UpliftPoint | None = None
    for number in range(first, last + 1):
        changed = False
        for policy, (n, c) in per_bucket.get(number, {}).items():
            if policy in totals:
                totals[policy][0] += n
                totals[policy][1] += c
                changed = True
        treated, control = totals[AGENT], totals[HOLDOUT]
        if (changed or number == first) and treated[0] and control[0]:
            difference, low, high = uplift_interval(
                Counts(treated[0], treated[1]), Counts(control[0], control[1]), draws=_TREND_DRAWS
            )
            uplift = UpliftPoint(difference=difference, low=low, high=high)
        points.append(
            TrendPoint(
                end=from_timestamp(min((number + 1) * seconds, now)),
                personalized=_arm(*treated),
                holdout=_arm(*control),
                uplift=uplift,
            )
        )
    return ReportTrend(surface_id=surface_id, bucket_seconds=seconds, points=points)
