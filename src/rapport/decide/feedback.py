"""Feedback: impressions, clicks and conversions reach the assignments and the agents.

Runs inside processing (an event hook), in the same transaction that stores the events,
so agents learn within moments of an event being processed and exactly once.

- An event carrying an ``assignment_id`` (or an ``alternate_assignment_id``) in its
  properties — metadata, data or Segment properties, or inside an
  ``experience_context`` object — is feedback on that assignment: a conversion when
  its category is ``conversion``, a click when its name contains "click", otherwise
  an impression. An alternate id also records which alternate the app showed.
- A conversion without an assignment id credits, on each surface whose reward rule
  matches it, the person's latest assignment made inside the attribution window
  before it: the latest exposed one (an impression or click was reported) if any, else
  the latest served. Each assignment converts at most once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Connection

from rapport.decide import storage
from rapport.decide.catalog import Catalog, SurfacePlan
from rapport.decide.engine import AGENT, split_alternate_id
from rapport.decide.model import Candidate, stat_keys
from rapport.decide.recent import RecentDecisions
from rapport.ingest import messages as msg
from rapport.profiles import storage as profile_storage
from rapport.profiles.categories import Categorizer
from rapport.workspaces import storage as workspace_storage

REFERENCE_KEYS = ("assignment_id", "alternate_assignment_id")
# Conversions may arrive a little before the decision's clock says it was made.
CLOCK_SKEW_SECONDS = 60.0
Increments = dict[tuple[str, str, str], tuple[float, float]]


def references(properties: Mapping[str, Any]) -> Iterator[str]:
    """Assignment ids an event's properties carry."""
    for holder in (properties, properties.get("experience_context")):
        if isinstance(holder, Mapping):
            for key in REFERENCE_KEYS:
                value = holder.get(key)
                if isinstance(value, str) and value:
                    yield value


def _add(increments: Increments, key: tuple[str, str, str], trials: float, wins: float) -> None:
    before = increments.get(key, (0.0, 0.0))
    increments[key] = (before[0] + trials, before[1] + wins)


def _scopes(assignment: Any, profile_id: str | None) -> list[str]:
    context = assignment.context or {}
    scopes = [storage.POPULATION]
    scopes += [
        storage.context_scope(k, v) for k, v in context.items() if k in ("daypart", "device")
    ]
    if context.get("user_scope") and profile_id:
        scopes.append(profile_id)
    return scopes


class Feedback:
    """The processing hooks of the decide domain."""

    def __init__(self, catalog: Catalog, recent: RecentDecisions | None = None) -> None:
        self.catalog = catalog
        self.recent = recent or RecentDecisions(0.0)
        self._rules: dict[str, tuple[float, Categorizer, int]] = {}
        # Workspaces whose learning changed in the batch being processed, and since the
        # taste groups were last fitted (``grouping.GroupFitter`` takes them).
        self._learned: set[str] = set()
        # Workspaces where the batch being processed merged people.
        self._merged: set[str] = set()
        self._unfitted: set[str] = set()
        self._unfitted_lock = threading.Lock()

    # -- hooks -------------------------------------------------------------------
    def on_events(
        self, conn: Connection, workspace_id: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        with_refs = [(row, list(references(row["properties"]))) for row in rows]
        tagged = [(row, refs) for row, refs in with_refs if refs]
        untagged = [row for row, refs in with_refs if not refs]
        increments: Increments = {}
        if tagged:
            wanted = {split_alternate_id(ref)[0] for _, refs in tagged for ref in refs}
            found = storage.get_assignments(conn, workspace_id, wanted)
            for row, refs in tagged:
                for ref in refs:
                    base, rank = split_alternate_id(ref)
                    assignment = found.get(base)
                    if assignment is not None:
                        self._on_tagged(conn, workspace_id, assignment, rank, row, increments)
        conversions = []
        if untagged:
            plans = self.catalog.plans(conn, workspace_id)
            for row in untagged:
                matching = [p for p in plans.values() if _rewards(p, row)]
                if matching:
                    conversions.append((row, matching))
        if conversions:
            categorizer, window_hours = self._workspace(conn, workspace_id)
            for row, matching in conversions:
                self._attribute(
                    conn, workspace_id, row, matching, window_hours, categorizer, increments
                )
        if increments:
            storage.add_stats(conn, workspace_id, increments, time.time())
            self._learned.add(workspace_id)

    def after_commit(self) -> None:
        """Decisions in this process see the new learning at once (others within the
        catalog's time to live)."""
        while self._learned:
            workspace_id = self._learned.pop()
            self.catalog.forget_population(workspace_id)
            with self._unfitted_lock:
                self._unfitted.add(workspace_id)
        while self._merged:
            self.recent.invalidate(self._merged.pop())

    def after_erase(self, workspace_id: str) -> None:
        """An erasure was committed: remembered decisions may name the person."""
        self.recent.invalidate(workspace_id)

    def take_learned(self) -> set[str]:
        """The workspaces that learned since the last call."""
        with self._unfitted_lock:
            taken, self._unfitted = self._unfitted, set()
        return taken

    def on_learn(self, conn: Connection, workspace_id: str, messages: Sequence[msg.Learn]) -> None:
        """Apply the trials decisions counted, summed over the batch."""
        increments: Increments = {}
        for message in messages:
            for scope, dimension, label, trials, successes in message.increments:
                _add(increments, (scope, dimension, label), trials, successes)
        if increments:
            storage.add_stats(conn, workspace_id, increments, time.time())
            self._learned.add(workspace_id)

    def on_merge(self, conn: Connection, workspace_id: str, loser: str, survivor: str) -> None:
        storage.move_profile(conn, workspace_id, loser, survivor, time.time())
        self._merged.add(workspace_id)

    def on_erase(self, conn: Connection, workspace_id: str, profile_id: str) -> None:
        """Runs before the identities go, so decisions made for them can be found."""
        contact_ids = profile_storage.contact_ids(conn, profile_id)
        storage.forget_profile(conn, workspace_id, profile_id, contact_ids=contact_ids)

    # -- work --------------------------------------------------------------------
    def _workspace(self, conn: Connection, workspace_id: str) -> tuple[Categorizer, int]:
        cached = self._rules.get(workspace_id)
        if cached is not None and time.monotonic() - cached[0] < 5.0:
            return cached[1], cached[2]
        row = workspace_storage.get_workspace(conn, workspace_id)
        settings = row.settings if row is not None else None
        categorizer = Categorizer(settings.event_categories if settings else [])
        window = settings.attribution_window_hours if settings else 72
        self._rules[workspace_id] = (time.monotonic(), categorizer, window)
        return categorizer, window

    def _on_tagged(
        self,
        conn: Connection,
        workspace_id: str,
        assignment: Any,
        rank: int,
        row: Mapping[str, Any],
        increments: Increments,
    ) -> None:
        """Apply one piece of feedback (the assignment record is updated in place)."""
        values: dict[str, Any] = {}
        at = float(row["occurred_at"])
        if rank and assignment.shown_variant_id is None and rank <= len(assignment.alternates):
            shown = assignment.alternates[rank - 1]
            values["shown_variant_id"] = shown
            if assignment.policy == AGENT:
                # The trial counted at decision time belongs to the variant actually shown.
                for scope in _scopes(assignment, assignment.profile_id):
                    for key in self._keys(
                        conn, workspace_id, assignment.surface_id, assignment.variant_id
                    ):
                        _add(increments, (scope, *key), -1.0, 0.0)
                    for key in self._keys(conn, workspace_id, assignment.surface_id, shown):
                        _add(increments, (scope, *key), 1.0, 0.0)
        if row["category"] == "conversion":
            if assignment.converted_at is None:
                categorizer, window_hours = self._workspace(conn, workspace_id)
                for name, value in values.items():
                    setattr(assignment, name, value)
                if self._within_window(conn, workspace_id, assignment, at, window_hours):
                    values.update(
                        self._credit(conn, workspace_id, assignment, row, categorizer, increments)
                    )
        elif "click" in str(row["name"]).lower():
            if assignment.clicked_at is None:
                values["clicked_at"] = at
            if assignment.exposed_at is None:
                values["exposed_at"] = at
        elif assignment.exposed_at is None:
            values["exposed_at"] = at
        if values:
            storage.update_assignment(conn, assignment.id, values)
            for name, value in values.items():
                setattr(assignment, name, value)

    def _within_window(
        self, conn: Connection, workspace_id: str, assignment: Any, at: float, default_hours: int
    ) -> bool:
        plan = self.catalog.plans(conn, workspace_id).get(assignment.surface_id)
        hours = plan.config.reward.attribution_window_hours if plan else None
        window = (hours or default_hours) * 3600.0
        created = float(assignment.created_at)
        return created - CLOCK_SKEW_SECONDS <= at <= created + window

    def _keys(
        self, conn: Connection, workspace_id: str, surface_id: str, variant_id: str
    ) -> list[tuple[str, str]]:
        plan = self.catalog.plans(conn, workspace_id).get(surface_id)
        variant = plan.variants.get(variant_id) if plan else None
        labels = variant.labels if variant else {}
        return stat_keys(Candidate(variant_id, labels))

    def _credit(
        self,
        conn: Connection,
        workspace_id: str,
        assignment: Any,
        row: Mapping[str, Any],
        categorizer: Categorizer,
        increments: Increments,
    ) -> dict[str, Any]:
        if assignment.policy == AGENT:
            shown = assignment.shown_variant_id or assignment.variant_id
            for scope in _scopes(assignment, row["profile_id"]):
                for key in self._keys(conn, workspace_id, assignment.surface_id, shown):
                    _add(increments, (scope, *key), 0.0, 1.0)
        return {
            "converted_at": float(row["occurred_at"]),
            "reward": categorizer.reward(row["name"]) or 1.0,
            "conversion_event_id": row["event_id"],
        }

    def _attribute(
        self,
        conn: Connection,
        workspace_id: str,
        row: Mapping[str, Any],
        matching: Sequence[SurfacePlan],
        default_hours: int,
        categorizer: Categorizer,
        increments: Increments,
    ) -> None:
        at = float(row["occurred_at"])
        windows = {
            p.id: (p.config.reward.attribution_window_hours or default_hours) * 3600.0
            for p in matching
        }
        profile_id = row["profile_id"]
        contact_ids = profile_storage.contact_ids(conn, profile_id)
        candidates = storage.attributable(
            conn,
            workspace_id,
            list(windows),
            profile_id,
            contact_ids,
            at - max(windows.values()),
            at + CLOCK_SKEW_SECONDS,
        )
        for surface_id, window in windows.items():
            inside = [
                a for a in candidates if a.surface_id == surface_id and a.created_at >= at - window
            ]
            exposed = [a for a in inside if a.exposed_at is not None]
            chosen = (exposed or inside or [None])[0]
            if chosen is not None:
                values = self._credit(conn, workspace_id, chosen, row, categorizer, increments)
                storage.update_assignment(conn, chosen.id, values)


def _rewards(plan: SurfacePlan, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` is a conversion for this surface's reward rule."""
    if plan.status == "archived":
        return False
    reward = plan.config.reward
    if row["category"] in reward.categories:
        return True
    return any(fnmatchcase(row["name"], pattern) for pattern in reward.events)
