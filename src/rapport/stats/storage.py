"""SQL for the workspace's activity figures: counts per time bucket over indexed ranges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, cast, func, select

from rapport.core.tables import assignments, events, experiences, inbox, profiles, surfaces


def _bucket(conn: Connection, column: Any, seconds: int) -> Any:
    """The bucket number of a Unix-time column (PostgreSQL's cast rounds, so floor)."""
    if conn.dialect.name == "postgresql":
        return cast(func.floor(column / seconds), Integer)
    return cast(column / seconds, Integer)


def events_per_bucket(
    conn: Connection, workspace_id: str, start: float, end: float, seconds: int
) -> dict[int, int]:
    """Events by event time, from the ``(workspace_id, occurred_at)`` index alone."""
    bucket = _bucket(conn, events.c.occurred_at, seconds)
    rows = conn.execute(
        select(bucket, func.count())
        .where(
            events.c.workspace_id == workspace_id,
            events.c.occurred_at >= start,
            events.c.occurred_at < end,
        )
        .group_by(bucket)
    )
    return {int(b): int(n) for b, n in rows}


def decision_ids(conn: Connection, workspace_id: str) -> list[str]:
    """Ids that assignments are filed under: surfaces and experiences."""
    found = conn.execute(select(surfaces.c.id).where(surfaces.c.workspace_id == workspace_id))
    keyed = conn.execute(select(experiences.c.id).where(experiences.c.workspace_id == workspace_id))
    return [row[0] for row in found] + [row[0] for row in keyed]


def decisions_per_bucket(
    conn: Connection,
    workspace_id: str,
    surface_ids: Sequence[str],
    start: float,
    end: float,
    seconds: int,
) -> dict[int, tuple[int, int]]:
    """Decisions made per bucket and how many of them converted since.

    Filtering on the surface ids lets the ``(workspace_id, surface_id, created_at)``
    index serve the time range.
    """
    if not surface_ids:
        return {}
    bucket = _bucket(conn, assignments.c.created_at, seconds)
    rows = conn.execute(
        select(bucket, func.count(), func.count(assignments.c.converted_at))
        .where(
            assignments.c.workspace_id == workspace_id,
            assignments.c.surface_id.in_(list(surface_ids)),
            assignments.c.created_at >= start,
            assignments.c.created_at < end,
        )
        .group_by(bucket)
    )
    return {int(b): (int(n), int(c)) for b, n, c in rows}


def surface_decisions_per_bucket(
    conn: Connection, workspace_id: str, surface_id: str, start: float, end: float, seconds: int
) -> list[tuple[int, str, int, int]]:
    """``(bucket, policy, decisions, conversions)`` of one surface or experience."""
    bucket = _bucket(conn, assignments.c.created_at, seconds)
    rows = conn.execute(
        select(bucket, assignments.c.policy, func.count(), func.count(assignments.c.converted_at))
        .where(
            assignments.c.workspace_id == workspace_id,
            assignments.c.surface_id == surface_id,
            assignments.c.created_at >= start,
            assignments.c.created_at < end,
        )
        .group_by(bucket, assignments.c.policy)
    )
    return [(int(b), str(p), int(n), int(c)) for b, p, n, c in rows]


def surface_totals_before(
    conn: Connection, workspace_id: str, surface_id: str, before: float
) -> dict[str, tuple[int, int]]:
    """Per policy, decisions and conversions before ``before`` (the trend's start)."""
    rows = conn.execute(
        select(assignments.c.policy, func.count(), func.count(assignments.c.converted_at))
        .where(
            assignments.c.workspace_id == workspace_id,
            assignments.c.surface_id == surface_id,
            assignments.c.created_at < before,
        )
        .group_by(assignments.c.policy)
    )
    return {str(p): (int(n), int(c)) for p, n, c in rows}


def profile_count(conn: Connection, workspace_id: str) -> int:
    query = (
        select(func.count()).select_from(profiles).where(profiles.c.workspace_id == workspace_id)
    )
    return int(conn.execute(query).scalar_one())


def inbox_state(conn: Connection, workspace_id: str) -> tuple[int, float | None]:
    """The workspace's unprocessed messages and the oldest one's acknowledgement time."""
    count, oldest = conn.execute(
        select(func.count(), func.min(inbox.c.received_at)).where(
            inbox.c.workspace_id == workspace_id
        )
    ).one()
    return int(count), None if oldest is None else float(oldest)
