"""SQL for campaigns and their sends."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, update

from rapport.core.pagination import Page, PageRequest
from rapport.core.sql import driver_sql, insert_ignoring_duplicates, page_by_id
from rapport.core.tables import (
    campaign_sends,
    campaigns,
    devices,
    events,
    identities,
    profiles,
)

# Sends that still have to go out (or are going out right now).
PENDING = ("planned", "sending")


def insert_campaign(conn: Connection, row: Mapping[str, Any]) -> None:
    conn.execute(insert(campaigns), [dict(row)])


def get_campaign(conn: Connection, workspace_id: str, campaign_id: str) -> Any:
    return conn.execute(
        select(campaigns).where(
            campaigns.c.workspace_id == workspace_id, campaigns.c.id == campaign_id
        )
    ).first()


def list_campaigns(conn: Connection, workspace_id: str, page: PageRequest) -> Page[Any]:
    return page_by_id(conn, campaigns, workspace_id, page)


def update_campaign(conn: Connection, campaign_id: str, values: Mapping[str, Any]) -> int:
    result = conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
    return int(result.rowcount or 0)


def delete_campaign(conn: Connection, campaign_id: str) -> None:
    conn.execute(delete(campaign_sends).where(campaign_sends.c.campaign_id == campaign_id))
    conn.execute(delete(campaigns).where(campaigns.c.id == campaign_id))


def campaigns_with_status(conn: Connection, statuses: Sequence[str]) -> list[Any]:
    """Every workspace's campaigns in these states (the orchestrator's work list)."""
    return list(conn.execute(select(campaigns).where(campaigns.c.status.in_(list(statuses)))))


def lock_campaign(conn: Connection, campaign_id: str) -> Any:
    """The campaign row, locked for this transaction; None when another worker holds it.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so workers plan different campaigns in
    parallel. SQLite has one writer at a time, so the plain read is already exclusive.
    """
    query = select(campaigns).where(campaigns.c.id == campaign_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).first()


def running_triggered(conn: Connection, workspace_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(campaigns).where(
                campaigns.c.workspace_id == workspace_id,
                campaigns.c.kind == "triggered",
                campaigns.c.status == "running",
            )
        )
    )


def insert_sends(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert sends; one that already exists for its (campaign, key) is left as it is."""
    insert_ignoring_duplicates(conn, campaign_sends, rows)


_CLAIM_COLUMNS = (
    campaign_sends.c.id,
    campaign_sends.c.workspace_id,
    campaign_sends.c.campaign_id,
    campaign_sends.c.profile_id,
    campaign_sends.c.alternate_id,
    campaign_sends.c.slot,
    campaign_sends.c.scheduled_at,
    campaign_sends.c.attempts,
    campaign_sends.c.context,
)


def claim_due(
    conn: Connection, campaign_ids: Sequence[str], now: float, limit: int, lease_seconds: float
) -> list[Any]:
    """Take up to ``limit`` due sends of these campaigns for ``lease_seconds``.

    A send is due when planned and its time has come, or when it was being sent and its
    lease ran out (the process sending it died): it is sent again under the same send id,
    which providers receive as the idempotency key / collapse id.
    """
    if not campaign_ids:
        return []
    ids: list[str] = []
    # Two index range scans on (status, scheduled_at): expired leases first, then due.
    for state, extra in (
        ("sending", campaign_sends.c.lease_until < now),
        ("planned", None),
    ):
        if len(ids) >= limit:
            break
        due = and_(
            campaign_sends.c.status == state,
            campaign_sends.c.scheduled_at <= now,
            campaign_sends.c.campaign_id.in_(list(campaign_ids)),
        )
        if extra is not None:
            due = and_(due, extra)
        pick = select(campaign_sends.c.id).where(due).order_by(campaign_sends.c.scheduled_at)
        pick = pick.limit(limit - len(ids))
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids += [row.id for row in conn.execute(pick)]
    if not ids:
        return []
    conn.execute(
        update(campaign_sends)
        .where(campaign_sends.c.id.in_(ids))
        .values(
            status="sending",
            lease_until=now + lease_seconds,
            attempts=campaign_sends.c.attempts + 1,
            updated_at=now,
        )
    )
    return list(conn.execute(select(*_CLAIM_COLUMNS).where(campaign_sends.c.id.in_(ids))))


_RECORD_SQL = (
    "UPDATE campaign_sends SET status = ?, reason = ?, scheduled_at = ?, lease_until = NULL, "
    "sent_at = ?, provider_message_id = ?, device_id = ?, updated_at = ? WHERE id = ?"
)
# The order of a result tuple for record_results.
RESULT_FIELDS = (
    "status", "reason", "scheduled_at", "sent_at", "provider_message_id", "device_id",
    "updated_at", "id",
)  # fmt: skip


def record_results(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Record a batch's results in one prepared statement (tuples in RESULT_FIELDS order)."""
    if rows:
        conn.exec_driver_sql(driver_sql(conn, _RECORD_SQL), list(rows))


def pending_count(conn: Connection, campaign_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(campaign_sends)
            .where(
                campaign_sends.c.campaign_id == campaign_id,
                campaign_sends.c.status.in_(PENDING),
            )
        ).scalar_one()
    )


def sent_counts_since(
    conn: Connection, workspace_id: str, profile_ids: Iterable[str], since: float
) -> dict[str, int]:
    """Messages sent to each profile since ``since``, across campaigns (for caps)."""
    ids = list(set(profile_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(campaign_sends.c.profile_id, func.count())
        .where(
            campaign_sends.c.workspace_id == workspace_id,
            campaign_sends.c.profile_id.in_(ids),
            campaign_sends.c.sent_at >= since,
        )
        .group_by(campaign_sends.c.profile_id)
    )
    return {row[0]: int(row[1]) for row in rows}


def recipients(conn: Connection, workspace_id: str, profile_ids: Sequence[str]) -> dict[str, Any]:
    """Per profile: its time zone, identities and newest active push device."""
    ids = list(set(profile_ids))
    found: dict[str, dict[str, Any]] = {
        pid: {"timezone": None, "identities": {}, "device": None} for pid in ids
    }
    if not ids:
        return found
    for profile in conn.execute(
        select(profiles.c.id, profiles.c.timezone).where(
            profiles.c.workspace_id == workspace_id, profiles.c.id.in_(ids)
        )
    ):
        found[profile.id]["timezone"] = profile.timezone
    for identity in conn.execute(
        select(identities.c.profile_id, identities.c.kind, identities.c.value).where(
            identities.c.workspace_id == workspace_id, identities.c.profile_id.in_(ids)
        )
    ):
        found[identity.profile_id]["identities"].setdefault(identity.kind, identity.value)
    for row in conn.execute(
        select(devices)
        .where(
            devices.c.workspace_id == workspace_id,
            devices.c.profile_id.in_(ids),
            devices.c.token.is_not(None),
            devices.c.token_retired.is_(False),
        )
        .order_by(devices.c.updated_at)
    ):
        found[row.profile_id]["device"] = row._mapping  # newest wins (ascending order)
    return found


def exited_profiles(
    conn: Connection, workspace_id: str, pairs: Sequence[tuple[str, str, float]]
) -> set[tuple[str, str, float]]:
    """Which (profile, exit event name, since) pairs have that event since that time."""
    found: set[tuple[str, str, float]] = set()
    for profile_id, name, since in pairs:
        hit = conn.execute(
            select(events.c.event_id)
            .where(
                events.c.profile_id == profile_id,
                events.c.workspace_id == workspace_id,
                events.c.name == name,
                events.c.occurred_at >= since,
            )
            .limit(1)
        ).first()
        if hit is not None:
            found.add((profile_id, name, since))
    return found


def get_sends(conn: Connection, workspace_id: str, ids: Sequence[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = conn.execute(
        select(campaign_sends).where(
            campaign_sends.c.workspace_id == workspace_id, campaign_sends.c.id.in_(list(ids))
        )
    )
    return {row.id: row for row in rows}


def latest_attributable(
    conn: Connection, workspace_id: str, profile_id: str, since: float, until: float
) -> list[Any]:
    """The profile's sends (delivered or held out) inside the attribution window, newest
    first, that have not converted yet."""
    return list(
        conn.execute(
            select(campaign_sends)
            .where(
                campaign_sends.c.workspace_id == workspace_id,
                campaign_sends.c.profile_id == profile_id,
                campaign_sends.c.status.in_(("sent", "held_out")),
                campaign_sends.c.scheduled_at >= since,
                campaign_sends.c.scheduled_at <= until,
                campaign_sends.c.converted_at.is_(None),
            )
            .order_by(campaign_sends.c.scheduled_at.desc())
        )
    )


def list_sends(
    conn: Connection, workspace_id: str, campaign_id: str, limit: int, after: str | None
) -> list[Any]:
    query = select(campaign_sends).where(
        campaign_sends.c.workspace_id == workspace_id,
        campaign_sends.c.campaign_id == campaign_id,
    )
    if after is not None:
        query = query.where(campaign_sends.c.id > after)
    return list(conn.execute(query.order_by(campaign_sends.c.id).limit(limit)))


def report_rows(conn: Connection, campaign_id: str) -> list[Any]:
    """Counts per (status, reason, alternate, slot, holdout, outcome flags)."""
    c = campaign_sends.c
    flags = (
        c.status,
        c.reason,
        c.alternate_id,
        c.slot,
        c.holdout,
        c.delivered_at.is_not(None).label("delivered"),
        c.opened_at.is_not(None).label("opened"),
        c.clicked_at.is_not(None).label("clicked"),
        c.converted_at.is_not(None).label("converted"),
    )
    return list(
        conn.execute(
            select(*flags, func.count().label("n"))
            .where(c.campaign_id == campaign_id)
            .group_by(*flags)
        )
    )


def move_profile(conn: Connection, workspace_id: str, source: str, target: str) -> None:
    """A merge: the merged profile's sends now belong to the surviving one."""
    conn.execute(
        update(campaign_sends)
        .where(campaign_sends.c.workspace_id == workspace_id, campaign_sends.c.profile_id == source)
        .values(profile_id=target)
    )


def forget_profile(conn: Connection, workspace_id: str, profile_id: str) -> None:
    conn.execute(
        delete(campaign_sends).where(
            campaign_sends.c.workspace_id == workspace_id,
            campaign_sends.c.profile_id == profile_id,
        )
    )


def drop_pending(conn: Connection, campaign_id: str, now: float) -> None:
    """A completed campaign sends nothing more: its pending sends are skipped."""
    conn.execute(
        update(campaign_sends)
        .where(
            campaign_sends.c.campaign_id == campaign_id,
            campaign_sends.c.status.in_(PENDING),
        )
        .values(status="skipped", reason="campaign_completed", lease_until=None, updated_at=now)
    )
