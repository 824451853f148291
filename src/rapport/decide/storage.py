"""SQL for assignments and agent statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from rapport.core.sql import upsert_adding
from rapport.core.tables import agent_stats, assignments
from rapport.decide.model import Counts, StatKey

POPULATION = "*"
# (scope, dimension, label) -> (trials, successes) to add.
Increments = Mapping[tuple[str, str, str], tuple[float, float]]
ScopedStats = dict[str, dict[StatKey, Counts]]

_STAT_COLUMNS = (
    agent_stats.c.scope,
    agent_stats.c.dimension,
    agent_stats.c.label,
    agent_stats.c.trials,
    agent_stats.c.successes,
)


def _record(row: Any) -> Any:
    """A mutable copy of an assignment row, so feedback can update it as it goes."""
    return SimpleNamespace(**row._mapping)


def context_scope(name: str, value: str) -> str:
    """The population scope of one context value, e.g. ``ctx:daypart:evening``."""
    return f"ctx:{name}:{value}"[:64]


def _collect(rows: Iterable[Any], into: ScopedStats) -> ScopedStats:
    for scope, dimension, label, trials, successes in rows:
        into.setdefault(scope, {})[(dimension, label)] = Counts(trials, successes)
    return into


def stats_for(conn: Connection, workspace_id: str, scopes: Sequence[str]) -> ScopedStats:
    """Every statistic of ``scopes``, by scope."""
    found: ScopedStats = {scope: {} for scope in scopes}
    if not scopes:
        return found
    query = select(*_STAT_COLUMNS).where(
        agent_stats.c.workspace_id == workspace_id, agent_stats.c.scope.in_(list(scopes))
    )
    return _collect(conn.execute(query), found)


def population_stats(conn: Connection, workspace_id: str) -> ScopedStats:
    """The workspace population's statistics, overall (``*``) and per context scope."""
    query = select(*_STAT_COLUMNS).where(
        agent_stats.c.workspace_id == workspace_id,
        or_(agent_stats.c.scope == POPULATION, agent_stats.c.scope.like("ctx:%")),
    )
    return _collect(conn.execute(query), {POPULATION: {}})


def add_stats(conn: Connection, workspace_id: str, increments: Increments, now: float) -> None:
    """Add trials and successes (one statement for all keys; sorted against deadlocks)."""
    rows = [
        {
            "workspace_id": workspace_id,
            "scope": scope,
            "dimension": dimension,
            "label": label,
            "trials": trials,
            "successes": successes,
            "updated_at": now,
        }
        for (scope, dimension, label), (trials, successes) in sorted(increments.items())
        if trials or successes
    ]
    upsert_adding(
        conn, agent_stats, rows, adding=("trials", "successes"), replacing=("updated_at",)
    )


def insert_assignments(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(assignments.insert(), [dict(r) for r in rows])


def latest_assignment(
    conn: Connection,
    workspace_id: str,
    surface_id: str,
    profile_id: str | None,
    contact_ids: Sequence[str],
) -> Any:
    """The newest decision for this person on this surface (by profile or identifier)."""
    found: list[Any] = []
    base = select(assignments).where(
        assignments.c.workspace_id == workspace_id, assignments.c.surface_id == surface_id
    )
    newest = assignments.c.created_at.desc()
    if profile_id is not None:
        query = base.where(assignments.c.profile_id == profile_id)
        found += conn.execute(query.order_by(newest).limit(1)).all()
    if contact_ids:
        query = base.where(assignments.c.contact_id.in_(list(contact_ids)))
        found += conn.execute(query.order_by(newest).limit(1)).all()
    return _record(max(found, key=lambda r: r.created_at)) if found else None


def get_assignments(conn: Connection, workspace_id: str, ids: Iterable[str]) -> dict[str, Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(assignments).where(
            assignments.c.workspace_id == workspace_id, assignments.c.id.in_(wanted)
        )
    )
    return {row.id: _record(row) for row in rows}


def attributable(
    conn: Connection,
    workspace_id: str,
    surface_ids: Sequence[str],
    profile_id: str,
    contact_ids: Sequence[str],
    since: float,
    until: float,
) -> list[Any]:
    """Unconverted decisions for this person on these surfaces made in ``[since, until]``,
    newest first."""
    who = [assignments.c.profile_id == profile_id]
    if contact_ids:
        who.append(assignments.c.contact_id.in_(list(contact_ids)))
    query = select(assignments).where(
        assignments.c.workspace_id == workspace_id,
        assignments.c.surface_id.in_(list(surface_ids)),
        or_(*who),
        assignments.c.created_at >= since,
        assignments.c.created_at <= until,
        assignments.c.converted_at.is_(None),
    )
    return [_record(r) for r in conn.execute(query.order_by(assignments.c.created_at.desc()))]


def update_assignment(conn: Connection, assignment_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(assignments).where(assignments.c.id == assignment_id).values(**values))


def recent_assignments(
    conn: Connection, workspace_id: str, profile_id: str, limit: int
) -> list[Any]:
    query = select(assignments).where(
        assignments.c.workspace_id == workspace_id, assignments.c.profile_id == profile_id
    )
    newest = assignments.c.created_at.desc()
    return [_record(r) for r in conn.execute(query.order_by(newest).limit(limit))]


def move_profile(
    conn: Connection, workspace_id: str, loser: str, survivor: str, now: float
) -> None:
    """A merge: the survivor inherits the loser's decisions and learning."""
    conn.execute(
        update(assignments)
        .where(assignments.c.workspace_id == workspace_id, assignments.c.profile_id == loser)
        .values(profile_id=survivor)
    )
    moved = stats_for(conn, workspace_id, [loser])[loser]
    if moved:
        increments = {(survivor, d, lbl): (c.trials, c.successes) for (d, lbl), c in moved.items()}
        add_stats(conn, workspace_id, increments, now)
        forget_profile(conn, workspace_id, loser, keep_assignments=True)


def forget_profile(
    conn: Connection, workspace_id: str, profile_id: str, *, keep_assignments: bool = False
) -> None:
    """Erase a person's learning (and, unless kept, their decisions)."""
    conn.execute(
        delete(agent_stats).where(
            agent_stats.c.workspace_id == workspace_id, agent_stats.c.scope == profile_id
        )
    )
    if not keep_assignments:
        conn.execute(
            delete(assignments).where(
                assignments.c.workspace_id == workspace_id, assignments.c.profile_id == profile_id
            )
        )
