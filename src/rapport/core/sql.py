"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from rapport.core.pagination import Page, PageRequest, build_page


def insert_ignoring_duplicates(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert ``rows``, silently skipping any whose key already exists; return rows added."""
    if not rows:
        return 0
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing()
    result = conn.execute(statement, list(rows))
    return max(result.rowcount, 0)


def page_by_id(
    conn: Connection, table: Table, workspace_id: str, request: PageRequest
) -> Page[Any]:
    """A page of a workspace's rows of ``table`` in id order (UUIDv7: creation order),
    continuing after the request's cursor, with the total when asked."""
    query = select(table).where(table.c.workspace_id == workspace_id)
    if isinstance(request.after, str):
        query = query.where(table.c.id > request.after)
    rows = list(conn.execute(query.order_by(table.c.id).limit(request.limit + 1)))
    total = None
    if request.with_total:
        total = int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
            ).scalar_one()
        )
    return build_page(rows, request, key=_row_id, total=total)


def _row_id(row: Any) -> Any:
    return row.id


def driver_sql(conn: Connection, statement: str) -> str:
    """A ``?``-style statement in the driver's parameter style (psycopg uses ``%s``),
    for hot statements run on plain tuples."""
    return statement if conn.dialect.name == "sqlite" else pyformat(statement)


@lru_cache(maxsize=512)
def pyformat(statement: str) -> str:
    """A ``?`` statement with psycopg's ``%s`` placeholders."""
    return statement.replace("?", "%s")
