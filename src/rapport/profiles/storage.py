"""SQL for profiles, identities, events, devices and suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from rapport.core.sql import insert_ignoring_duplicates
from rapport.core.tables import devices, events, identities, profiles, suppressions
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
    for state in changed:
        conn.execute(
            update(profiles).where(profiles.c.id == state.id).values(**_profile_values(state, now))
        )


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
