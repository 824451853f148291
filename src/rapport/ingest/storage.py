"""SQL for the inbox (the durable queue between ingestion and processing) and aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select

from rapport.core.sql import insert_ignoring_duplicates
from rapport.core.tables import aliases, inbox


@dataclass(frozen=True, slots=True)
class InboxRow:
    seq: int
    workspace_id: str
    kind: str
    payload: bytes
    received_at: float


_INBOX_COLUMNS = ("workspace_id", "kind", "message_id", "payload", "received_at")
_INSERT_INBOX = {
    # NULL message ids never conflict (NULLs are distinct in a unique index), so one
    # statement serves messages with and without an idempotency key.
    "sqlite": "INSERT OR IGNORE INTO inbox (workspace_id, kind, message_id, payload, "
    "received_at) VALUES (?, ?, ?, ?, ?)",
    "postgresql": "INSERT INTO inbox (workspace_id, kind, message_id, payload, received_at) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
}


def write_inbox(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue messages; a message id already queued for the workspace is dropped.

    The hottest write of the system, so it goes to the driver as one prepared statement
    with plain tuples: SQLAlchemy's per-row parameter processing would cost more than
    SQLite's insert.
    """
    if not rows:
        return
    statement = _INSERT_INBOX[conn.dialect.name]
    conn.exec_driver_sql(
        statement, [tuple(row[column] for column in _INBOX_COLUMNS) for row in rows]
    )


def claim(conn: Connection, limit: int) -> list[InboxRow]:
    """The oldest queued messages, locked for this transaction.

    On PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets several workers take disjoint
    batches; on SQLite the transaction already holds the database's write lock.
    """
    query = select(inbox).order_by(inbox.c.seq).limit(limit)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [
        InboxRow(r.seq, r.workspace_id, r.kind, bytes(r.payload), r.received_at)
        for r in conn.execute(query)
    ]


def remove(conn: Connection, seqs: Sequence[int]) -> None:
    for start in range(0, len(seqs), 500):
        conn.execute(delete(inbox).where(inbox.c.seq.in_(seqs[start : start + 500])))


def oldest_received_at(conn: Connection) -> float | None:
    value = conn.execute(select(func.min(inbox.c.received_at))).scalar_one_or_none()
    return None if value is None else float(value)


def backlog(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())


def claim_alias(
    conn: Connection, workspace_id: str, anonymous_id: str, external_id: str, now: float
) -> str:
    """Record that ``anonymous_id`` belongs to ``external_id``; return the external id it
    belongs to (an earlier claim wins)."""
    insert_ignoring_duplicates(
        conn,
        aliases,
        [
            {
                "workspace_id": workspace_id,
                "anonymous_id": anonymous_id,
                "external_id": external_id,
                "created_at": now,
            }
        ],
    )
    owner = conn.execute(
        select(aliases.c.external_id).where(
            aliases.c.workspace_id == workspace_id, aliases.c.anonymous_id == anonymous_id
        )
    ).scalar_one()
    return str(owner)
