"""Verifying presented API keys, with a short per-process cache.

The hot paths authenticate every request; a database read for each would cost more
than the work itself. Verified keys are trusted for ``cache_seconds``; rotation and
revocation through this process evict at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from rapport.core import keys as keyfmt
from rapport.core.clock import utcnow
from rapport.core.db import Database
from rapport.core.errors import Forbidden, Unauthorized, WrongRegion
from rapport.core.keys import KeyKind
from rapport.workspaces import storage

# last_used_at is informational: writing it on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a verified key of one kind in one workspace."""

    workspace_id: str
    key_id: str
    kind: KeyKind


@dataclass(frozen=True, slots=True)
class _Entry:
    secret_hash: str
    workspace_id: str
    kind: KeyKind
    region: str
    active: bool
    rotated_at: datetime | None
    fetched: float


class KeyAuthenticator:
    """Checks keys for kind, validity and the workspace's home region."""

    def __init__(self, database: Database, region: str, cache_seconds: float) -> None:
        self.database = database
        self.region = region
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Entry] = {}

    def forget(self, key_id: str) -> None:
        """Drop a key from the cache (after rotation or revocation)."""
        self._cache.pop(key_id, None)

    async def authenticate(self, presented: str | None, kinds: frozenset[KeyKind]) -> Principal:
        """The principal behind ``presented``; 401, 403 or 421 otherwise."""
        if not presented:
            raise Unauthorized("An API key is required")
        parsed = keyfmt.parse_key(presented.strip())
        if parsed is None:
            raise Unauthorized("The API key is not valid")
        entry = self._cache.get(parsed.key_id)
        if entry is None or time.monotonic() - entry.fetched > self.cache_seconds:
            entry = await self.database.run(self._load, parsed.key_id)
        if (
            entry is None
            or not entry.active
            or entry.kind is not parsed.kind
            or not keyfmt.secret_matches(parsed.key_id, parsed.secret, entry.secret_hash)
        ):
            raise Unauthorized("The API key is not valid")
        if entry.kind not in kinds:
            allowed = ", ".join(sorted(kind.value for kind in kinds))
            raise Forbidden(
                f"A {entry.kind.value} key cannot be used here; use a key of kind {allowed}",
                code="wrong_key_kind",
            )
        self.check_region(entry.workspace_id, entry.region)
        return Principal(workspace_id=entry.workspace_id, key_id=parsed.key_id, kind=entry.kind)

    async def still_valid(self, key_id: str, issued_at: datetime) -> bool:
        """Whether a token issued at ``issued_at`` by ``key_id`` still stands: access
        tokens die with their admin key's revocation or rotation."""
        entry = self._cache.get(key_id)
        if entry is None or time.monotonic() - entry.fetched > self.cache_seconds:
            entry = await self.database.run(self._load, key_id)
        if entry is None or not entry.active or entry.kind is not KeyKind.ADMIN:
            return False
        return entry.rotated_at is None or entry.rotated_at <= issued_at

    def check_region(self, workspace_id: str, region: str) -> None:
        """421 for a workspace homed in another region."""
        if region != self.region:
            raise WrongRegion(
                f"Workspace {workspace_id!r} is served in region {region!r}, "
                f"not in {self.region!r}; send its requests to that region",
                extra={"region": region},
            )

    def _load(self, conn: Connection, key_id: str) -> _Entry | None:
        found = storage.get_key_with_region(conn, key_id)
        if found is None:
            self._cache.pop(key_id, None)
            return None
        row, region = found
        now = utcnow()
        if row.revoked_at is None and (
            row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION
        ):
            storage.touch_key(conn, key_id, now)
        entry = _Entry(
            secret_hash=row.secret_hash,
            workspace_id=row.workspace_id,
            kind=row.kind,
            region=region,
            active=row.revoked_at is None,
            rotated_at=row.rotated_at,
            fetched=time.monotonic(),
        )
        self._cache[key_id] = entry
        return entry
