"""Reading and erasing profiles (the Management API's view of the identity graph)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.core.clock import from_timestamp, from_timestamp_or_none
from rapport.core.errors import NotFound, ValidationFailed
from rapport.core.pagination import Page, PageRequest, encode_cursor
from rapport.profiles import storage
from rapport.profiles.schemas import (
    Computed,
    DevicePublic,
    EventPublic,
    IdentityPublic,
    ProfilePublic,
    ProfileSummary,
)

# hook(conn, workspace_id, profile_id): other domains forget the person too.
EraseHook = Callable[[Connection, str, str], None]
IDENTITY_KINDS = ("external_id", "anonymous_id", "email", "phone")


def _row(conn: Connection, workspace_id: str, profile_id: str) -> Any:
    row = storage.profile_row(conn, workspace_id, profile_id)
    if row is None:
        raise NotFound(f"Profile {profile_id!r} does not exist", code="profile_not_found")
    return row


def get_profile(conn: Connection, workspace_id: str, profile_id: str) -> ProfilePublic:
    row = _row(conn, workspace_id, profile_id)
    counts = row.counts or {}
    return ProfilePublic(
        id=row.id,
        identities=[IdentityPublic(k, v) for k, v in storage.identities_of(conn, row.id)],
        properties=row.properties,
        computed=Computed(
            first_seen=from_timestamp_or_none(row.first_seen),
            last_seen=from_timestamp_or_none(row.last_seen),
            event_count=row.event_count,
            counts_by_name=counts.get("names", {}),
            counts_by_category=counts.get("categories", {}),
            timezone=row.timezone,
            locale=row.locale,
        ),
        devices=[
            DevicePublic(
                device_id=d.device_id,
                token=d.token,
                token_retired=bool(d.token_retired),
                os=d.os,
                os_version=d.os_version,
                model=d.model,
                app_build=d.app_build,
                app_version=d.app_version,
                updated_at=from_timestamp(d.updated_at),
            )
            for d in storage.devices_of(conn, row.id)
        ],
        created_at=from_timestamp(row.created_at),
        updated_at=from_timestamp(row.updated_at),
    )


def _search_value(raw: str) -> Any:
    """``value=5`` finds the number 5, ``value=true`` the boolean, anything else text."""
    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return raw
    return decoded if isinstance(decoded, (bool, int, float, str)) else raw


def list_profiles(
    conn: Connection, workspace_id: str, page: PageRequest, query: dict[str, list[str]]
) -> Page[ProfileSummary]:
    """Profiles, optionally those with an identity (any kind, or ``kind``) or a property."""
    identity = query.get("identity", [None])[-1]
    kind = query.get("kind", [None])[-1]
    if kind is not None and kind not in IDENTITY_KINDS:
        raise ValidationFailed.single(
            ["query", "kind"], f"kind must be one of {', '.join(IDENTITY_KINDS)}"
        )
    name = query.get("property", [None])[-1]
    value = query.get("value", [None])[-1]
    if (name is None) != (value is None):
        raise ValidationFailed.single(
            ["query", "property" if name is None else "value"],
            "property and value go together",
            "missing",
        )
    search = storage.ProfileFilter(
        identity=identity,
        identity_kind=kind,
        property_name=name,
        property_value=None if value is None else _search_value(value),
    )
    after = page.after if isinstance(page.after, str) else None
    rows = storage.list_profile_rows(conn, workspace_id, search, after, page.limit + 1)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    external = storage.external_ids(conn, [r.id for r in rows])
    data = [
        ProfileSummary(
            id=r.id,
            external_id=external.get(r.id),
            properties=r.properties,
            event_count=r.event_count,
            last_seen=from_timestamp_or_none(r.last_seen),
            created_at=from_timestamp(r.created_at),
        )
        for r in rows
    ]
    return Page(
        data=data,
        next_token=encode_cursor(rows[-1].id) if more else None,
        total=storage.count_profiles(conn, workspace_id, search) if page.with_total else None,
    )


def _event_cursor(page: PageRequest) -> tuple[float, str] | None:
    if page.after is None:
        return None
    after = page.after
    if not (
        isinstance(after, list)
        and len(after) == 2
        and isinstance(after[0], (int, float))
        and isinstance(after[1], str)
    ):
        raise ValidationFailed.single(["query", "next_token"], "next_token is not valid")
    return float(after[0]), after[1]


def _event_page(rows: list[Any], page: PageRequest) -> Page[EventPublic]:
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(
        data=[
            EventPublic(
                event_id=r.event_id,
                name=r.name,
                category=r.category,
                occurred_at=from_timestamp(r.occurred_at),
                received_at=from_timestamp(r.received_at),
                timezone=r.timezone,
                properties=r.properties,
                context=r.context,
                source=r.source,
                profile_id=r.profile_id,
            )
            for r in rows
        ],
        next_token=encode_cursor([rows[-1].occurred_at, rows[-1].event_id]) if more else None,
    )


def list_events(
    conn: Connection, workspace_id: str, profile_id: str, page: PageRequest
) -> Page[EventPublic]:
    """A profile's events, newest first."""
    _row(conn, workspace_id, profile_id)
    rows = storage.event_rows(conn, profile_id, _event_cursor(page), page.limit + 1)
    return _event_page(rows, page)


EVENT_CATEGORIES = ("conversion", "messaging", "intent", "discovery", "other")
EVENT_SOURCES = ("aampe", "parcelvoy", "segment", "import")


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def event_filter(query: dict[str, list[str]]) -> storage.EventFilter:
    """Validate the filters of ``GET /api/events``."""
    category, source = _one(query, "category"), _one(query, "source")
    if category is not None and category not in EVENT_CATEGORIES:
        raise ValidationFailed.single(
            ["query", "category"], f"category must be one of {', '.join(EVENT_CATEGORIES)}"
        )
    if source is not None and source not in EVENT_SOURCES:
        raise ValidationFailed.single(
            ["query", "source"], f"source must be one of {', '.join(EVENT_SOURCES)}"
        )
    since = _one(query, "since")
    since_value: float | None = None
    if since is not None:
        try:
            since_value = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise ValidationFailed.single(
                ["query", "since"], "since must be an ISO 8601 date and time", "datetime_parsing"
            ) from None
    return storage.EventFilter(
        name=_one(query, "name") or None,
        category=category,
        source=source,
        profile_id=_one(query, "profile_id") or None,
        since=since_value,
    )


def list_workspace_events(
    conn: Connection, workspace_id: str, page: PageRequest, query: dict[str, list[str]]
) -> Page[EventPublic]:
    """The workspace's events, newest first (by event time), filtered."""
    search = event_filter(query)
    cursor = _event_cursor(page)
    rows = storage.workspace_event_rows(conn, workspace_id, search, cursor, page.limit + 1)
    return _event_page(rows, page)


def erase_profile(
    conn: Connection, workspace_id: str, profile_id: str, hooks: Sequence[EraseHook] = ()
) -> None:
    """Erase a person: events, identities, devices, learning state; later messages for
    their identities are dropped."""
    _row(conn, workspace_id, profile_id)
    for hook in hooks:
        hook(conn, workspace_id, profile_id)
    storage.erase_profile(conn, workspace_id, profile_id, time.time())
