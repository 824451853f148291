"""What the agents did and why: a surface's report and a user's preferences."""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import Connection, func, select

from rapport.core.clock import from_timestamp
from rapport.core.errors import NotFound
from rapport.core.tables import assignments
from rapport.decide import storage
from rapport.decide.catalog import Catalog, load_plans
from rapport.decide.engine import AGENT, HOLDOUT
from rapport.decide.model import (
    DEFAULT_POLICY,
    Candidate,
    Counts,
    group_weight,
    group_weights,
    preferences,
    rate_summary,
    uplift_interval,
)
from rapport.profiles import storage as profile_storage


class Rate(msgspec.Struct):
    """Conversions per assignment with a 95% credible interval (Beta posterior)."""

    assignments: int
    exposed: int
    clicked: int
    conversions: int
    rate: float
    low: float
    high: float


class VariantReport(msgspec.Struct):
    variant_id: str
    name: str | None
    labels: dict[str, str]
    personalized: Rate
    holdout: Rate


class Uplift(msgspec.Struct):
    """Personalized rate minus holdout rate, with a 95% credible interval."""

    difference: float
    low: float
    high: float
    relative: float | None


class SurfaceReport(msgspec.Struct):
    surface_id: str
    policy_version: str
    personalized: Rate
    holdout: Rate
    uplift: Uplift | None
    variants: list[VariantReport]
    other_assignments: int


def _rate(assigned: int, exposed: int, clicked: int, converted: int) -> Rate:
    mean, low, high = rate_summary(converted, assigned)
    return Rate(assigned, exposed, clicked, converted, mean, low, high)


def surface_report(
    conn: Connection, workspace_id: str, surface_id: str, catalog: Catalog
) -> SurfaceReport:
    plan = catalog.plans(conn, workspace_id, [surface_id]).get(surface_id)
    if plan is None:
        raise NotFound(f"Surface {surface_id!r} does not exist", code="surface_not_found")
    shown = func.coalesce(assignments.c.shown_variant_id, assignments.c.variant_id)
    rows = conn.execute(
        select(
            assignments.c.policy,
            shown,
            func.count(),
            func.count(assignments.c.exposed_at),
            func.count(assignments.c.clicked_at),
            func.count(assignments.c.converted_at),
        )
        .where(assignments.c.workspace_id == workspace_id, assignments.c.surface_id == surface_id)
        .group_by(assignments.c.policy, shown)
    ).all()
    per_variant: dict[str, dict[str, list[int]]] = {}
    totals = {AGENT: [0, 0, 0, 0], HOLDOUT: [0, 0, 0, 0]}
    other = 0
    for policy, variant_id, n, exposed, clicked, converted in rows:
        if policy not in totals:
            other += int(n)
            continue
        bucket = per_variant.setdefault(variant_id, {AGENT: [0, 0, 0, 0], HOLDOUT: [0, 0, 0, 0]})
        for target in (bucket[policy], totals[policy]):
            for index, value in enumerate((n, exposed, clicked, converted)):
                target[index] += int(value)
    treated, control = totals[AGENT], totals[HOLDOUT]
    uplift = None
    if treated[0] and control[0]:
        difference, low, high = uplift_interval(
            Counts(treated[0], treated[3]), Counts(control[0], control[3])
        )
        control_rate = control[3] / control[0]
        uplift = Uplift(difference, low, high, difference / control_rate if control_rate else None)
    variants = []
    for variant_id, bucket in sorted(per_variant.items()):
        variant = plan.variants.get(variant_id)
        variants.append(
            VariantReport(
                variant_id=variant_id,
                name=variant.name if variant else None,
                labels=variant.labels if variant else {},
                personalized=_rate(*bucket[AGENT]),
                holdout=_rate(*bucket[HOLDOUT]),
            )
        )
    return SurfaceReport(
        surface_id=surface_id,
        policy_version=DEFAULT_POLICY.version,
        personalized=_rate(*treated),
        holdout=_rate(*control),
        uplift=uplift,
        variants=variants,
        other_assignments=other,
    )


class LabelOut(msgspec.Struct):
    label: str
    mean: float
    low: float
    high: float
    trials: float
    successes: float
    population_mean: float


class DimensionOut(msgspec.Struct):
    dimension: str
    labels: list[LabelOut]


class RecentAssignment(msgspec.Struct):
    assignment_id: str
    surface_id: str
    variant_id: str
    policy: str
    created_at: datetime
    converted: bool


class TasteGroupOut(msgspec.Struct):
    """The taste group the agent places the user in: its prior instead of everyone's."""

    index: int
    probability: float
    users: float


class AgentView(msgspec.Struct):
    """A user's agent: preferences per dimension with uncertainty, and recent decisions."""

    profile_id: str
    policy_version: str
    dimensions: list[DimensionOut]
    recent_assignments: list[RecentAssignment]
    taste_group: TasteGroupOut | None = None


def agent_view(conn: Connection, workspace_id: str, profile_id: str, catalog: Catalog) -> AgentView:
    if profile_storage.profile_row(conn, workspace_id, profile_id) is None:
        raise NotFound(f"Profile {profile_id!r} does not exist", code="profile_not_found")
    dimensions: dict[str, list[str]] = {}
    candidates: list[Candidate] = []
    for plan in load_plans(conn, workspace_id).values():
        if plan.status == "archived":
            continue
        candidates.extend(plan.candidates)
        for variant in plan.variants.values():
            for dimension, label in variant.labels.items():
                labels = dimensions.setdefault(dimension, [])
                if label not in labels:
                    labels.append(label)
    user = storage.stats_for(conn, workspace_id, [profile_id])[profile_id]
    scoped = storage.population_stats(conn, workspace_id)
    population = scoped.get(storage.POPULATION, {})
    groups = storage.groups_of(scoped)
    taste_group = None
    if groups and candidates:
        weights = group_weights(candidates, user, population, groups)
        index = max(range(len(weights)), key=weights.__getitem__)
        taste_group = TasteGroupOut(index, weights[index], group_weight(groups[index]))
    found = preferences(
        user, population, dimensions, group=groups[taste_group.index] if taste_group else None
    )
    grouped: dict[str, list[LabelOut]] = {d: [] for d in sorted(dimensions)}
    for p in found:
        grouped.setdefault(p.dimension, []).append(
            LabelOut(p.label, p.mean, p.low, p.high, p.trials, p.successes, p.population_mean)
        )
    recent = [
        RecentAssignment(
            assignment_id=a.id,
            surface_id=a.surface_id,
            variant_id=a.shown_variant_id or a.variant_id,
            policy=a.policy,
            created_at=from_timestamp(a.created_at),
            converted=a.converted_at is not None,
        )
        for a in storage.recent_assignments(
            conn, workspace_id, profile_id, profile_storage.contact_ids(conn, profile_id), 20
        )
    ]
    return AgentView(
        profile_id=profile_id,
        policy_version=DEFAULT_POLICY.version,
        dimensions=[
            DimensionOut(d, sorted(labels, key=lambda x: -x.mean)) for d, labels in grouped.items()
        ],
        recent_assignments=recent,
        taste_group=taste_group,
    )
