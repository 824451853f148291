"""SQL for audiences, and the profile pages their size preview walks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from rapport.core.pagination import Page, PageRequest
from rapport.core.sql import page_by_id
from rapport.core.tables import audiences, events, profiles


def insert_audience(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(audiences), [dict(row)])


def get_audience(conn: Connection, workspace_id: str, audience_id: str) -> Any:
    return conn.execute(
        select(audiences).where(
            audiences.c.workspace_id == workspace_id, audiences.c.id == audience_id
        )
    ).first()


def get_audiences(conn: Connection, workspace_id: str, ids: Sequence[str]) -> list[Any]:
    if not ids:
        return []
    return list(
        conn.execute(
            select(audiences).where(
                audiences.c.workspace_id == workspace_id, audiences.c.id.in_(list(ids))
            )
        )
    )


def list_audiences(conn: Connection, workspace_id: str, page: PageRequest) -> Page[Any]:
    return page_by_id(conn, audiences, workspace_id, page)


def update_audience(conn: Connection, audience_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(audiences).where(audiences.c.id == audience_id).values(**values))


def delete_audience(conn: Connection, audience_id: str) -> None:
    conn.execute(delete(audiences).where(audiences.c.id == audience_id))


def profile_page(conn: Connection, workspace_id: str, after: str | None, limit: int) -> list[Any]:
    """A page of profiles in id order: the preview streams, it never loads them all."""
    query = select(profiles).where(profiles.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(profiles.c.id > after)
    return list(conn.execute(query.order_by(profiles.c.id).limit(limit)))


def recent_event_counts(
    conn: Connection, workspace_id: str, profile_ids: Sequence[str], since: float
) -> dict[str, dict[str, int]]:
    """Events per profile and name since ``since`` (glob matching happens in Python, the
    same way on both databases)."""
    counts: dict[str, dict[str, int]] = {}
    if not profile_ids:
        return counts
    rows = conn.execute(
        select(events.c.profile_id, events.c.name, func.count())
        .where(
            events.c.workspace_id == workspace_id,
            events.c.profile_id.in_(list(profile_ids)),
            events.c.occurred_at >= since,
        )
        .group_by(events.c.profile_id, events.c.name)
    )
    for profile_id, name, n in rows:
        counts.setdefault(profile_id, {})[name] = int(n)
    return counts
