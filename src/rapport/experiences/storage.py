"""SQL for experiences."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rapport.core.pagination import Page, PageRequest
from rapport.core.sql import page_by_id
from rapport.core.tables import experiences


def insert_experience(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(experiences), [dict(row)])


def get_by_key(conn: Connection, workspace_id: str, key: str) -> Any:
    return conn.execute(
        select(experiences).where(
            experiences.c.workspace_id == workspace_id, experiences.c.key == key
        )
    ).first()


def all_experiences(conn: Connection, workspace_id: str) -> list[Any]:
    return list(conn.execute(select(experiences).where(experiences.c.workspace_id == workspace_id)))


def list_experiences(conn: Connection, workspace_id: str, page: PageRequest) -> Page[Any]:
    return page_by_id(conn, experiences, workspace_id, page)


def update_experience(conn: Connection, experience_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(experiences).where(experiences.c.id == experience_id).values(**values))


def delete_experience(conn: Connection, experience_id: str) -> None:
    conn.execute(delete(experiences).where(experiences.c.id == experience_id))
