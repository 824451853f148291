"""SQL for surfaces and their variants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from rapport.core.pagination import Page, PageRequest
from rapport.core.sql import page_by_id
from rapport.core.tables import surfaces, variants


def insert_surface(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(surfaces), [dict(row)])


def insert_variants(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(insert(variants), [dict(r) for r in rows])


def get_surface(conn: Connection, workspace_id: str, surface_id: str) -> Any:
    return conn.execute(
        select(surfaces).where(surfaces.c.workspace_id == workspace_id, surfaces.c.id == surface_id)
    ).first()


def get_surfaces(conn: Connection, workspace_id: str, surface_ids: Sequence[str]) -> list[Any]:
    return list(
        conn.execute(
            select(surfaces).where(
                surfaces.c.workspace_id == workspace_id, surfaces.c.id.in_(list(surface_ids))
            )
        )
    )


def active_surfaces(conn: Connection, workspace_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(surfaces).where(
                surfaces.c.workspace_id == workspace_id, surfaces.c.status == "active"
            )
        )
    )


def variants_of(conn: Connection, surface_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Variants by surface, in creation order."""
    found: dict[str, list[Any]] = {surface_id: [] for surface_id in surface_ids}
    if not surface_ids:
        return found
    rows = conn.execute(
        select(variants)
        .where(variants.c.surface_id.in_(list(surface_ids)))
        .order_by(variants.c.created_at, variants.c.id)
    )
    for row in rows:
        found[row.surface_id].append(row)
    return found


def list_surfaces(
    conn: Connection, workspace_id: str, page: PageRequest
) -> tuple[Page[Any], dict[str, int]]:
    """A page of surfaces by id (UUIDv7: creation order) and their variant counts."""
    found = page_by_id(conn, surfaces, workspace_id, page)
    counts: dict[str, int] = {}
    if found.data:
        counted = conn.execute(
            select(variants.c.surface_id, func.count())
            .where(variants.c.surface_id.in_([r.id for r in found.data]))
            .group_by(variants.c.surface_id)
        )
        counts = {surface_id: int(n) for surface_id, n in counted}
    return found, counts


def update_surface(conn: Connection, surface_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(surfaces).where(surfaces.c.id == surface_id).values(**values))


def delete_surface(conn: Connection, surface_id: str) -> None:
    conn.execute(delete(variants).where(variants.c.surface_id == surface_id))
    conn.execute(delete(surfaces).where(surfaces.c.id == surface_id))


def get_variant(conn: Connection, surface_id: str, variant_id: str) -> Any:
    return conn.execute(
        select(variants).where(variants.c.surface_id == surface_id, variants.c.id == variant_id)
    ).first()


def update_variant(conn: Connection, variant_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(variants).where(variants.c.id == variant_id).values(**values))


def delete_variant(conn: Connection, variant_id: str) -> None:
    conn.execute(delete(variants).where(variants.c.id == variant_id))


def all_surfaces(conn: Connection, workspace_id: str) -> list[Any]:
    return list(conn.execute(select(surfaces).where(surfaces.c.workspace_id == workspace_id)))
