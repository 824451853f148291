"""SQL for workspaces and API keys. The only module here that speaks SQLAlchemy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, func, insert, select, tuple_, update

from rapport.core.keys import KeyKind
from rapport.core.pagination import PageRequest
from rapport.core.sql import insert_ignoring_duplicates
from rapport.core.tables import api_keys, server_secrets, workspaces
from rapport.workspaces.schemas import WorkspaceSettings


@dataclass(frozen=True, slots=True)
class WorkspaceRow:
    id: str
    name: str
    region: str
    settings: WorkspaceSettings
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRow:
    id: str
    workspace_id: str
    kind: KeyKind
    name: str
    secret_hash: str
    created_at: datetime
    rotated_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _workspace(row: Any) -> WorkspaceRow:
    return WorkspaceRow(
        id=row.id,
        name=row.name,
        region=row.region,
        settings=msgspec.convert(row.settings, WorkspaceSettings),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _key(row: Any) -> KeyRow:
    return KeyRow(
        id=row.id,
        workspace_id=row.workspace_id,
        kind=KeyKind(row.kind),
        name=row.name,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def insert_workspace(conn: Connection, row: WorkspaceRow) -> None:
    conn.execute(
        insert(workspaces).values(
            id=row.id,
            name=row.name,
            region=row.region,
            settings=msgspec.to_builtins(row.settings),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
    )


def get_workspace(conn: Connection, workspace_id: str) -> WorkspaceRow | None:
    row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).first()
    return None if row is None else _workspace(row)


def workspace_ids(conn: Connection, limit: int) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(select(workspaces.c.id).order_by(workspaces.c.id).limit(limit))
    ]


def count_workspaces(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(workspaces)).scalar_one())


def update_workspace(
    conn: Connection, workspace_id: str, name: str, settings: WorkspaceSettings, now: datetime
) -> None:
    conn.execute(
        update(workspaces)
        .where(workspaces.c.id == workspace_id)
        .values(name=name, settings=msgspec.to_builtins(settings), updated_at=now)
    )


def insert_key(conn: Connection, row: KeyRow) -> None:
    conn.execute(
        insert(api_keys).values(
            id=row.id,
            workspace_id=row.workspace_id,
            kind=row.kind.value,
            name=row.name,
            secret_hash=row.secret_hash,
            created_at=row.created_at,
        )
    )


def get_key(conn: Connection, key_id: str, workspace_id: str | None = None) -> KeyRow | None:
    query = select(api_keys).where(api_keys.c.id == key_id)
    if workspace_id is not None:
        query = query.where(api_keys.c.workspace_id == workspace_id)
    row = conn.execute(query).first()
    return None if row is None else _key(row)


def get_key_with_region(conn: Connection, key_id: str) -> tuple[KeyRow, str] | None:
    """A key and its workspace's home region, in one read (the authentication path)."""
    row = conn.execute(
        select(api_keys, workspaces.c.region)
        .join(workspaces, workspaces.c.id == api_keys.c.workspace_id)
        .where(api_keys.c.id == key_id)
    ).first()
    return None if row is None else (_key(row), row.region)


def list_keys(
    conn: Connection, workspace_id: str, page: PageRequest, after: tuple[datetime, str] | None
) -> tuple[list[KeyRow], int | None]:
    """Keys in creation order after ``after`` (created at, id), ``limit + 1`` of them so
    the caller knows if more follow."""
    order = (api_keys.c.created_at, api_keys.c.id)
    query = select(api_keys).where(api_keys.c.workspace_id == workspace_id)
    if after is not None:
        query = query.where(tuple_(*order) > tuple_(*after))
    rows = [_key(r) for r in conn.execute(query.order_by(*order).limit(page.limit + 1))]
    total = None
    if page.with_total:
        total = int(
            conn.execute(
                select(func.count())
                .select_from(api_keys)
                .where(api_keys.c.workspace_id == workspace_id)
            ).scalar_one()
        )
    return rows, total


def set_key_secret(conn: Connection, key_id: str, secret_hash: str, now: datetime) -> None:
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(secret_hash=secret_hash, rotated_at=now)
    )


def revoke_key(conn: Connection, key_id: str, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))


def touch_key(conn: Connection, key_id: str, now: datetime) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def get_secret(conn: Connection, name: str) -> str | None:
    value = conn.execute(
        select(server_secrets.c.value).where(server_secrets.c.name == name)
    ).scalar_one_or_none()
    return None if value is None else str(value)


def insert_secret_if_absent(conn: Connection, name: str, value: str, now: datetime) -> str:
    """Store ``value`` unless another process stored one first; return the one kept."""
    insert_ignoring_duplicates(
        conn, server_secrets, [{"name": name, "value": value, "created_at": now}]
    )
    kept = get_secret(conn, name)
    assert kept is not None
    return kept
