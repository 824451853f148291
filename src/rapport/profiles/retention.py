"""Event retention: each workspace keeps events for its ``retention_days``."""

from __future__ import annotations

import logging
import time

from rapport.core.db import Database
from rapport.profiles import storage
from rapport.workspaces import storage as workspace_storage

log = logging.getLogger("rapport.retention")

DAY = 86_400.0


def apply_retention(database: Database, now: float | None = None, chunk: int = 5000) -> int:
    """Delete events past their workspace's retention; the number deleted.

    Deletes in chunks, each its own transaction, so a large backlog never holds the
    database's write lock for long.
    """
    now = time.time() if now is None else now
    with database.read() as conn:
        workspaces = [
            workspace_storage.get_workspace(conn, workspace_id)
            for workspace_id in workspace_storage.workspace_ids(conn, limit=1_000_000)
        ]
    total = 0
    for workspace in workspaces:
        if workspace is None:
            continue
        cutoff = now - workspace.settings.retention_days * DAY
        while True:
            with database.begin() as conn:
                deleted = storage.delete_events_before(conn, workspace.id, cutoff, chunk)
            total += deleted
            if deleted < chunk:
                break
    if total:
        log.info("retention deleted events", extra={"events": total})
    return total
