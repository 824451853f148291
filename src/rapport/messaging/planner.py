"""Planning: which alternate each user gets and when, written down before anything is sent.

A broadcast is planned page by page over the audience in profile-id order; each page's
sends and the campaign's cursor are written in one transaction, so a crash loses at most
a page's work, never skips a user and never plans one twice (a send is unique per
campaign and user). Triggered campaigns plan one send per trigger event as it is
processed.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from rapport.audiences import rules
from rapport.audiences import service as audience_service
from rapport.audiences import storage as audience_storage
from rapport.audiences.preview import matching
from rapport.audiences.session import SessionContext
from rapport.core.ids import uuid7
from rapport.decide import storage as decide_storage
from rapport.decide.model import Candidate, Stats, in_holdout
from rapport.messaging import agents, storage
from rapport.messaging.schemas import CampaignConfig
from rapport.messaging.service import config_of, window_of
from rapport.messaging.timing import (
    Interval,
    Quiet,
    moment_in,
    occurrences,
    slot_of,
    zone,
)

PAGE = 1000
POOL = 512


@dataclass
class Plan:
    """What a campaign's planning needs, computed once per campaign row."""

    row: Any
    config: CampaignConfig
    rule: rules.Rule | None
    quiet: Quiet | None
    window: tuple[float, float]
    content: list[Candidate]
    nobody: bool = False
    # (time zone name, hour planned, window end) -> the slots' occurrences
    _occurrences: dict[tuple[str, float, float], dict[str, list[Interval]]] = field(
        default_factory=dict
    )
    _candidates: dict[tuple[str, ...], list[Candidate]] = field(default_factory=dict)

    @classmethod
    def of(cls, conn: Connection, row: Any) -> Plan:
        config = config_of(row)
        rule = None
        nobody = False
        if row.audience_id:
            audience = audience_storage.get_audience(conn, row.workspace_id, row.audience_id)
            # A deleted audience matches nobody rather than everybody.
            nobody = audience is None
            rule = audience_service.validated(audience.rule, ["rule"]) if audience else None
        quiet = None
        if config.quiet_hours is not None:
            quiet = Quiet.parse(config.quiet_hours.start, config.quiet_hours.end)
        return cls(
            row=row,
            config=config,
            rule=rule,
            quiet=quiet,
            window=window_of(row, config),
            content=[agents.content_candidate(a) for a in config.alternates],
            nobody=nobody,
        )

    def timezone(self, name: str | None) -> str:
        default = self.config.quiet_hours.default_timezone if self.config.quiet_hours else "UTC"
        return zone(name, default).key

    def slots(self, tz_name: str, start: float) -> dict[str, list[Interval]]:
        # Hour resolution: every user planned within the same hour shares the table.
        key = (tz_name, start - start % 3600.0, self.window[1])
        found = self._occurrences.get(key)
        if found is None:
            found = occurrences(
                max(start, self.window[0]), self.window[1], zone(tz_name), self.quiet
            )
            self._occurrences[key] = found
        return found

    def slot_candidates(self, table: dict[str, list[Interval]]) -> list[Candidate]:
        """The timing agent's candidates: the slots that happen in the window."""
        names = tuple(sorted(table))
        found = self._candidates.get(names)
        if found is None:
            found = self._candidates[names] = [agents.slot_candidate(n) for n in names]
        return found

    def earliest(self, tz_name: str, at: float) -> float | None:
        """The first allowed moment at or after ``at`` inside the window, or None."""
        when = max(at, self.window[0])
        if self.quiet is not None:
            when = self.quiet.next_allowed(when, zone(tz_name))
        return when if when < self.window[1] else None


@dataclass
class Chooser:
    """Alternate and slot choices for one page, with pooled draws for new users
    (``pool_size`` 0: every choice drawn afresh, for a handful of users at a time)."""

    plan: Plan
    population: Stats
    rng: random.Random
    pool_size: int = POOL
    # By the identity of the candidate list: the plan hands out the same lists.
    _pools: dict[int, agents.PopulationDraws] = field(default_factory=dict)

    def choose(self, candidates: Sequence[Candidate], user: Stats) -> str:
        if user or not self.pool_size:
            return agents.pick(candidates, user, self.population, self.rng)
        key = id(candidates)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = agents.PopulationDraws(
                candidates, self.population, self.rng, self.pool_size
            )
        return pool.draw()


def _send_row(
    plan: Plan,
    profile_id: str,
    dedupe_key: str,
    *,
    holdout: bool,
    alternate_id: str | None,
    slot: str | None,
    scheduled_at: float,
    status: str,
    reason: str | None,
    context: dict[str, Any],
    now: float,
) -> dict[str, Any]:
    return {
        "id": uuid7(),
        "workspace_id": plan.row.workspace_id,
        "campaign_id": plan.row.id,
        "profile_id": profile_id,
        "dedupe_key": dedupe_key,
        "alternate_id": alternate_id,
        "slot": slot,
        "holdout": holdout,
        "status": status,
        "reason": reason,
        "scheduled_at": scheduled_at,
        "attempts": 0,
        "lease_until": None,
        "device_id": None,
        "provider_message_id": None,
        "context": context,
        "sent_at": None,
        "delivered_at": None,
        "opened_at": None,
        "clicked_at": None,
        "converted_at": None,
        "conversion_event_id": None,
        "created_at": now,
        "updated_at": now,
    }


def plan_user(
    plan: Plan,
    chooser: Chooser,
    profile_id: str,
    timezone: str | None,
    user: Stats,
    dedupe_key: str,
    now: float,
    at: float | None = None,
) -> dict[str, Any]:
    """One user's send: holdout or not, the alternate, the slot and the moment.

    ``at`` fixes the earliest moment (a triggered send's delay); otherwise a broadcast
    with ``optimize`` timing samples the user's slot among those left in the window.
    """
    row, config = plan.row, plan.config
    tz_name = plan.timezone(timezone)
    holdout = in_holdout(row.workspace_id, row.id, profile_id, config.holdout_percent)
    context = {"timezone": tz_name, "user_scope": bool(user)}
    slot: str | None = None
    when: float | None
    if at is None and config.timing == "optimize":
        table = plan.slots(tz_name, now)
        if table:
            slot = chooser.choose(plan.slot_candidates(table), user)
            slot = slot.removeprefix(agents.SLOT_PREFIX)
            when = moment_in(table[slot], chooser.rng)
        else:
            when = None
    else:
        when = plan.earliest(tz_name, max(now, at) if at is not None else now)
        if when is not None:
            slot = slot_of(when, zone(tz_name))
    if when is None:
        return _send_row(
            plan, profile_id, dedupe_key, holdout=holdout, alternate_id=None, slot=None,
            scheduled_at=now, status="skipped", reason="outside_window", context=context, now=now,
        )  # fmt: skip
    if holdout:
        return _send_row(
            plan, profile_id, dedupe_key, holdout=True, alternate_id=None, slot=slot,
            scheduled_at=when, status="held_out", reason=None, context=context, now=now,
        )  # fmt: skip
    alternate = chooser.choose(plan.content, user)
    return _send_row(
        plan, profile_id, dedupe_key, holdout=False, alternate_id=alternate, slot=slot,
        scheduled_at=when, status="planned", reason=None, context=context, now=now,
    )  # fmt: skip


def new_rng() -> random.Random:
    """A generator seeded from the OS: choices differ between processes and runs."""
    return random.Random(secrets.randbits(64))


class Planner:
    """Plans broadcasts page by page; keeps each campaign's plan and its pooled draws
    between pages (rebuilt when the campaign is edited or the draws are a minute old)."""

    def __init__(self, refresh_seconds: float = 60.0) -> None:
        self.refresh_seconds = refresh_seconds
        self._cache: dict[str, tuple[float, float, Plan, Chooser]] = {}

    def _prepared(self, conn: Connection, row: Any) -> tuple[Plan, Chooser]:
        cached = self._cache.get(row.id)
        clock = time.monotonic()
        if cached and cached[0] == row.updated_at and clock - cached[1] < self.refresh_seconds:
            return cached[2], cached[3]
        plan = Plan.of(conn, row)
        population = decide_storage.stats_for(conn, row.workspace_id, [decide_storage.POPULATION])[
            decide_storage.POPULATION
        ]
        chooser = Chooser(plan, population, new_rng())
        self._cache[row.id] = (row.updated_at, clock, plan, chooser)
        return plan, chooser

    def plan_page(self, conn: Connection, campaign_id: str, now: float | None = None) -> int | None:
        """Plan the next page of a running broadcast; the number of profiles looked at,
        or None when there is nothing (more) to plan or another worker is planning it."""
        now = time.time() if now is None else now
        row = storage.lock_campaign(conn, campaign_id)
        if row is None or row.status != "running" or row.kind != "broadcast" or row.planned_at:
            self._cache.pop(campaign_id, None)
            return None
        page = audience_storage.profile_page(conn, row.workspace_id, row.plan_cursor, PAGE)
        if not page:
            storage.update_campaign(conn, campaign_id, {"planned_at": now})
            self._cache.pop(campaign_id, None)
            return None
        plan, chooser = self._prepared(conn, row)
        chosen = [] if plan.nobody else page
        if plan.rule is not None:
            session = SessionContext(now=now)
            chosen = matching(conn, row.workspace_id, plan.rule, page, session, now)
        ids = [r.id for r in chosen]
        scoped = decide_storage.stats_for(conn, row.workspace_id, ids)
        sends = [
            plan_user(plan, chooser, r.id, r.timezone, scoped.get(r.id, {}), r.id, now)
            for r in chosen
        ]
        storage.insert_sends(conn, sends)
        storage.update_campaign(conn, campaign_id, {"plan_cursor": page[-1].id})
        return len(page)
