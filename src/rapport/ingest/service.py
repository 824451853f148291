"""Ingestion operations that need more than the group commit."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from rapport.core.errors import Conflict
from rapport.ingest import messages as msg
from rapport.ingest import storage


def record_alias(
    conn: Connection, workspace_id: str, message: msg.Alias, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Queue an alias, refusing (409, nothing stored) an anonymous id already aliased to
    another external id. Repeating the same alias is accepted."""
    owner = storage.claim_alias(
        conn, workspace_id, message.anonymous_id, message.external_id, time.time()
    )
    if owner != message.external_id:
        raise Conflict(
            f"anonymous_id {message.anonymous_id!r} is already aliased to another external_id",
            code="alias_conflict",
        )
    storage.write_inbox(conn, rows)
