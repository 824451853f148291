"""SQL for assignments and agent statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, or_, select, update

from rapport.core.db import RowReader, driver_rows
from rapport.core.sql import driver_sql
from rapport.core.tables import agent_stats, assignments
from rapport.decide.model import Counts, StatKey

POPULATION = "*"
# Taste groups (``clusters.fit``) are stored as scopes ``cl:0``, ``cl:1``, ...
GROUP_PREFIX = "cl:"
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


_POPULATION_SQL = (
    "SELECT scope, dimension, label, trials, successes FROM agent_stats "
    "WHERE workspace_id = ? AND (scope = '*' OR (scope >= 'ctx:' AND scope < 'ctx;') "
    "OR (scope >= 'cl:' AND scope < 'cl;'))"
)


def population_stats(conn: Connection, workspace_id: str) -> ScopedStats:
    """The workspace population's statistics: overall (``*``), per context scope and per
    taste group.

    Ranges on the primary key (a ``LIKE`` would scan every user's rows too), rows read
    on the driver's cursor: this runs on the request path whenever the per-process
    cache refreshes (after each batch of learning)."""
    return _collect(driver_rows(conn, _POPULATION_SQL, (workspace_id,)), {POPULATION: {}})


def read_population(reader: RowReader, workspace_id: str) -> ScopedStats:
    """:func:`population_stats` on the request path's reader."""
    return _collect(reader.all(_POPULATION_SQL, (workspace_id,)), {POPULATION: {}})


def group_scope(index: int) -> str:
    return f"{GROUP_PREFIX}{index}"


_GROUPS: dict[int, tuple[ScopedStats, tuple[dict[StatKey, Counts], ...]]] = {}


def groups_of(population: ScopedStats) -> tuple[dict[StatKey, Counts], ...]:
    """The taste groups among ``population_stats``, in order; the same tuple for the same
    snapshot (the model caches what it derives from them by identity)."""
    found = _GROUPS.get(id(population))
    if found is not None and found[0] is population:
        return found[1]
    indexed = []
    for scope, stats in population.items():
        if scope.startswith(GROUP_PREFIX) and scope[len(GROUP_PREFIX) :].isdigit():
            indexed.append((int(scope[len(GROUP_PREFIX) :]), stats))
    groups = tuple(stats for _, stats in sorted(indexed, key=lambda item: item[0]))
    if len(_GROUPS) >= 64:
        _GROUPS.pop(next(iter(_GROUPS)))
    _GROUPS[id(population)] = (population, groups)
    return groups


# Profiles are every scope but the population's, the contexts' and the groups'.
_RECENT_USERS_SQL = (
    "SELECT scope FROM agent_stats WHERE workspace_id = ? AND dimension = '_variant' "
    "AND scope <> '*' AND NOT (scope >= 'ctx:' AND scope < 'ctx;') "
    "AND NOT (scope >= 'cl:' AND scope < 'cl;') "
    "GROUP BY scope ORDER BY MAX(updated_at) DESC, scope LIMIT ?"
)


def recent_user_stats(
    conn: Connection, workspace_id: str, limit: int
) -> list[dict[StatKey, Counts]]:
    """Every statistic of the ``limit`` users whose agents learned last (what the taste
    groups are fitted on: a bounded sample, however many users the workspace has)."""
    scopes = [
        row[0]
        for row in conn.exec_driver_sql(driver_sql(conn, _RECENT_USERS_SQL), (workspace_id, limit))
    ]
    found: ScopedStats = {}
    for start in range(0, len(scopes), 500):
        found.update(stats_for(conn, workspace_id, scopes[start : start + 500]))
    return [found[scope] for scope in scopes if found.get(scope)]


_SET_STATS_SQL = (
    "INSERT INTO agent_stats (workspace_id, scope, dimension, label, trials, successes, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (workspace_id, scope, dimension, label) DO UPDATE SET "
    "trials = excluded.trials, successes = excluded.successes, "
    "updated_at = excluded.updated_at"
)
_DELETE_GROUPS_SQL = (
    "DELETE FROM agent_stats WHERE workspace_id = ? AND scope >= 'cl:' AND scope < 'cl;'"
)


def replace_groups(
    conn: Connection, workspace_id: str, groups: Sequence[Mapping[StatKey, Counts]], now: float
) -> None:
    """Store a fit of the taste groups in place of the previous one. The rows are written,
    not added to, so two processes fitting at once leave one of their (equal) fits."""
    conn.exec_driver_sql(driver_sql(conn, _DELETE_GROUPS_SQL), (workspace_id,))
    rows = sorted(
        (workspace_id, group_scope(index), dimension, label, c.trials, c.successes, now)
        for index, group in enumerate(groups)
        for (dimension, label), c in group.items()
    )
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _SET_STATS_SQL), rows)


_ADD_STATS_SQL = (
    "INSERT INTO agent_stats (workspace_id, scope, dimension, label, trials, successes, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (workspace_id, scope, dimension, label) DO UPDATE SET "
    "trials = agent_stats.trials + excluded.trials, "
    "successes = agent_stats.successes + excluded.successes, "
    "updated_at = excluded.updated_at"
)


def add_stats(conn: Connection, workspace_id: str, increments: Increments, now: float) -> None:
    """Add trials and successes: one prepared statement for all keys (every decision
    writes a dozen of them), in a fixed order so concurrent writers cannot deadlock."""
    rows = [
        (workspace_id, scope, dimension, label, trials, successes, now)
        for (scope, dimension, label), (trials, successes) in sorted(increments.items())
        if trials or successes
    ]
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _ADD_STATS_SQL), rows)


_ASSIGNMENT_COLUMNS = (
    "id", "workspace_id", "surface_id", "profile_id", "contact_id", "variant_id",
    "shown_variant_id", "alternates", "policy", "policy_version", "context", "created_at",
)  # fmt: skip
_JSON_COLUMNS = frozenset({"alternates", "context"})
_INSERT_ASSIGNMENTS_SQL = (
    f"INSERT INTO assignments ({', '.join(_ASSIGNMENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ASSIGNMENT_COLUMNS)})"
)


def insert_assignments(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store decisions: one prepared statement, JSON encoded by msgspec (the Content
    API writes a row per fresh decision)."""
    if rows:
        values = [
            tuple(
                msgspec.json.encode(row[c]).decode() if c in _JSON_COLUMNS else row[c]
                for c in _ASSIGNMENT_COLUMNS
            )
            for row in rows
        ]
        conn.exec_driver_sql(driver_sql(conn, _INSERT_ASSIGNMENTS_SQL), values)


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
    conn: Connection, workspace_id: str, profile_id: str, contact_ids: Sequence[str], limit: int
) -> list[Any]:
    """A person's latest decisions: by profile, and by identifier from before it existed."""
    whose = assignments.c.profile_id == profile_id
    if contact_ids:
        whose = or_(whose, assignments.c.contact_id.in_(list(contact_ids)))
    query = select(assignments).where(assignments.c.workspace_id == workspace_id, whose)
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
    conn: Connection,
    workspace_id: str,
    profile_id: str,
    *,
    keep_assignments: bool = False,
    contact_ids: Sequence[str] = (),
) -> None:
    """Erase a person's learning and, unless kept, their decisions: those made for their
    profile and those made for any of their identifiers before the profile existed."""
    conn.execute(
        delete(agent_stats).where(
            agent_stats.c.workspace_id == workspace_id, agent_stats.c.scope == profile_id
        )
    )
    if not keep_assignments:
        whose = assignments.c.profile_id == profile_id
        if contact_ids:
            whose = or_(whose, assignments.c.contact_id.in_(list(contact_ids)))
        conn.execute(delete(assignments).where(assignments.c.workspace_id == workspace_id, whose))


# -- the request path's reads: plain SQL on a DB-API cursor -----------------------------
# A decision reads a handful of indexed rows; SQLAlchemy's statement and result layers
# would cost several times more than SQLite takes to answer them (see Database.read_rows).
_IDENTITY_SQL = (
    "SELECT kind, profile_id FROM identities WHERE workspace_id = ? "
    "AND kind IN ('external_id', 'anonymous_id') AND value = ?"
)
_IDENTITIES_SQL = (
    "SELECT profile_id FROM identities WHERE workspace_id = ? AND kind = ? AND value = ?"
)
_TIMEZONE_SQL = "SELECT timezone FROM profiles WHERE id = ?"
_USER_STATS_SQL = (
    "SELECT dimension, label, trials, successes FROM agent_stats "
    "WHERE workspace_id = ? AND scope = ?"
)
_PERSON_SQL = (
    "SELECT properties, counts, first_seen, last_seen, event_count, timezone, locale "
    "FROM profiles WHERE workspace_id = ? AND id = ?"
)
_EVENTS_SINCE_SQL = (
    "SELECT name, occurred_at FROM events "
    "WHERE workspace_id = ? AND profile_id = ? AND occurred_at >= ?"
)


@dataclass(frozen=True, slots=True)
class LatestDecision:
    """What reusing a decision needs of it."""

    id: str
    surface_id: str
    variant_id: str
    alternates: tuple[str, ...]
    policy: str
    created_at: float


def contact_owner(reader: RowReader, workspace_id: str, contact_id: str) -> str | None:
    """The profile ``contact_id`` names: as an external id, else as an anonymous id."""
    owners = dict(reader.all(_IDENTITY_SQL, (workspace_id, contact_id)))
    found = owners.get("external_id") or owners.get("anonymous_id")
    return None if found is None else str(found)


def owner_of(reader: RowReader, workspace_id: str, keys: Sequence[tuple[str, str]]) -> str | None:
    """The profile of the first of ``keys`` (kind, value) that the identity graph knows."""
    for kind, value in keys:
        row = reader.first(_IDENTITIES_SQL, (workspace_id, kind, value))
        if row is not None:
            return str(row[0])
    return None


def profile_timezone(reader: RowReader, profile_id: str) -> str | None:
    row = reader.first(_TIMEZONE_SQL, (profile_id,))
    return None if row is None else row[0]


def user_stats(reader: RowReader, workspace_id: str, profile_id: str) -> dict[StatKey, Counts]:
    """One agent's evidence."""
    return {
        (dimension, label): Counts(trials, successes)
        for dimension, label, trials, successes in reader.all(
            _USER_STATS_SQL, (workspace_id, profile_id)
        )
    }


def latest_decisions(
    reader: RowReader,
    workspace_id: str,
    contact_id: str,
    profile_id: str | None,
    surface_ids: Sequence[str],
) -> dict[str, LatestDecision]:
    """The newest decision per surface for this person: made for their profile, or for
    ``contact_id`` (before the profile existed, or while it was another one)."""
    rows = _latest_many(reader, workspace_id, "contact_id", contact_id, surface_ids)
    if profile_id is not None:
        rows += _latest_many(reader, workspace_id, "profile_id", profile_id, surface_ids)
    latest: dict[str, LatestDecision] = {}
    for surface_id, assignment_id, variant_id, alternates, policy, created_at in rows:
        found = latest.get(surface_id)
        at = float(created_at)
        if found is None or at > found.created_at:
            if isinstance(alternates, str | bytes):
                alternates = msgspec.json.decode(alternates)
            latest[surface_id] = LatestDecision(
                assignment_id, surface_id, variant_id, tuple(alternates or ()), policy, at
            )
    return latest


@lru_cache(maxsize=128)
def _latest_statement(column: str, surfaces: int) -> str:
    part = (
        "SELECT * FROM (SELECT surface_id, id, variant_id, alternates, policy, created_at "
        f"FROM assignments WHERE workspace_id = ? AND {column} = ? AND surface_id = ? "
        "ORDER BY created_at DESC LIMIT 1) AS latest_{n}"
    )
    return " UNION ALL ".join(part.format(n=n) for n in range(surfaces))


def _latest_many(
    reader: RowReader, workspace_id: str, column: str, value: str, surface_ids: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The newest decision per surface for one identifier, in one round trip: a UNION of
    one index seek per surface (an experiences fetch asks for up to a hundred)."""
    if not surface_ids:
        return []
    assert column in ("contact_id", "profile_id")
    parameters = tuple(p for s in surface_ids for p in (workspace_id, value, s))
    return reader.all(_latest_statement(column, len(surface_ids)), parameters)


def events_since(
    reader: RowReader, workspace_id: str, profile_id: str, since: float
) -> list[tuple[str, float]]:
    """A person's recent events (name, time), for eligibility rules with a window."""
    rows = reader.all(_EVENTS_SINCE_SQL, (workspace_id, profile_id, since))
    return [(name, float(at)) for name, at in rows]


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def person_row(reader: RowReader, workspace_id: str, profile_id: str) -> Any:
    """What audience rules read of a profile."""
    row = reader.first(_PERSON_SQL, (workspace_id, profile_id))
    if row is None:
        return None
    properties, counts, first_seen, last_seen, event_count, timezone, locale = row
    return SimpleNamespace(
        properties=_json(properties) or {},
        counts=_json(counts) or {},
        first_seen=first_seen,
        last_seen=last_seen,
        event_count=event_count,
        timezone=timezone,
        locale=locale,
    )
