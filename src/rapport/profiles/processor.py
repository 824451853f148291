"""Processing: inbox messages become events, profiles, identities and devices.

A batch of queued messages is handled in one transaction: claim (locked), resolve
identities, merge, update profiles in memory, write everything, delete the claimed
messages, commit. A crash before the commit leaves the messages queued for the next
attempt; after it, they are gone and their effects stored: each message takes effect
exactly once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.core.db import Database
from rapport.core.ids import uuid7
from rapport.ingest import messages as msg
from rapport.ingest import storage as inbox
from rapport.profiles import identity as ident
from rapport.profiles import storage
from rapport.profiles.categories import Categorizer
from rapport.profiles.state import ProfileState
from rapport.workspaces import storage as workspace_storage
from rapport.workspaces.schemas import WorkspaceSettings

log = logging.getLogger("rapport.processing")

# Called inside the merge's transaction as hook(conn, workspace_id, merged_away, survivor),
# so that other domains (agents, assignments) move their per-profile state too.
MergeHook = Callable[[Connection, str, str, str], None]
# Called after events are written: hook(conn, workspace_id, event rows).
EventHook = Callable[[Connection, str, Sequence[dict[str, Any]]], None]
# Called with a batch's agent evidence: hook(conn, workspace_id, messages).
LearnHook = Callable[[Connection, str, Sequence[msg.Learn]], None]


@dataclass
class _Workspace:
    settings: WorkspaceSettings
    categorizer: Categorizer


class _Batch:
    """The work of one transaction, for one workspace's messages."""

    def __init__(
        self,
        conn: Connection,
        workspace_id: str,
        ws: _Workspace,
        now: float,
        hooks: Sequence[MergeHook],
    ) -> None:
        self.conn = conn
        self.workspace_id = workspace_id
        self.ws = ws
        self.now = now
        self.hooks = hooks
        self.owners: dict[tuple[str, str], str] = {}
        self.external_of: dict[str, str | None] = {}
        self.states: dict[str, ProfileState] = {}
        self.redirect: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self.seen_events: set[str] = set()
        self.suppressed: set[tuple[str, str]] = set()
        self.processed = 0
        self.dropped = 0

    # -- identities ---------------------------------------------------------------
    def _keys(
        self,
        external_id: str | None,
        anonymous_id: str | None,
        email: str | None,
        phone: str | None,
    ) -> list[tuple[str, str]]:
        keys: list[tuple[str, str]] = []
        if external_id:
            keys.append((ident.EXTERNAL, external_id))
        if anonymous_id:
            keys.append((ident.ANONYMOUS, anonymous_id))
        settings = self.ws.settings
        if email and settings.resolve_by_email:
            keys.append((ident.EMAIL, self._pii_identity(ident.normalize_email(email))))
        if phone and settings.resolve_by_phone:
            keys.append((ident.PHONE, self._pii_identity(ident.normalize_phone(phone))))
        return keys

    def _pii_identity(self, value: str) -> str:
        return value if self.ws.settings.pii_policy == "store" else ident.digest(value)

    def prefetch(self, messages: Sequence[msg.Message]) -> None:
        """Load, in a few queries, the identities, profiles, duplicates and suppressions
        the batch will touch."""
        keys: list[tuple[str, str]] = []
        event_ids: list[str] = []
        for message in messages:
            keys.extend(self._message_keys(message))
            if isinstance(message, msg.Track):
                event_ids.append(message.event_id)
        self.owners.update(storage.lookup_identities(self.conn, self.workspace_id, keys))
        self._load(self.owners.values())
        self.seen_events = storage.existing_event_ids(self.conn, self.workspace_id, event_ids)
        self.suppressed = storage.suppressed(
            self.conn, self.workspace_id, [(kind, ident.digest(value)) for kind, value in keys]
        )

    def _message_keys(self, message: msg.Message) -> list[tuple[str, str]]:
        if isinstance(message, msg.Alias):
            return self._keys(message.external_id, message.anonymous_id, None, None)
        email = getattr(message, "email", None)
        phone = getattr(message, "phone", None)
        return self._keys(message.external_id, message.anonymous_id, email, phone)

    def _load(self, profile_ids: Any) -> None:
        missing = [p for p in set(profile_ids) if p not in self.states]
        if missing:
            self.states.update(storage.load_profiles(self.conn, missing))

    def _state(self, profile_id: str) -> ProfileState:
        profile_id = self._final(profile_id)
        if profile_id not in self.states:
            self._load([profile_id])
        return self.states[profile_id]

    def _final(self, profile_id: str) -> str:
        while profile_id in self.redirect:
            profile_id = self.redirect[profile_id]
        return profile_id

    def _external_id(self, profile_id: str) -> str | None:
        if profile_id not in self.external_of:
            known = [
                v for k, v in storage.identities_of(self.conn, profile_id) if k == ident.EXTERNAL
            ]
            self.external_of[profile_id] = known[0] if known else None
        return self.external_of[profile_id]

    def _new_profile(self) -> str:
        profile_id = uuid7()
        self.states[profile_id] = ProfileState(
            id=profile_id,
            workspace_id=self.workspace_id,
            created_at=self.now,
            is_new=True,
            dirty=True,
        )
        self.external_of[profile_id] = None
        return profile_id

    def _attach(self, key: tuple[str, str], profile_id: str) -> str:
        owner = storage.attach_identity(
            self.conn, self.workspace_id, key[0], key[1], profile_id, self.now
        )
        self.owners[key] = owner
        if key[0] == ident.EXTERNAL and owner == profile_id:
            self.external_of[profile_id] = key[1]
        return owner

    def resolve(self, keys: list[tuple[str, str]]) -> str:
        """The profile these identifiers belong to, creating and merging as needed."""
        owners = {key: self._final(self.owners[key]) for key in keys if key in self.owners}
        external_key = next((k for k in keys if k[0] == ident.EXTERNAL), None)
        if external_key is not None and external_key in owners:
            survivor = owners[external_key]
        else:
            candidates = list(dict.fromkeys(owners.values()))
            known = [p for p in candidates if self._external_id(p) is not None]
            ranked = known or candidates
            survivor = ranked[0] if ranked else ""
            if external_key is not None and survivor and self._external_id(survivor) is not None:
                # The other identifiers belong to a different known user (a shared device):
                # this external id gets a profile of its own.
                survivor = ""
            if not survivor:
                survivor = self._new_profile()
        for key in keys:
            owner = owners.get(key)
            if owner is None:
                # Attaching can find that another worker attached it first.
                owner = self._final(self._attach(key, survivor))
            if owner != survivor:
                survivor = self._reconcile(survivor, owner)
        return self._final(survivor)

    def _reconcile(self, survivor: str, other: str) -> str:
        """Two profiles claim one person: fold the anonymous one into the known one.
        Two known users are different people, whatever identifiers they share."""
        if self._external_id(other) is None:
            self.merge(other, survivor)
            return survivor
        if self._external_id(survivor) is None:
            self.merge(survivor, other)
            return other
        return survivor

    def merge(self, loser: str, survivor: str) -> None:
        """Fold ``loser`` into ``survivor``: state, identities, events, devices, hooks."""
        loser, survivor = self._final(loser), self._final(survivor)
        if loser == survivor:
            return
        self._state(survivor).absorb(self._state(loser))
        storage.move_profile_rows(self.conn, loser, survivor)
        for hook in self.hooks:
            hook(self.conn, self.workspace_id, loser, survivor)
        if not self.states[loser].is_new:
            storage.delete_profile(self.conn, loser)
        del self.states[loser]
        self.redirect[loser] = survivor
        for key, owner in list(self.owners.items()):
            if owner == loser:
                self.owners[key] = survivor
        log.debug("merged profiles", extra={"from": loser, "into": survivor})

    # -- messages ---------------------------------------------------------------
    def apply(self, message: msg.Message, received_at: float) -> None:
        keys = self._message_keys(message)
        if not keys or any((k, ident.digest(v)) in self.suppressed for k, v in keys):
            self.dropped += 1
            return
        if isinstance(message, msg.Track):
            if message.event_id in self.seen_events:
                return
            self.seen_events.add(message.event_id)
            self._track(message, keys, received_at)
        elif isinstance(message, msg.Identify):
            state = self._state(self.resolve(keys))
            self._profile_data(
                state, message.traits, message.email, message.phone, message.occurred_at
            )
            state.set_timezone(message.timezone, message.occurred_at)
            state.set_locale(message.locale, message.occurred_at)
        elif isinstance(message, msg.Alias):
            self.resolve(keys)
        else:
            self._device(message, keys)
        self.processed += 1

    def _track(self, message: msg.Track, keys: list[tuple[str, str]], received_at: float) -> None:
        state = self._state(self.resolve(keys))
        category = self.ws.categorizer.category(message.name)
        state.count_event(message.name, category, message.occurred_at)
        state.set_timezone(message.timezone, message.occurred_at)
        state.set_locale(message.locale, message.occurred_at)
        if message.traits or message.email or message.phone:
            self._profile_data(
                state, message.traits, message.email, message.phone, message.occurred_at
            )
        self.events.append(
            {
                "workspace_id": self.workspace_id,
                "event_id": message.event_id,
                "profile_id": state.id,
                "name": message.name,
                "category": category,
                "occurred_at": message.occurred_at,
                "received_at": received_at,
                "timezone": message.timezone,
                "properties": message.properties,
                "context": message.context,
                "source": message.source,
            }
        )

    def _profile_data(
        self,
        state: ProfileState,
        traits: dict[str, Any] | None,
        email: str | None,
        phone: str | None,
        at: float,
    ) -> None:
        values = dict(traits or {})
        policy = self.ws.settings.pii_policy
        for name, raw, normalize in (
            ("email", email, ident.normalize_email),
            ("phone", phone, ident.normalize_phone),
        ):
            if raw is None:
                raw_trait = values.get(name)
                raw = raw_trait if isinstance(raw_trait, str) else None
            if raw is None:
                continue
            if policy == "store":
                values[name] = raw
            elif policy == "hash":
                values[name] = ident.digest(normalize(raw))
            else:
                values.pop(name, None)
        if values:
            state.set_properties(values, at)

    def _device(self, message: msg.Device, keys: list[tuple[str, str]]) -> None:
        profile_id = self.resolve(keys)
        self._state(profile_id).saw(message.occurred_at)
        storage.upsert_device(
            self.conn,
            {
                "workspace_id": self.workspace_id,
                "device_id": message.device_id,
                "profile_id": profile_id,
                "token": message.token,
                "os": message.os,
                "os_version": message.os_version,
                "model": message.model,
                "app_build": message.app_build,
                "app_version": message.app_version,
                "token_retired": False,
                "updated_at": self.now,
            },
        )

    def flush(self) -> list[dict[str, Any]]:
        for row in self.events:
            row["profile_id"] = self._final(row["profile_id"])
        storage.save_profiles(self.conn, self.states.values(), self.now)
        storage.insert_events(self.conn, self.events)
        return self.events


class Processor:
    """Drains the inbox; run by ``rapport serve`` (inline) or ``rapport worker``."""

    def __init__(
        self,
        database: Database,
        *,
        batch_size: int = 500,
        merge_hooks: Sequence[MergeHook] = (),
        event_hooks: Sequence[EventHook] = (),
        learn_hooks: Sequence[LearnHook] = (),
        after_commit: Sequence[Callable[[], None]] = (),
        observe_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.database = database
        self.batch_size = batch_size
        self.merge_hooks = list(merge_hooks)
        self.event_hooks = list(event_hooks)
        self.learn_hooks = list(learn_hooks)
        # Called once a batch is committed: caches of what it changed may refresh.
        self.after_commit = list(after_commit)
        self.observe_lag = observe_lag
        self._settings: dict[str, tuple[float, _Workspace]] = {}

    def _workspace(self, conn: Connection, workspace_id: str, now: float) -> _Workspace | None:
        cached = self._settings.get(workspace_id)
        if cached is not None and now - cached[0] < 5.0:
            return cached[1]
        row = workspace_storage.get_workspace(conn, workspace_id)
        if row is None:
            return None
        ws = _Workspace(row.settings, Categorizer(row.settings.event_categories))
        self._settings[workspace_id] = (now, ws)
        return ws

    def process_once(self) -> int:
        """Process one batch; the number of messages taken from the inbox."""
        with self.database.begin() as conn:
            rows = inbox.claim(conn, self.batch_size)
            if not rows:
                return 0
            now = time.time()
            by_workspace: dict[str, list[tuple[inbox.InboxRow, msg.Message]]] = {}
            learned: dict[str, list[msg.Learn]] = {}
            for row in rows:
                try:
                    message = msg.decoder.decode(row.payload)
                except msgspec.DecodeError:
                    log.error("undecodable inbox message dropped", extra={"seq": row.seq})
                    continue
                if isinstance(message, msg.Learn):
                    learned.setdefault(row.workspace_id, []).append(message)
                else:
                    by_workspace.setdefault(row.workspace_id, []).append((row, message))
            for workspace_id, evidence in learned.items():
                for learn_hook in self.learn_hooks:
                    learn_hook(conn, workspace_id, evidence)
            for workspace_id, items in by_workspace.items():
                ws = self._workspace(conn, workspace_id, now)
                if ws is None:  # the workspace was deleted meanwhile
                    continue
                batch = _Batch(conn, workspace_id, ws, now, self.merge_hooks)
                batch.prefetch([m for _, m in items])
                for row, message in items:
                    batch.apply(message, row.received_at)
                written = batch.flush()
                for hook in self.event_hooks:
                    hook(conn, workspace_id, written)
            inbox.remove(conn, [row.seq for row in rows])
        for callback in self.after_commit:
            callback()
        if self.observe_lag is not None:
            done = time.time()
            for row in rows:
                self.observe_lag(done - row.received_at)
        return len(rows)

    def drain(self, max_batches: int = 1_000_000) -> int:
        """Process until the inbox is empty (tests and imports)."""
        total = 0
        for _ in range(max_batches):
            count = self.process_once()
            total += count
            if count == 0:
                break
        return total
