"""SQL for assignments and agent statistics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, or_, select, update

from rapport.core.tables import agent_stats, assignments, events
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

    Ranges on the primary key (a ``LIKE`` would scan every user's rows too): this runs
    on the request path whenever the per-process cache refreshes."""
    rows = conn.exec_driver_sql(_sql(conn, _POPULATION_SQL), (workspace_id,))
    return _collect(rows, {POPULATION: {}})


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
        row[0] for row in conn.exec_driver_sql(_sql(conn, _RECENT_USERS_SQL), (workspace_id, limit))
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
    conn.exec_driver_sql(_sql(conn, _DELETE_GROUPS_SQL), (workspace_id,))
    rows = sorted(
        (workspace_id, group_scope(index), dimension, label, c.trials, c.successes, now)
        for index, group in enumerate(groups)
        for (dimension, label), c in group.items()
    )
    if rows:
        conn.exec_driver_sql(_sql(conn, _SET_STATS_SQL), rows)


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
        conn.exec_driver_sql(_sql(conn, _ADD_STATS_SQL), rows)


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
        conn.exec_driver_sql(_sql(conn, _INSERT_ASSIGNMENTS_SQL), values)


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


# -- the Content API's read: plain SQL, no statement compilation ----------------------
# A decision reads a handful of indexed rows; building Core statements would cost
# several times more than SQLite takes to answer them.
_IDENTITY_SQL = (
    "SELECT kind, profile_id FROM identities WHERE workspace_id = ? "
    "AND kind IN ('external_id', 'anonymous_id') AND value = ?"
)
_TIMEZONE_SQL = "SELECT timezone FROM profiles WHERE id = ?"
_LATEST_COLUMNS = "id, variant_id, alternates, policy, created_at"
_USER_STATS_SQL = (
    "SELECT dimension, label, trials, successes FROM agent_stats "
    "WHERE workspace_id = ? AND scope = ?"
)


def _sql(conn: Connection, statement: str) -> str:
    """The statement in the driver's parameter style (psycopg uses ``%s``)."""
    return statement if conn.dialect.name == "sqlite" else statement.replace("?", "%s")


def _latest_record(row: Any) -> Any:
    alternates = row.alternates
    if isinstance(alternates, str | bytes):
        alternates = msgspec.json.decode(alternates)
    return SimpleNamespace(
        id=row.id,
        variant_id=row.variant_id,
        alternates=list(alternates or []),
        policy=row.policy,
        created_at=float(row.created_at),
    )


def decision_inputs(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    surface_ids: Sequence[str],
    known_profile: str | None = None,
) -> tuple[str | None, str | None, dict[str, Any], dict[StatKey, Counts]]:
    """Who ``contact_id`` is (profile id, time zone; ``known_profile`` when the caller
    resolved it already), their latest decision per surface and their agent's evidence."""
    if known_profile is not None:
        return _inputs_of(conn, workspace_id, contact_id, surface_ids, known_profile)
    owners: dict[str, str] = dict(
        conn.exec_driver_sql(_sql(conn, _IDENTITY_SQL), (workspace_id, contact_id)).all()
    )
    profile_id = owners.get("external_id") or owners.get("anonymous_id")
    return _inputs_of(conn, workspace_id, contact_id, surface_ids, profile_id)


def _inputs_of(
    conn: Connection,
    workspace_id: str,
    contact_id: str,
    surface_ids: Sequence[str],
    profile_id: str | None,
) -> tuple[str | None, str | None, dict[str, Any], dict[StatKey, Counts]]:
    timezone = None
    stats: dict[StatKey, Counts] = {}
    if profile_id is not None:
        found = conn.exec_driver_sql(_sql(conn, _TIMEZONE_SQL), (profile_id,)).first()
        timezone = found[0] if found is not None else None
        for dimension, label, trials, successes in conn.exec_driver_sql(
            _sql(conn, _USER_STATS_SQL), (workspace_id, profile_id)
        ):
            stats[(dimension, label)] = Counts(trials, successes)
    latest: dict[str, Any] = {}
    rows = _latest_many(conn, workspace_id, "contact_id", contact_id, surface_ids)
    if profile_id is not None:
        rows += _latest_many(conn, workspace_id, "profile_id", profile_id, surface_ids)
    for row in rows:
        found = latest.get(row.surface_id)
        if found is None or row.created_at > found.created_at:
            latest[row.surface_id] = _latest_record(row)
    return profile_id, timezone, latest, stats


def _latest_many(
    conn: Connection, workspace_id: str, column: str, value: str, surface_ids: Sequence[str]
) -> list[Any]:
    """The newest decision per surface for one identifier, in one round trip: a UNION of
    one index seek per surface (an experiences fetch asks for up to a hundred)."""
    if not surface_ids:
        return []
    assert column in ("contact_id", "profile_id")
    part = (
        f"SELECT * FROM (SELECT surface_id, {_LATEST_COLUMNS} FROM assignments "
        f"WHERE workspace_id = ? AND {column} = ? AND surface_id = ? "
        "ORDER BY created_at DESC LIMIT 1) AS latest_{n}"
    )
    statement = " UNION ALL ".join(part.format(n=n) for n in range(len(surface_ids)))
    parameters = tuple(p for s in surface_ids for p in (workspace_id, value, s))
    return list(conn.exec_driver_sql(_sql(conn, statement), parameters))


def events_since(
    conn: Connection, workspace_id: str, profile_id: str, since: float
) -> list[tuple[str, float]]:
    """A person's recent events (name, time), for eligibility rules with a window."""
    rows = conn.execute(
        select(events.c.name, events.c.occurred_at).where(
            events.c.workspace_id == workspace_id,
            events.c.profile_id == profile_id,
            events.c.occurred_at >= since,
        )
    )
    return [(name, float(at)) for name, at in rows]


_PERSON_SQL = (
    "SELECT properties, counts, first_seen, last_seen, event_count, timezone, locale "
    "FROM profiles WHERE workspace_id = ? AND id = ?"
)
_IDENTITIES_SQL = (
    "SELECT kind, value, profile_id FROM identities WHERE workspace_id = ? AND kind = ? "
    "AND value = ?"
)


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def person_row(conn: Connection, workspace_id: str, profile_id: str) -> Any:
    """What audience rules read of a profile (plain SQL: it is on the request path)."""
    row = conn.exec_driver_sql(_sql(conn, _PERSON_SQL), (workspace_id, profile_id)).first()
    if row is None:
        return None
    return SimpleNamespace(
        properties=_json(row.properties) or {},
        counts=_json(row.counts) or {},
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        event_count=row.event_count,
        timezone=row.timezone,
        locale=row.locale,
    )


def owner_of(conn: Connection, workspace_id: str, keys: Sequence[tuple[str, str]]) -> str | None:
    """The profile of the first of ``keys`` (kind, value) that the identity graph knows."""
    statement = _sql(conn, _IDENTITIES_SQL)
    for kind, value in keys:
        row = conn.exec_driver_sql(statement, (workspace_id, kind, value)).first()
        if row is not None:
            return str(row.profile_id)
    return None
