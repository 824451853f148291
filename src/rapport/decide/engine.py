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
from rapport.audiences.rules import evaluate
from rapport.audiences.session import (
    AudienceSubject,
    EventLog,
    GeoDatabase,
    SessionContext,
    SessionValue,
    matches_event,
)
from rapport.core.db import Database, RowReader
from rapport.core.digits import is_ascii_number
from rapport.core.ids import uuid7
from rapport.decide import storage
from rapport.decide.catalog import Catalog, Shared, SurfacePlan, Variant
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
from rapport.decide.recent import PersonKey, RecentDecisions
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
    # Encodings of this decision by API (filled by the API that renders it): a reused
    # decision is the same object for a while (see ``_reuse``), so it is encoded once.
    renderings: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def personalized(self) -> bool:
        return self.policy == AGENT

    def alternate_ids(self) -> list[str]:
        """``<assignment id>.<rank>`` for each alternate, best first."""
        return [f"{self.assignment_id}.{rank}" for rank in range(1, len(self.alternates) + 1)]


# How many reused decisions a plan remembers before starting afresh (plans are
# replaced every few seconds, so this bounds only a burst of distinct users).
REUSE_MEMO = 10_000


def _served(
    plans: Mapping[str, SurfacePlan], surface_ids: Sequence[str], experiences: bool
) -> list[SurfacePlan]:
    """The requested plans that can be decided (existing, not archived, with a default),
    each once, in the order asked."""
    return [
        plan
        for surface_id in dict.fromkeys(surface_ids)
        if (plan := plans.get(surface_id)) is not None
        and plan.status != "archived"
        and plan.default is not None
        # The Content API serves surfaces, the Experiences API experiences.
        and (plan.key is not None) == experiences
    ]


def _reusable(plan: SurfacePlan, latest: storage.LatestDecision, now: float) -> bool:
    """Whether the user's latest decision on ``plan`` still stands (for a user who is
    eligible): sticky, its variant still there, and not a paused agent's."""
    return (
        latest.policy != INELIGIBLE
        and now - latest.created_at < plan.config.control.sticky_seconds
        and latest.variant_id in plan.variants
        and (latest.policy != AGENT or plan.status == "active")
    )


def _reuse(plan: SurfacePlan, latest: storage.LatestDecision) -> Decision:
    """A stored decision served again. On a surface, the same object for as long as
    ``plan`` lives, so a returning user's answer is built (and rendered, by callers that
    keep renderings by decision) once per plan, not per request."""
    if plan.key is not None:
        # An experience: its answer is rendered per request anyway, so keeping the
        # decision would only add to what the garbage collector scans.
        return _reused_decision(plan, latest)
    memo = plan.reused
    decision: Decision | None = memo.get(latest.id)
    if decision is None:
        decision = _reused_decision(plan, latest)
        if len(memo) >= REUSE_MEMO:
            memo.clear()
        memo[latest.id] = decision
    return decision


def _reused_decision(plan: SurfacePlan, latest: storage.LatestDecision) -> Decision:
    return Decision(
        plan.id,
        latest.id,
        plan.variants[latest.variant_id],
        tuple(v for v in latest.alternates if v in plan.variants),
        latest.policy,
        plan.config.control.min_gap_days,
    )


@dataclass(frozen=True, slots=True)
class _Request:
    """What the request says about the session, for eligibility rules."""

    session: Mapping[str, SessionValue]
    client_ip: str | None
    user_agent: str | None
    now: float
    # Identifiers (kind, value) to find the person by before ``contact_id`` (the
    # Experiences API's email and phone).
    identities: Sequence[tuple[str, str]] = ()


# The user's time zone before it is read (only fresh decisions' context needs it).
_UNREAD = "\x00unread"


@dataclass
class _Snapshot:
    """What one request read."""

    plans: dict[str, SurfacePlan]
    profile_id: str | None
    timezone: str | None
    latest: dict[str, storage.LatestDecision]
    catalog: Catalog
    reader: RowReader
    workspace_id: str
    default_timezone: str = "UTC"
    rows: list[dict[str, Any]] = field(default_factory=list)
    # Read only when a requested surface has an eligibility audience.
    person: AudienceSubject | None = None
    # The agent's evidence: read on the first fresh agent decision (sticky reuse,
    # holdout and fixed splits never need it).
    # The latest decisions were remembered, not read: only reuse them (see recent.py).
    reuse_only: bool = False
    _user: dict[StatKey, Counts] | None = None
    _day_part: str | None = None

    def day_part(self, now: float) -> str:
        """The user's day part (the same for every surface of the request)."""
        if self._day_part is None:
            if self.timezone is _UNREAD:
                self.timezone = (
                    storage.profile_timezone(self.reader, self.profile_id)
                    if self.profile_id is not None
                    else None
                )
            self._day_part = day_part(now, self.timezone or self.default_timezone)
        return self._day_part

    @property
    def population(self) -> dict[str, dict[StatKey, Counts]]:
        """The workspace's learning (cached per process; fresh agent decisions only)."""
        return self.catalog.population(self.reader, self.workspace_id)

    @property
    def user(self) -> dict[StatKey, Counts]:
        if self._user is None:
            self._user = (
                storage.user_stats(self.reader, self.workspace_id, self.profile_id)
                if self.profile_id is not None
                else {}
            )
        return self._user


class _NotReusable(Exception):
    """A remembered decision cannot be reused: decide from the database's state."""


def _latest_of(row: Mapping[str, Any]) -> storage.LatestDecision:
    """A stored decision row as the memory of recent decisions keeps it."""
    return storage.LatestDecision(
        row["id"],
        row["surface_id"],
        row["variant_id"],
        tuple(row["alternates"]),
        row["policy"],
        row["created_at"],
    )


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
    if dot and is_ascii_number(tail) and head:
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
        recent: RecentDecisions | None = None,
    ) -> None:
        self.database = database
        self.committer = committer
        self.catalog = catalog
        self.policy = policy
        self.rng = rng or random.Random()
        self.geo = geo
        self.recent = recent or RecentDecisions(0.0)

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
        identities: Sequence[tuple[str, str]] = (),
        experiences: bool = False,
    ) -> dict[str, Decision | None]:
        """A decision per requested surface; None for surfaces that do not exist.

        Surfaces whose answer is not personalized (holdout, gap, paused) are decided too:
        the caller chooses whether to show their default. The person is found by the
        first of ``identities`` the identity graph knows, else by ``contact_id``.
        """
        now = time.time() if now is None else now
        shared = self.catalog.current(workspace_id, surface_ids)
        if shared is None:
            shared = await self.database.run_read_local(
                self.catalog.refresh, workspace_id, surface_ids
            )
        key: PersonKey = (workspace_id, contact_id, tuple(identities))
        served = _served(shared.plans, surface_ids, experiences)
        remembered = self._remembered(key, surface_ids, served, now)
        if remembered is not None:
            return remembered
        request = _Request(session or {}, client_ip, user_agent, now, identities)
        decisions, rows, profile_id, generation = await self.database.run_read_rows(
            self._decide_all, key, surface_ids, served, request, shared, device
        )
        await self.committer.submit(rows)
        if rows and profile_id is not None:
            # Committed: this process may serve them again without reading them back.
            self.recent.remember(key, profile_id, map(_latest_of, rows), generation)
        return decisions

    def _remembered(
        self,
        key: PersonKey,
        surface_ids: Sequence[str],
        served: Sequence[SurfacePlan],
        now: float,
    ) -> dict[str, Decision | None] | None:
        """Every requested surface answered from this process's memory of the person's
        decisions (no database), when each served one is simply reused and none has an
        audience to check (that needs the person, read in :meth:`_decide_all`); else
        None. The same answers :meth:`_decide_all` gives, on a returning user's path."""
        if not self.recent.enabled:
            return None
        for plan in served:
            if plan.audience is not None:
                return None
        remembered = self.recent.lookup(key, [plan.id for plan in served])
        if remembered is None:
            return None
        decisions: dict[str, Decision | None] = dict.fromkeys(surface_ids)
        for plan in served:
            latest = remembered.latest.get(plan.id)
            if latest is None or not _reusable(plan, latest, now):
                return None
            decisions[plan.id] = _reuse(plan, latest)
        return decisions

    def _decide_all(
        self,
        reader: RowReader,
        key: PersonKey,
        surface_ids: Sequence[str],
        served: Sequence[SurfacePlan],
        request: _Request,
        shared: Shared,
        device: str | None,
    ) -> tuple[dict[str, Decision | None], list[dict[str, Any]], str | None, int]:
        """Read the person and decide ``served``, in one read transaction (begun only if
        needed): the decisions, the rows to store, the person's profile, and the
        generation of the memory the read belongs to."""
        workspace_id, contact_id, identities = key
        served_ids = [plan.id for plan in served]
        eligibility = [plan for plan in served if plan.audience is not None]
        people: dict[str | None, tuple[AudienceSubject, str | None]] = {}

        def person(profile_id: str | None) -> tuple[AudienceSubject, str | None] | None:
            """The person as audiences see them (read once), if any audience asks."""
            if not eligibility:
                return None
            if profile_id not in people:
                people[profile_id] = self._person(
                    reader, workspace_id, profile_id, eligibility, request,
                    shared.settings.default_timezone,
                )  # fmt: skip
            return people[profile_id]

        generation = self.recent.generation(workspace_id)
        remembered = self.recent.lookup(key, served_ids)
        if remembered is not None:
            try:
                decided = self._decide_with(
                    reader, key, served, remembered.profile_id, remembered.latest,
                    person(remembered.profile_id), shared, device, request.now, reuse_only=True,
                )  # fmt: skip
                return {**dict.fromkeys(surface_ids), **decided}, [], None, generation
            except _NotReusable:
                pass  # something needs a new decision: decide from the database's state
        profile_id = None
        if identities:
            profile_id = storage.owner_of(reader, workspace_id, identities)
        if profile_id is None:
            profile_id = storage.contact_owner(reader, workspace_id, contact_id)
        latest = storage.latest_decisions(reader, workspace_id, contact_id, profile_id, served_ids)
        if profile_id is not None:
            absent = [surface_id for surface_id in served_ids if surface_id not in latest]
            self.recent.remember(key, profile_id, latest.values(), generation, absent)
        rows: list[dict[str, Any]] = []
        decided = self._decide_with(
            reader, key, served, profile_id, latest, person(profile_id), shared, device,
            request.now, rows=rows,
        )  # fmt: skip
        return {**dict.fromkeys(surface_ids), **decided}, rows, profile_id, generation

    def _decide_with(
        self,
        reader: RowReader,
        key: PersonKey,
        served: Sequence[SurfacePlan],
        profile_id: str | None,
        latest: dict[str, storage.LatestDecision],
        person: tuple[AudienceSubject, str | None] | None,
        shared: Shared,
        device: str | None,
        now: float,
        *,
        reuse_only: bool = False,
        rows: list[dict[str, Any]] | None = None,
    ) -> dict[str, Decision | None]:
        """Decide every served surface from this person's latest decisions (and, when an
        audience asks, the person and their time zone); with ``reuse_only`` (they were
        remembered, not read), raise :class:`_NotReusable` as soon as one cannot simply
        be reused."""
        workspace_id, contact_id, _ = key
        snapshot = _Snapshot(
            shared.plans, profile_id, _UNREAD, latest, self.catalog, reader, workspace_id,
            shared.settings.default_timezone, reuse_only=reuse_only,
        )  # fmt: skip
        if rows is not None:
            snapshot.rows = rows
        if person is not None:
            snapshot.person, snapshot.timezone = person
        decisions: dict[str, Decision | None] = {}
        for plan in served:
            decisions[plan.id] = self._decide_one(
                workspace_id, contact_id, plan, snapshot, device, now
            )
        return decisions

    def _person(
        self,
        reader: RowReader,
        workspace_id: str,
        profile_id: str | None,
        plans: Sequence[SurfacePlan],
        request: _Request,
        default_timezone: str,
    ) -> tuple[AudienceSubject, str | None]:
        """The user as audience rules see them (profile, recent events, this session),
        and their time zone."""
        row = None if profile_id is None else storage.person_row(reader, workspace_id, profile_id)
        timezone = None if row is None else row.timezone
        session = SessionContext.from_request(
            request.session,
            now=request.now,
            timezone=timezone or default_timezone,
            client_ip=request.client_ip,
            user_agent_header=request.user_agent,
            geo_database=self.geo,
        )
        if row is None:
            return AudienceSubject(session=session), timezone
        assert profile_id is not None
        windows = [
            since
            for plan in plans
            for condition in plan.audience_events
            if (since := condition.since(request.now)) is not None
        ]
        recent = (
            storage.events_since(reader, workspace_id, profile_id, min(windows)) if windows else []
        )
        names = (row.counts or {}).get("names", {})
        log = EventLog(recent)

        def count(pattern: str, since: float | None) -> int:
            if since is None:
                return sum(n for name, n in names.items() if matches_event(pattern, name))
            return log(pattern, since)

        subject = AudienceSubject(
            properties=row.properties or {},
            computed=computed_of(row),
            event_count=count,
            session=session,
        )
        return subject, timezone

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
        if latest is not None and eligible and _reusable(plan, latest, now):
            return _reuse(plan, latest)
        if not eligible and plan.status == "active":
            # Nothing to learn or measure: not stored (feedback on its id is ignored), so
            # users outside an audience cost no write on every request.
            return Decision(plan.id, uuid7(), default, (), INELIGIBLE, control.min_gap_days)
        if snap.reuse_only:
            raise _NotReusable
        context = {"daypart": snap.day_part(now)}
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
            population = snap.population
            ranked = choose(
                plan.candidates,
                snap.user,
                population.get(storage.POPULATION, {}),
                [
                    population.get(storage.context_scope(name, value), {})
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
