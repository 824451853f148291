"""Verifying presented API keys, with a short per-process cache.

The hot paths authenticate every request; a database read for each would cost more
than the work itself. Verified keys are trusted for ``cache_seconds``; rotation and
revocation through this process evict at once.
"""

from __future__ import annotations

import asyncio
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
    needs_touch: bool


class KeyAuthenticator:
    """Checks keys for kind, validity and the workspace's home region."""

    def __init__(self, database: Database, region: str, cache_seconds: float) -> None:
        self.database = database
        self.region = region
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Entry] = {}
        # One database read per key at a time: when a cached key expires under load,
        # the requests that notice wait for a single refresh instead of each reading.
        self._loading: dict[str, asyncio.Future[_Entry | None]] = {}

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
        entry = self._cached(parsed.key_id)
        if entry is None:
            entry = await self._entry(parsed.key_id)
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
        entry = await self._entry(key_id)
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

    def _cached(self, key_id: str) -> _Entry | None:
        """The key's entry if this process holds it fresh (no await on the hot path)."""
        entry = self._cache.get(key_id)
        if entry is not None and time.monotonic() - entry.fetched <= self.cache_seconds:
            return entry
        return None

    async def _entry(self, key_id: str) -> _Entry | None:
        entry = self._cached(key_id)
        if entry is not None:
            return entry
        loading = self._loading.get(key_id)
        if loading is not None:
            return await asyncio.shield(loading)
        loading = asyncio.get_running_loop().create_future()
        self._loading[key_id] = loading
        try:
            entry = await self.database.run_read(self._load, key_id)
            if entry is not None and entry.needs_touch:
                await self.database.run(storage.touch_key, key_id, utcnow())
            loading.set_result(entry)
        except BaseException as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._loading[key_id]
        return entry

    def _load(self, conn: Connection, key_id: str) -> _Entry | None:
        found = storage.get_key_with_region(conn, key_id)
        if found is None:
            self._cache.pop(key_id, None)
            return None
        row, region = found
        entry = _Entry(
            secret_hash=row.secret_hash,
            workspace_id=row.workspace_id,
            kind=row.kind,
            region=region,
            active=row.revoked_at is None,
            rotated_at=row.rotated_at,
            fetched=time.monotonic(),
            needs_touch=row.revoked_at is None
            and (row.last_used_at is None or utcnow() - row.last_used_at > LAST_USED_RESOLUTION),
        )
        self._cache[key_id] = entry
        return entry
