"""Workspace and API key operations. Functions of a connection, so the HTTP layer
(``await db.run(fn, ...)``) and the CLI (``with db.begin()``) share them."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

import msgspec
from msgspec import UNSET
from sqlalchemy import Connection

from rapport.core import keys as keyfmt
from rapport.core.clock import utcnow
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.keys import KeyKind
from rapport.core.pagination import Page, PageRequest, build_page
from rapport.workspaces import storage
from rapport.workspaces.schemas import (
    ApiKeyCreated,
    ApiKeyPublic,
    WorkspacePublic,
    WorkspaceSettings,
    WorkspaceUpdate,
)
from rapport.workspaces.storage import KeyRow, WorkspaceRow

TOKEN_SECRET_NAME = "access_token_signing"  # noqa: S105 (a row name, not a secret)


def _public_workspace(row: WorkspaceRow) -> WorkspacePublic:
    return WorkspacePublic(
        id=row.id,
        name=row.name,
        region=row.region,
        settings=row.settings,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def public_key(row: KeyRow) -> ApiKeyPublic:
    """A key row as the API shows it (never its hash)."""
    return ApiKeyPublic(
        id=row.id,
        kind=row.kind,
        name=row.name,
        prefix=keyfmt.display_prefix(row.kind, row.id),
        status="revoked" if row.revoked_at else "active",
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _created(row: KeyRow, key: str) -> ApiKeyCreated:
    shown = public_key(row)
    return ApiKeyCreated(**msgspec.structs.asdict(shown), key=key)


def create_workspace(
    conn: Connection, workspace_id: str, name: str, region: str
) -> WorkspacePublic:
    """A new workspace with default settings; 409 if the id is taken."""
    if storage.get_workspace(conn, workspace_id) is not None:
        raise Conflict(f"Workspace {workspace_id!r} already exists", code="workspace_exists")
    now = utcnow()
    row = WorkspaceRow(
        id=workspace_id,
        name=name,
        region=region,
        settings=WorkspaceSettings(),
        created_at=now,
        updated_at=now,
    )
    storage.insert_workspace(conn, row)
    return _public_workspace(row)


def get_workspace(conn: Connection, workspace_id: str) -> WorkspacePublic:
    row = storage.get_workspace(conn, workspace_id)
    if row is None:
        raise NotFound(f"Workspace {workspace_id!r} does not exist", code="workspace_not_found")
    return _public_workspace(row)


def update_workspace(
    conn: Connection, workspace_id: str, change: WorkspaceUpdate
) -> WorkspacePublic:
    """Apply a partial update: only the fields present in ``change`` move."""
    current = get_workspace(conn, workspace_id)
    name = current.name if change.name is UNSET else change.name
    settings = current.settings
    if change.settings is not UNSET:
        given = {
            field: value
            for field, value in msgspec.structs.asdict(change.settings).items()
            if value is not UNSET
        }
        settings = msgspec.structs.replace(settings, **given)
    storage.update_workspace(conn, workspace_id, name, settings, utcnow())
    return get_workspace(conn, workspace_id)


def create_key(conn: Connection, workspace_id: str, kind: KeyKind, name: str) -> ApiKeyCreated:
    """A new key; the returned ``key`` is the only time the secret is ever shown."""
    get_workspace(conn, workspace_id)
    key_id, secret = keyfmt.new_key_id(), keyfmt.new_secret()
    row = KeyRow(
        id=key_id,
        workspace_id=workspace_id,
        kind=kind,
        name=name,
        secret_hash=keyfmt.hash_secret(key_id, secret),
        created_at=utcnow(),
        rotated_at=None,
        last_used_at=None,
        revoked_at=None,
    )
    storage.insert_key(conn, row)
    return _created(row, keyfmt.format_key(kind, key_id, secret))


def _existing_key(conn: Connection, workspace_id: str, key_id: str) -> KeyRow:
    # Looked up within the workspace: another workspace's key is simply not found.
    row = storage.get_key(conn, key_id, workspace_id)
    if row is None:
        raise NotFound(f"API key {key_id!r} does not exist", code="api_key_not_found")
    return row


def rotate_key(conn: Connection, workspace_id: str, key_id: str) -> ApiKeyCreated:
    """Replace a key's secret; the old secret stops working at once."""
    row = _existing_key(conn, workspace_id, key_id)
    if row.revoked_at is not None:
        raise Conflict("A revoked key cannot be rotated", code="api_key_revoked")
    secret, now = keyfmt.new_secret(), utcnow()
    new_hash = keyfmt.hash_secret(key_id, secret)
    storage.set_key_secret(conn, key_id, new_hash, now)
    rotated = replace(row, secret_hash=new_hash, rotated_at=now)
    return _created(rotated, keyfmt.format_key(row.kind, key_id, secret))


def revoke_key(conn: Connection, workspace_id: str, key_id: str) -> ApiKeyPublic:
    """Revoke a key for good; revoking twice is harmless."""
    row = _existing_key(conn, workspace_id, key_id)
    if row.revoked_at is None:
        storage.revoke_key(conn, key_id, utcnow())
    return public_key(_existing_key(conn, workspace_id, key_id))


def _key_cursor(page: PageRequest) -> tuple[datetime, str] | None:
    """(created_at, key id) of the last key listed; a 422 for a token of another list."""
    after = page.after
    if after is None:
        return None
    if isinstance(after, list) and len(after) == 2 and all(isinstance(v, str) for v in after):
        try:
            return datetime.fromisoformat(after[0]), after[1]
        except ValueError:
            pass
    raise ValidationFailed.single(["query", "next_token"], "next_token is not valid")


def list_keys(conn: Connection, workspace_id: str, page: PageRequest) -> Page[ApiKeyPublic]:
    rows, total = storage.list_keys(conn, workspace_id, page, _key_cursor(page))
    built = build_page(rows, page, key=lambda r: [r.created_at.isoformat(), r.id], total=total)
    return Page(data=[public_key(r) for r in built.data], next_token=built.next_token, total=total)


def token_secret(conn: Connection, configured: str | None) -> str:
    """The secret that signs access tokens: configured, or generated once and shared."""
    if configured:
        return configured
    return storage.insert_secret_if_absent(
        conn, TOKEN_SECRET_NAME, secrets.token_urlsafe(48), utcnow()
    )
