"""Decisions: which variant each user sees on each surface, right now.

A request reads, in one read-only transaction, who the user is, their latest decision
per surface and their agent's evidence; picks per surface (sticky reuse, holdout,
frequency gap, or a Thompson sample from the agent); then hands the new assignments
(and the trials they count) to a group committer, so the answer goes out only once the
decision is stored: feedback that echoes an assignment id always finds it.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from rapport.audiences.preview import computed_of
from rapport.audiences.rules import Rule, evaluate, event_conditions
from rapport.audiences.session import (
    AudienceSubject,
    EventLog,
    GeoDatabase,
    SessionContext,
    SessionValue,
    matches_event,
)
from rapport.core.db import Database
from rapport.core.ids import uuid7
from rapport.decide import storage
from rapport.decide.catalog import Catalog, SurfacePlan, Variant
from rapport.decide.context import day_part
from rapport.decide.model import (
    DEFAULT_POLICY,
    Candidate,
    Counts,
    Policy,
    StatKey,
    choose,
    in_holdout,
)
from rapport.decide.model import stat_keys as keys_of
from rapport.ingest import messages as msg
from rapport.ingest.common import inbox_rows
from rapport.ingest.storage import write_inbox
from rapport.ingest.writer import GroupCommitter

# How a decision was made; only "agent" decisions are learned from.
AGENT, HOLDOUT, STICKY_GAP, FALLBACK, PAUSED = "agent", "holdout", "gap", "fallback", "paused"
INELIGIBLE = "ineligible"  # not in the surface's audience
FIXED = "fixed"  # an experience's weighted split


@dataclass(frozen=True, slots=True)
class Decision:
    """One surface's answer for one user."""

    surface_id: str
    assignment_id: str
    variant: Variant
    alternates: tuple[str, ...]
    policy: str
    min_gap_days: float

    @property
    def personalized(self) -> bool:
        return self.policy == AGENT

    def alternate_ids(self) -> list[str]:
        """``<assignment id>.<rank>`` for each alternate, best first."""
        return [f"{self.assignment_id}.{rank}" for rank in range(1, len(self.alternates) + 1)]


@dataclass(frozen=True, slots=True)
class _Request:
    """What the request says about the session, for eligibility rules."""

    session: Mapping[str, SessionValue]
    client_ip: str | None
    user_agent: str | None
    now: float
    # Set when the caller resolved the person already (by email or phone).
    profile_id: str | None = None


@dataclass
class _Snapshot:
    """What one request read."""

    plans: dict[str, SurfacePlan]
    profile_id: str | None
    timezone: str | None
    latest: dict[str, Any]
    user: dict[StatKey, Counts]
    population: dict[str, dict[StatKey, Counts]]
    default_timezone: str = "UTC"
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Read only when a requested surface has an eligibility audience.
    person: AudienceSubject | None = None


def fixed_split(
    workspace_id: str, plan_id: str, subject: str, weights: Sequence[tuple[str, float]]
) -> str:
    """The variation a subject always gets under a weighted split: a sha256 of the three
    (salted apart from the holdout's hash, so the split is the same inside and outside
    it) read as a point in [0, total weight)."""
    material = "\x00".join(("split", workspace_id, plan_id, subject)).encode()
    total = sum(weight for _, weight in weights)
    point = int.from_bytes(hashlib.sha256(material).digest()[:8], "big") / 2.0**64 * total
    for variant_id, weight in weights:
        if point < weight:
            return variant_id
        point -= weight
    return next(variant_id for variant_id, weight in reversed(weights) if weight > 0)


def split_alternate_id(value: str) -> tuple[str, int]:
    """``(assignment id, rank)``; rank 0 is the decision itself."""
    head, dot, tail = value.rpartition(".")
    if dot and tail.isdigit() and head:
        return head, int(tail)
    return value, 0


def decision_increments(
    scopes: Sequence[str], variant: Variant
) -> dict[tuple[str, str, str], tuple[float, float]]:
    """One trial for each of ``variant``'s statistics in each scope."""
    keys = keys_of(Candidate(variant.id, variant.labels))
    return {(scope, d, label): (1.0, 0.0) for scope in scopes for d, label in keys}


def write_decisions(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The group committer's write: the assignments, and one queued message per
    workspace with the trials they count (processing applies it)."""
    now = time.time()
    by_workspace: dict[str, dict[tuple[str, str, str], float]] = {}
    assignment_rows = []
    for row in rows:
        trials = by_workspace.setdefault(row["workspace_id"], {})
        for key, (count, _) in row["_increments"].items():
            trials[key] = trials.get(key, 0.0) + count
        assignment_rows.append({k: v for k, v in row.items() if k != "_increments"})
    storage.insert_assignments(conn, assignment_rows)
    learned = [
        inbox_row
        for workspace_id, trials in by_workspace.items()
        if trials
        for inbox_row in inbox_rows(
            workspace_id,
            [
                msg.Learn(
                    increments=[(s, d, label, n, 0.0) for (s, d, label), n in trials.items()],
                    occurred_at=now,
                )
            ],
        )
    ]
    write_inbox(conn, learned)


class Decider:
    """Makes and stores decisions; one per process."""

    def __init__(
        self,
        database: Database,
        committer: GroupCommitter,
        catalog: Catalog,
        policy: Policy = DEFAULT_POLICY,
        rng: random.Random | None = None,
        geo: GeoDatabase | None = None,
    ) -> None:
        self.database = database
        self.committer = committer
        self.catalog = catalog
        self.policy = policy
        self.rng = rng or random.Random()
        self.geo = geo

    async def decide(
        self,
        workspace_id: str,
        contact_id: str,
        surface_ids: Sequence[str],
        *,
        device: str | None = None,
        now: float | None = None,
        session: Mapping[str, SessionValue] | None = None,
        client_ip: str | None = None,
        user_agent: str | None = None,
        profile_id: str | None = None,
        experiences: bool = False,
    ) -> dict[str, Decision | None]:
        """A decision per requested surface; None for surfaces that do not exist.

        Surfaces whose answer is not personalized (holdout, gap, paused) are decided too:
        the caller chooses whether to show their default.
        """
        now = time.time() if now is None else now
        request = _Request(session or {}, client_ip, user_agent, now, profile_id)
        snapshot = await self.database.run_read_local(
            self._read, workspace_id, contact_id, surface_ids, request
        )
        decisions: dict[str, Decision | None] = {}
        for surface_id in surface_ids:
            plan = snapshot.plans.get(surface_id)
            if (
                plan is None
                or plan.status == "archived"
                or plan.default is None
                # The Content API serves surfaces, the Experiences API experiences.
                or (plan.key is not None) != experiences
            ):
                decisions[surface_id] = None
                continue
            decisions[surface_id] = self._decide_one(
                workspace_id, contact_id, plan, snapshot, device, now
            )
        await self.committer.submit(snapshot.rows)
        return decisions

    def _read(
        self,
        conn: Connection,
        workspace_id: str,
        contact_id: str,
        surface_ids: Sequence[str],
        request: _Request,
    ) -> _Snapshot:
        plans = self.catalog.plans(conn, workspace_id, surface_ids)
        known = [surface_id for surface_id in dict.fromkeys(surface_ids) if surface_id in plans]
        profile_id, timezone, latest, user = storage.decision_inputs(
            conn, workspace_id, contact_id, known, request.profile_id
        )
        population = self.catalog.population(conn, workspace_id)
        default_timezone = self.catalog.settings(conn, workspace_id).default_timezone
        snapshot = _Snapshot(
            plans, profile_id, timezone, latest, user, population, default_timezone
        )
        eligibility = [rule for s in known if (rule := plans[s].audience) is not None]
        if eligibility:
            snapshot.person = self._person(
                conn, workspace_id, profile_id, eligibility, request, timezone or default_timezone
            )
        return snapshot

    def _person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_id: str | None,
        audiences: Sequence[Rule],
        request: _Request,
        timezone: str,
    ) -> AudienceSubject:
        """The user as audience rules see them: profile, recent events, this session."""
        session = SessionContext.from_request(
            request.session,
            now=request.now,
            timezone=timezone,
            client_ip=request.client_ip,
            user_agent_header=request.user_agent,
            geo_database=self.geo,
        )
        if profile_id is None:
            return AudienceSubject(session=session)
        row = storage.person_row(conn, workspace_id, profile_id)
        if row is None:
            return AudienceSubject(session=session)
        windows = [
            since
            for rule in audiences
            for condition in event_conditions(rule)
            if (since := condition.since(request.now)) is not None
        ]
        recent = (
            storage.events_since(conn, workspace_id, profile_id, min(windows)) if windows else []
        )
        names = (row.counts or {}).get("names", {})
        log = EventLog(recent)

        def count(pattern: str, since: float | None) -> int:
            if since is None:
                return sum(n for name, n in names.items() if matches_event(pattern, name))
            return log(pattern, since)

        return AudienceSubject(
            properties=row.properties or {},
            computed=computed_of(row),
            event_count=count,
            session=session,
        )

    def _decide_one(
        self,
        workspace_id: str,
        contact_id: str,
        plan: SurfacePlan,
        snap: _Snapshot,
        device: str | None,
        now: float,
    ) -> Decision:
        control = plan.config.control
        latest = snap.latest.get(plan.id)
        default = plan.default
        assert default is not None  # checked by the caller
        # Eligibility is of this moment (the session may differ): checked before reuse.
        eligible = plan.audience is None or (
            snap.person is not None and evaluate(plan.audience, snap.person)
        )
        if (
            latest is not None
            and eligible
            and latest.policy != INELIGIBLE
            and now - latest.created_at < control.sticky_seconds
            and latest.variant_id in plan.variants
            and (latest.policy != AGENT or plan.status == "active")
        ):
            return Decision(
                plan.id,
                latest.id,
                plan.variants[latest.variant_id],
                tuple(v for v in latest.alternates if v in plan.variants),
                latest.policy,
                control.min_gap_days,
            )
        context = {"daypart": day_part(now, snap.timezone or snap.default_timezone)}
        if device:
            context["device"] = device
        if latest is not None and latest.policy in (AGENT, HOLDOUT, FIXED):
            # A person's holdout membership never changes, even across identity merges.
            held_out = latest.policy == HOLDOUT
        else:
            held_out = in_holdout(workspace_id, plan.id, contact_id, control.holdout_percent)
        gap_ends = (
            latest.created_at + control.sticky_seconds + control.min_gap_days * 86400
            if latest is not None and latest.policy == AGENT
            else 0.0
        )
        increments: dict[tuple[str, str, str], tuple[float, float]] = {}
        alternates: tuple[str, ...] = ()
        if plan.status != "active":
            policy, chosen = PAUSED, default
        elif not eligible:
            policy, chosen = INELIGIBLE, default
        elif held_out:
            policy, chosen = HOLDOUT, default
        elif now < gap_ends:
            policy, chosen = STICKY_GAP, default
        elif len(plan.candidates) < 2:
            policy, chosen = FALLBACK, default
        elif plan.allocation == FIXED:
            policy = FIXED
            chosen = plan.variants[fixed_split(workspace_id, plan.id, contact_id, plan.weights)]
        else:
            ranked = choose(
                plan.candidates,
                snap.user,
                snap.population.get(storage.POPULATION, {}),
                [
                    snap.population.get(storage.context_scope(name, value), {})
                    for name, value in context.items()
                ],
                rng=self.rng,
                policy=self.policy,
                groups=storage.groups_of(snap.population),
            )
            policy = AGENT
            chosen = plan.variants[ranked[0][0]]
            alternates = tuple(variant_id for variant_id, _ in ranked[1:])
            scopes = [
                storage.POPULATION,
                *(storage.context_scope(k, v) for k, v in context.items()),
            ]
            if snap.profile_id is not None:
                scopes.append(snap.profile_id)
            increments = decision_increments(scopes, chosen)
        assignment_id = uuid7()
        if policy == INELIGIBLE:
            # Nothing to learn or measure: not stored (feedback on its id is ignored), so
            # users outside an audience cost no write on every request.
            return Decision(plan.id, assignment_id, chosen, (), policy, control.min_gap_days)
        snap.rows.append(
            {
                "id": assignment_id,
                "workspace_id": workspace_id,
                "surface_id": plan.id,
                "profile_id": snap.profile_id,
                "contact_id": contact_id,
                "variant_id": chosen.id,
                "shown_variant_id": None,
                "alternates": list(alternates),
                "policy": policy,
                "policy_version": self.policy.version,
                # Whether the user's own agent counted this trial (unknown users' do not).
                "context": {**context, "user_scope": snap.profile_id is not None},
                "created_at": now,
                "_increments": increments,
            }
        )
        return Decision(plan.id, assignment_id, chosen, alternates, policy, control.min_gap_days)
