"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


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


def upsert_adding(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    adding: Sequence[str],
    replacing: Sequence[str] = (),
) -> None:
    """Insert ``rows``; where the primary key exists, add the ``adding`` columns to the
    stored values and overwrite the ``replacing`` ones (counters, in one statement)."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    excluded = statement.excluded
    values = {name: table.c[name] + excluded[name] for name in adding}
    values.update({name: excluded[name] for name in replacing})
    keys = [column.name for column in table.primary_key.columns]
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=values), list(rows))
