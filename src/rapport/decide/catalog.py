"""Per-process caches of what every decision reads: surfaces and population learning.

Both change rarely compared with how often they are read (every Content API request),
so each process keeps them for about a second instead of reading them per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.audiences import storage as audience_storage
from rapport.audiences.rules import EventCondition, Rule, RuleError, event_conditions, parse_rule
from rapport.core.db import RowReader
from rapport.decide import storage
from rapport.decide.model import Candidate, Counts, StatKey
from rapport.experiences import storage as experience_storage
from rapport.experiences.service import config_of as experience_config
from rapport.experiences.service import variations_of
from rapport.surfaces import storage as surface_storage
from rapport.surfaces.schemas import Control, SurfaceConfig
from rapport.surfaces.service import config_of
from rapport.workspaces import storage as workspace_storage
from rapport.workspaces.schemas import WorkspaceSettings

log = logging.getLogger("rapport.decide")

# A rule no one satisfies: the hour of the session cannot be two hours at once.
NOBODY: Rule = parse_rule(
    {
        "all": [
            {"attribute": "time.hour", "op": "eq", "value": "00"},
            {"attribute": "time.hour", "op": "eq", "value": "01"},
        ]
    }
)


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    name: str
    labels: dict[str, str]
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SurfacePlan:
    """A surface as the decision engine sees it."""

    id: str
    status: str
    config: SurfaceConfig
    default_variant_id: str | None
    variants: dict[str, Variant]
    candidates: tuple[Candidate, ...] = field(default=())
    # Who is eligible for personalized content here (None: everyone).
    audience: Rule | None = None
    # The audience's event conditions (their windows say which recent events to read).
    audience_events: tuple[EventCondition, ...] = ()
    # "optimize": the agents choose; "fixed": a sticky weighted split (experiences).
    allocation: str = "optimize"
    weights: tuple[tuple[str, float], ...] = ()
    # Experiences: their key and schedule (epoch seconds; None is open-ended).
    key: str | None = None
    starts_at: float | None = None
    ends_at: float | None = None
    # Reused decisions by assignment id (the engine's memo; see ``Decider``): a stored
    # decision never changes, so its answer under this plan is built once. It lives as
    # long as this plan object, at most ``plans_ttl`` seconds.
    reused: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def live(self, now: float) -> bool:
        """Active and inside its schedule."""
        return (
            self.status == "active"
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )

    @property
    def default(self) -> Variant | None:
        if self.default_variant_id is None:
            return None
        return self.variants.get(self.default_variant_id)


def load_plans(conn: Connection, workspace_id: str) -> dict[str, SurfacePlan]:
    """Every surface of a workspace with its variants."""
    rows = surface_storage.all_surfaces(conn, workspace_id)
    variants = surface_storage.variants_of(conn, [r.id for r in rows])
    configs = {row.id: config_of(row) for row in rows}
    keyed = experience_storage.all_experiences(conn, workspace_id)
    wanted = {c.audience_id for c in configs.values() if c.audience_id is not None}
    wanted |= {row.audience_id for row in keyed if row.audience_id is not None}
    audiences = {
        a.id: a.rule for a in audience_storage.get_audiences(conn, workspace_id, sorted(wanted))
    }
    plans: dict[str, SurfacePlan] = {}
    for row in rows:
        found = {
            v.id: Variant(v.id, v.name, dict(v.labels), dict(v.payload)) for v in variants[row.id]
        }
        config = configs[row.id]
        plans[row.id] = SurfacePlan(
            id=row.id,
            status=row.status,
            config=config,
            default_variant_id=row.default_variant_id,
            variants=found,
            candidates=tuple(Candidate(v.id, v.labels) for v in found.values()),
            **_audience(audiences, config.audience_id),
        )
    for row in keyed:
        plans[row.id] = _experience_plan(row, audiences)
    return plans


def _experience_plan(row: Any, audiences: dict[str, Any]) -> SurfacePlan:
    """An experience as the decision engine sees it: its first variation is the control."""
    config = experience_config(row)
    variations = variations_of(row)
    found = {
        v.id: Variant(v.id, v.name, dict(v.labels), msgspec.to_builtins(v.payload))
        for v in variations
    }
    return SurfacePlan(
        id=row.id,
        status=row.status,
        config=SurfaceConfig(
            control=Control(
                min_gap_days=0.0,
                holdout_percent=config.holdout_percent,
                sticky_seconds=config.sticky_seconds,
            ),
            reward=config.reward,
            audience_id=row.audience_id,
        ),
        default_variant_id=variations[0].id if variations else None,
        variants=found,
        candidates=tuple(Candidate(v.id, v.labels) for v in found.values()),
        **_audience(audiences, row.audience_id),
        allocation=config.allocation,
        weights=tuple((v.id, v.weight) for v in variations),
        key=row.key,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
    )


def _audience(rules_by_id: dict[str, Any], audience_id: str | None) -> dict[str, Any]:
    """The parsed eligibility rule and its event conditions; an audience that vanished or
    no longer parses lets nobody in (personalizing for the wrong people is worse than
    for nobody)."""
    if audience_id is None:
        return {"audience": None, "audience_events": ()}
    try:
        rule = parse_rule(rules_by_id[audience_id])
    except (KeyError, RuleError):
        log.warning("surface audience unusable", extra={"audience_id": audience_id})
        rule = NOBODY
    return {"audience": rule, "audience_events": tuple(event_conditions(rule))}


MISSING_RETRY = 0.2


@dataclass(frozen=True, slots=True)
class Shared:
    """What every decision in a workspace reads besides the person and the learning."""

    plans: dict[str, SurfacePlan]
    settings: WorkspaceSettings


class Catalog:
    """Surfaces and experiences (refreshed after ``plans_ttl`` seconds) and population
    statistics (after ``ttl``) per workspace. Changes made through this process refresh
    at once; other processes see them within those times."""

    def __init__(self, ttl: float = 1.0, plans_ttl: float = 5.0) -> None:
        self.ttl = ttl
        self.plans_ttl = plans_ttl
        self._plans: dict[str, tuple[float, dict[str, SurfacePlan]]] = {}
        self._population: dict[str, tuple[float, dict[str, dict[StatKey, Counts]]]] = {}
        self._settings: dict[str, tuple[float, WorkspaceSettings]] = {}

    def forget(self, workspace_id: str) -> None:
        self._plans.pop(workspace_id, None)
        self._population.pop(workspace_id, None)
        self._settings.pop(workspace_id, None)

    def forget_population(self, workspace_id: str) -> None:
        """New evidence was committed: the next decision reads it."""
        self._population.pop(workspace_id, None)

    def current(self, workspace_id: str, wanted: Sequence[str] = ()) -> Shared | None:
        """Plans and settings when this process holds them fresh (no database needed),
        else None: then :meth:`refresh`."""
        now = time.monotonic()
        plans = self._fresh_plans(workspace_id, wanted, now)
        settings = self._settings.get(workspace_id)
        if plans is None or settings is None or now - settings[0] >= self.ttl * 5:
            return None
        return Shared(plans, settings[1])

    def refresh(self, conn: Connection, workspace_id: str, wanted: Sequence[str] = ()) -> Shared:
        """Plans and settings, each read afresh if stale."""
        return Shared(self.plans(conn, workspace_id, wanted), self.settings(conn, workspace_id))

    def settings(self, conn: Connection, workspace_id: str) -> WorkspaceSettings:
        cached = self._settings.get(workspace_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl * 5:
            return cached[1]
        row = workspace_storage.get_workspace(conn, workspace_id)
        settings = row.settings if row is not None else WorkspaceSettings()
        self._settings[workspace_id] = (now, settings)
        return settings

    def plans(
        self, conn: Connection, workspace_id: str, wanted: Sequence[str] = ()
    ) -> dict[str, SurfacePlan]:
        """The workspace's surfaces; read afresh when stale or when one of ``wanted`` is
        missing (another process may have created it a moment ago; at most every
        ``MISSING_RETRY`` seconds, so requests for unknown ids cannot force a reload each)."""
        now = time.monotonic()
        fresh = self._fresh_plans(workspace_id, wanted, now)
        if fresh is not None:
            return fresh
        plans = load_plans(conn, workspace_id)
        self._plans[workspace_id] = (now, plans)
        return plans

    def _fresh_plans(
        self, workspace_id: str, wanted: Sequence[str], now: float
    ) -> dict[str, SurfacePlan] | None:
        cached = self._plans.get(workspace_id)
        if cached is None:
            return None
        age = now - cached[0]
        complete = all(surface_id in cached[1] for surface_id in wanted)
        if age < self.plans_ttl and (complete or age < MISSING_RETRY):
            return cached[1]
        return None

    def population(self, reader: RowReader, workspace_id: str) -> dict[str, dict[StatKey, Counts]]:
        """The population's statistics: read only by fresh agent decisions, so traffic
        that reuses sticky decisions never refreshes them."""
        cached = self._population.get(workspace_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        stats = storage.read_population(reader, workspace_id)
        self._population[workspace_id] = (now, stats)
        return stats
