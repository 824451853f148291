"""SQL for profiles, identities, events, devices and suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, tuple_, update

from rapport.core.sql import insert_ignoring_duplicates
from rapport.core.tables import aliases, devices, events, identities, profiles, suppressions
from rapport.profiles.identity import digest
from rapport.profiles.state import ProfileState

NEG_INF = float("-inf")


def _state(row: Any) -> ProfileState:
    counts = row.counts or {}
    return ProfileState(
        id=row.id,
        workspace_id=row.workspace_id,
        properties=dict(row.properties or {}),
        property_times=dict(row.property_times or {}),
        names=dict(counts.get("names", {})),
        categories=dict(counts.get("categories", {})),
        event_count=row.event_count,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        timezone=row.timezone,
        timezone_at=counts.get("timezone_at") or NEG_INF,
        locale=row.locale,
        locale_at=counts.get("locale_at") or NEG_INF,
        created_at=row.created_at,
    )


def load_profiles(conn: Connection, ids: Iterable[str]) -> dict[str, ProfileState]:
    """Profiles by id, locked for update on PostgreSQL (concurrent workers)."""
    wanted = sorted(set(ids))  # a fixed lock order avoids deadlocks between workers
    found: dict[str, ProfileState] = {}
    for start in range(0, len(wanted), 500):
        query = select(profiles).where(profiles.c.id.in_(wanted[start : start + 500]))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        for row in conn.execute(query):
            found[row.id] = _state(row)
    return found


def _profile_values(state: ProfileState, now: float) -> dict[str, Any]:
    return {
        "properties": state.properties,
        "property_times": state.property_times,
        "counts": state.counts_document(),
        "event_count": state.event_count,
        "first_seen": state.first_seen,
        "last_seen": state.last_seen,
        "timezone": state.timezone,
        "locale": state.locale,
        "updated_at": now,
    }


def save_profiles(conn: Connection, states: Iterable[ProfileState], now: float) -> None:
    new = [s for s in states if s.is_new]
    changed = [s for s in states if s.dirty and not s.is_new]
    if new:
        conn.execute(
            insert(profiles),
            [
                {
                    "id": s.id,
                    "workspace_id": s.workspace_id,
                    "created_at": s.created_at,
                    **_profile_values(s, now),
                }
                for s in new
            ],
        )
    if changed:
        # One statement, many parameter sets: building a statement per profile costs
        # more than running it.
        conn.execute(_UPDATE_PROFILE, [{"_id": s.id, **_profile_values(s, now)} for s in changed])


_UPDATE_PROFILE = (
    update(profiles)
    .where(profiles.c.id == bindparam("_id"))
    .values({name: bindparam(name) for name in (
        "properties", "property_times", "counts", "event_count", "first_seen", "last_seen",
        "timezone", "locale", "updated_at",
    )})
)  # fmt: skip


def delete_profile(conn: Connection, profile_id: str) -> None:
    conn.execute(delete(profiles).where(profiles.c.id == profile_id))


def lookup_identities(
    conn: Connection, workspace_id: str, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """``(kind, value) -> profile_id`` for the identities that exist."""
    by_kind: dict[str, list[str]] = {}
    for kind, value in pairs:
        by_kind.setdefault(kind, []).append(value)
    found: dict[tuple[str, str], str] = {}
    for kind, values in by_kind.items():
        unique = sorted(set(values))
        for start in range(0, len(unique), 500):
            rows = conn.execute(
                select(identities.c.value, identities.c.profile_id).where(
                    identities.c.workspace_id == workspace_id,
                    identities.c.kind == kind,
                    identities.c.value.in_(unique[start : start + 500]),
                )
            )
            for value, profile_id in rows:
                found[(kind, value)] = profile_id
    return found


def attach_identity(
    conn: Connection, workspace_id: str, kind: str, value: str, profile_id: str, now: float
) -> str:
    """Point an identity at a profile unless it already points somewhere; return where it
    points (another worker may have attached it first)."""
    insert_ignoring_duplicates(
        conn,
        identities,
        [
            {
                "workspace_id": workspace_id,
                "kind": kind,
                "value": value,
                "profile_id": profile_id,
                "created_at": now,
            }
        ],
    )
    owner = conn.execute(
        select(identities.c.profile_id).where(
            identities.c.workspace_id == workspace_id,
            identities.c.kind == kind,
            identities.c.value == value,
        )
    ).scalar_one()
    return str(owner)


def identities_of(conn: Connection, profile_id: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        select(identities.c.kind, identities.c.value)
        .where(identities.c.profile_id == profile_id)
        .order_by(identities.c.kind, identities.c.value)
    )
    return [(kind, value) for kind, value in rows]


def contact_ids(conn: Connection, profile_id: str) -> list[str]:
    """The identifiers apps ask for content with: the external and anonymous ids."""
    return [
        value
        for kind, value in identities_of(conn, profile_id)
        if kind in ("external_id", "anonymous_id")
    ]


def move_profile_rows(conn: Connection, source: str, target: str) -> None:
    """Re-point everything of ``source`` at ``target`` (a merge)."""
    for table in (identities, events, devices):
        conn.execute(update(table).where(table.c.profile_id == source).values(profile_id=target))


def existing_event_ids(conn: Connection, workspace_id: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        rows = conn.execute(
            select(events.c.event_id).where(
                events.c.workspace_id == workspace_id,
                events.c.event_id.in_(unique[start : start + 500]),
            )
        )
        found.update(r[0] for r in rows)
    return found


def insert_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    insert_ignoring_duplicates(conn, events, rows)


def upsert_device(conn: Connection, values: Mapping[str, Any]) -> None:
    key = (devices.c.workspace_id == values["workspace_id"]) & (
        devices.c.device_id == values["device_id"]
    )
    if conn.execute(select(devices.c.device_id).where(key)).first() is None:
        insert_ignoring_duplicates(conn, devices, [values])
    else:
        changes = {k: v for k, v in values.items() if v is not None or k == "token"}
        conn.execute(update(devices).where(key).values(**changes))


def suppressed(
    conn: Connection, workspace_id: str, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of the hashed ``(kind, value_hash)`` pairs belong to erased people."""
    wanted = list(set(pairs))
    if not wanted:
        return set()
    hashes = sorted({h for _, h in wanted})
    found: set[tuple[str, str]] = set()
    for start in range(0, len(hashes), 500):
        rows = conn.execute(
            select(suppressions.c.kind, suppressions.c.value_hash).where(
                suppressions.c.workspace_id == workspace_id,
                suppressions.c.value_hash.in_(hashes[start : start + 500]),
            )
        )
        found.update((kind, h) for kind, h in rows)
    return found & set(wanted)


# --- reads for the Management API -------------------------------------------------


def profile_row(conn: Connection, workspace_id: str, profile_id: str) -> Any:
    return conn.execute(
        select(profiles).where(profiles.c.workspace_id == workspace_id, profiles.c.id == profile_id)
    ).first()


def devices_of(conn: Connection, profile_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(devices).where(devices.c.profile_id == profile_id).order_by(devices.c.device_id)
        )
    )


def external_ids(conn: Connection, profile_ids: Sequence[str]) -> dict[str, str]:
    if not profile_ids:
        return {}
    rows = conn.execute(
        select(identities.c.profile_id, identities.c.value).where(
            identities.c.profile_id.in_(list(profile_ids)), identities.c.kind == "external_id"
        )
    )
    return {profile_id: value for profile_id, value in rows}


@dataclass(frozen=True, slots=True)
class ProfileFilter:
    """Which profiles a search wants: by identity value and/or one property's value."""

    identity: str | None = None
    identity_kind: str | None = None
    property_name: str | None = None
    property_value: Any = None


def _filtered(query: Any, workspace_id: str, search: ProfileFilter) -> Any:
    query = query.where(profiles.c.workspace_id == workspace_id)
    if search.identity is not None:
        matching = select(identities.c.profile_id).where(
            identities.c.workspace_id == workspace_id, identities.c.value == search.identity
        )
        if search.identity_kind is not None:
            matching = matching.where(identities.c.kind == search.identity_kind)
        query = query.where(profiles.c.id.in_(matching))
    if search.property_name is not None:
        field = profiles.c.properties[search.property_name]
        value = search.property_value
        if isinstance(value, bool):
            query = query.where(field.as_boolean() == value)
        elif isinstance(value, (int, float)):
            query = query.where(field.as_float() == float(value))
        else:
            query = query.where(field.as_string() == str(value))
    return query


def list_profile_rows(
    conn: Connection, workspace_id: str, search: ProfileFilter, after: str | None, limit: int
) -> list[Any]:
    """Matching profiles ordered by id (time-ordered UUIDv7), ``limit`` after ``after``."""
    query = _filtered(select(profiles), workspace_id, search)
    if after is not None:
        query = query.where(profiles.c.id > after)
    return list(conn.execute(query.order_by(profiles.c.id).limit(limit)))


def count_profiles(conn: Connection, workspace_id: str, search: ProfileFilter) -> int:
    query = _filtered(select(func.count()).select_from(profiles), workspace_id, search)
    return int(conn.execute(query).scalar_one())


def event_rows(
    conn: Connection, profile_id: str, after: tuple[float, str] | None, limit: int
) -> list[Any]:
    """A profile's events, newest first."""
    query = select(events).where(events.c.profile_id == profile_id)
    if after is not None:
        query = query.where(tuple_(events.c.occurred_at, events.c.event_id) < tuple_(*after))
    return list(
        conn.execute(
            query.order_by(events.c.occurred_at.desc(), events.c.event_id.desc()).limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which of a workspace's events a list wants (every field optional)."""

    name: str | None = None
    category: str | None = None
    source: str | None = None
    profile_id: str | None = None
    since: float | None = None


def workspace_event_rows(
    conn: Connection,
    workspace_id: str,
    search: EventFilter,
    after: tuple[float, str] | None,
    limit: int,
) -> list[Any]:
    """A workspace's events, newest first by event time (the ``(workspace_id,
    occurred_at)`` index), filtered."""
    query = select(events).where(events.c.workspace_id == workspace_id)
    if search.name is not None:
        query = query.where(events.c.name == search.name)
    if search.category is not None:
        query = query.where(events.c.category == search.category)
    if search.source is not None:
        query = query.where(events.c.source == search.source)
    if search.profile_id is not None:
        query = query.where(events.c.profile_id == search.profile_id)
    if search.since is not None:
        query = query.where(events.c.occurred_at >= search.since)
    if after is not None:
        query = query.where(tuple_(events.c.occurred_at, events.c.event_id) < tuple_(*after))
    return list(
        conn.execute(
            query.order_by(events.c.occurred_at.desc(), events.c.event_id.desc()).limit(limit)
        )
    )


# --- erasure -------------------------------------------------------------------------


def erase_profile(conn: Connection, workspace_id: str, profile_id: str, now: float) -> int:
    """Delete everything of a person and suppress their identities; rows removed."""
    pairs = identities_of(conn, profile_id)
    if pairs:
        insert_ignoring_duplicates(
            conn,
            suppressions,
            [
                {
                    "workspace_id": workspace_id,
                    "kind": kind,
                    "value_hash": digest(value),
                    "created_at": now,
                }
                for kind, value in pairs
            ],
        )
        anonymous = [value for kind, value in pairs if kind == "anonymous_id"]
        external = [value for kind, value in pairs if kind == "external_id"]
        conn.execute(
            delete(aliases).where(
                aliases.c.workspace_id == workspace_id,
                aliases.c.anonymous_id.in_(anonymous) | aliases.c.external_id.in_(external),
            )
        )
    removed = 0
    for table in (events, devices, identities):
        removed += conn.execute(delete(table).where(table.c.profile_id == profile_id)).rowcount
    removed += conn.execute(delete(profiles).where(profiles.c.id == profile_id)).rowcount
    return removed


def delete_events_before(conn: Connection, workspace_id: str, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` events older than ``cutoff`` (retention); rows deleted."""
    doomed = (
        select(events.c.event_id)
        .where(events.c.workspace_id == workspace_id, events.c.occurred_at < cutoff)
        .limit(limit)
    )
    ids = [row[0] for row in conn.execute(doomed)]
    if not ids:
        return 0
    conn.execute(
        delete(events).where(events.c.workspace_id == workspace_id, events.c.event_id.in_(ids))
    )
    return len(ids)
