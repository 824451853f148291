"""SQL for providers, and for the devices a provider's answers retire."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rapport.core.pagination import Page, PageRequest
from rapport.core.sql import page_by_id
from rapport.core.tables import devices, identities, providers


def insert_provider(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(providers), [dict(row)])


def get_provider(conn: Connection, workspace_id: str, provider_id: str) -> Any:
    return conn.execute(
        select(providers).where(
            providers.c.workspace_id == workspace_id, providers.c.id == provider_id
        )
    ).first()


def list_providers(conn: Connection, workspace_id: str, page: PageRequest) -> Page[Any]:
    return page_by_id(conn, providers, workspace_id, page)


def update_provider(
    conn: Connection, workspace_id: str, provider_id: str, values: Mapping[str, Any]
) -> None:
    conn.execute(
        update(providers)
        .where(providers.c.workspace_id == workspace_id, providers.c.id == provider_id)
        .values(**values)
    )


def delete_provider(conn: Connection, workspace_id: str, provider_id: str) -> None:
    conn.execute(
        delete(providers).where(
            providers.c.workspace_id == workspace_id, providers.c.id == provider_id
        )
    )


def retire_token(
    conn: Connection, workspace_id: str, *, device_id: str | None = None, token: str | None = None
) -> int:
    """Mark a device token the provider called invalid as retired; the rows changed.

    By device id when known, else every device of the workspace carrying ``token``
    (one token may have been reported under several device ids). A device that
    registers again (a new token, or the same one re-sent) is live again.
    """
    if device_id is None and token is None:
        return 0
    query = update(devices).where(devices.c.workspace_id == workspace_id)
    if device_id is not None:
        query = query.where(devices.c.device_id == device_id)
    if token is not None:
        query = query.where(devices.c.token == token)
    return int(conn.execute(query.values(token_retired=True)).rowcount or 0)


def get_device(conn: Connection, workspace_id: str, device_id: str) -> Any:
    return conn.execute(
        select(devices).where(
            devices.c.workspace_id == workspace_id, devices.c.device_id == device_id
        )
    ).first()


def latest_live_device(conn: Connection, workspace_id: str, profile_id: str) -> Any:
    """The profile's most recently updated device whose token is not retired."""
    return conn.execute(
        select(devices)
        .where(
            devices.c.workspace_id == workspace_id,
            devices.c.profile_id == profile_id,
            devices.c.token.is_not(None),
            devices.c.token_retired.is_(False),
        )
        .order_by(devices.c.updated_at.desc(), devices.c.device_id)
        .limit(1)
    ).first()


def profile_of_external_id(conn: Connection, workspace_id: str, external_id: str) -> str | None:
    row = conn.execute(
        select(identities.c.profile_id).where(
            identities.c.workspace_id == workspace_id,
            identities.c.kind == "external_id",
            identities.c.value == external_id,
        )
    ).first()
    return str(row[0]) if row is not None else None


def external_id_of(conn: Connection, workspace_id: str, profile_id: str) -> str | None:
    row = conn.execute(
        select(identities.c.value)
        .where(
            identities.c.workspace_id == workspace_id,
            identities.c.kind == "external_id",
            identities.c.profile_id == profile_id,
        )
        .order_by(identities.c.created_at.desc())
        .limit(1)
    ).first()
    return str(row[0]) if row is not None else None
