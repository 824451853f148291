"""Workspace and key services against the real databases."""

import pytest

from rapport.core import keys as keyfmt
from rapport.core.db import Database
from rapport.core.errors import Conflict, NotFound
from rapport.core.keys import KeyKind
from rapport.core.pagination import PageRequest, decode_cursor
from rapport.workspaces import service, storage
from rapport.workspaces.schemas import (
    EventCategoryRule,
    WorkspaceSettingsUpdate,
    WorkspaceUpdate,
)
from tests.conftest import Workspace


def test_workspace_ids_are_unique(db: Database, workspace: Workspace) -> None:
    with pytest.raises(Conflict), db.begin() as conn:
        service.create_workspace(conn, workspace.id, "again", "us-east1")


def test_partial_update_keeps_what_is_not_sent(db: Database, workspace: Workspace) -> None:
    with db.begin() as conn:
        before = service.get_workspace(conn, workspace.id)
        after = service.update_workspace(
            conn,
            workspace.id,
            WorkspaceUpdate(settings=WorkspaceSettingsUpdate(retention_days=30)),
        )
    assert after.settings.retention_days == 30
    assert after.name == before.name
    assert after.settings.event_categories == before.settings.event_categories
    assert after.updated_at >= before.updated_at

    rules = [EventCategoryRule("signup", "conversion", 2.0)]
    with db.begin() as conn:
        renamed = service.update_workspace(
            conn,
            workspace.id,
            WorkspaceUpdate(
                name="Renamed", settings=WorkspaceSettingsUpdate(event_categories=rules)
            ),
        )
    assert renamed.name == "Renamed"
    assert renamed.settings.event_categories == rules
    assert renamed.settings.retention_days == 30


def test_only_a_hash_of_the_secret_is_stored(db: Database) -> None:
    workspace_id = "hash-check-" + keyfmt.new_key_id()
    with db.begin() as conn:
        service.create_workspace(conn, workspace_id, "x", "us-east1")
        created = service.create_key(conn, workspace_id, KeyKind.INGEST, "ci")
        row = storage.get_key(conn, created.id)
    parsed = keyfmt.parse_key(created.key)
    assert row is not None
    assert parsed is not None
    assert parsed.secret not in row.secret_hash
    assert row.secret_hash == keyfmt.hash_secret(created.id, parsed.secret)


def test_rotation_changes_the_secret_but_not_the_id(db: Database, workspace: Workspace) -> None:
    key_id = workspace.key_id(KeyKind.INGEST)
    with db.begin() as conn:
        rotated = service.rotate_key(conn, workspace.id, key_id)
    assert rotated.id == key_id
    assert rotated.key != workspace.keys[KeyKind.INGEST]
    assert rotated.rotated_at is not None


def test_a_revoked_key_cannot_be_rotated(db: Database, workspace: Workspace) -> None:
    key_id = workspace.key_id(KeyKind.SURFACES)
    with db.begin() as conn:
        revoked = service.revoke_key(conn, workspace.id, key_id)
        assert revoked.status == "revoked"
        again = service.revoke_key(conn, workspace.id, key_id)
        assert again.revoked_at == revoked.revoked_at
    with pytest.raises(Conflict), db.begin() as conn:
        service.rotate_key(conn, workspace.id, key_id)


def test_keys_of_another_workspace_are_not_found(
    db: Database, workspace: Workspace, workspace_factory
) -> None:
    other = workspace_factory()
    with pytest.raises(NotFound), db.begin() as conn:
        service.rotate_key(conn, workspace.id, other.key_id(KeyKind.ADMIN))
    with pytest.raises(NotFound), db.begin() as conn:
        service.revoke_key(conn, workspace.id, other.key_id(KeyKind.ADMIN))


def test_listing_walks_every_key_once_in_creation_order(db: Database, workspace: Workspace) -> None:
    with db.begin() as conn:
        for n in range(45):
            service.create_key(conn, workspace.id, KeyKind.INGEST, f"k{n}")
    seen: list[str] = []
    page = PageRequest(limit=20, with_total=True)
    while True:
        with db.begin() as conn:
            listed = service.list_keys(conn, workspace.id, page)
        assert listed.total == 50
        seen.extend(key.id for key in listed.data)
        if listed.next_token is None:
            break
        page = PageRequest(limit=20, after=decode_cursor(listed.next_token), with_total=True)
    assert len(seen) == 50
    assert len(set(seen)) == 50
    assert set(workspace.keys[k][3:15] for k in KeyKind) <= set(seen)
