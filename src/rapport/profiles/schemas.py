"""Profiles and events as the Management API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class IdentityPublic(msgspec.Struct):
    kind: str
    value: str


class DevicePublic(msgspec.Struct, kw_only=True):
    device_id: str
    token: str | None
    token_retired: bool
    os: str | None
    os_version: str | None
    model: str | None
    app_build: str | None
    app_version: str | None
    updated_at: datetime


class Computed(msgspec.Struct, kw_only=True):
    """Fields rapport keeps up to date from the events."""

    first_seen: datetime | None
    last_seen: datetime | None
    event_count: int
    counts_by_name: dict[str, int]
    counts_by_category: dict[str, int]
    timezone: str | None
    locale: str | None


class ProfileSummary(msgspec.Struct, kw_only=True):
    """A profile in a list."""

    id: str
    external_id: str | None
    properties: dict[str, Any]
    event_count: int
    last_seen: datetime | None
    created_at: datetime


class ProfilePublic(msgspec.Struct, kw_only=True):
    """A profile with everything rapport knows about the person."""

    id: str
    identities: list[IdentityPublic]
    properties: dict[str, Any]
    computed: Computed
    devices: list[DevicePublic]
    created_at: datetime
    updated_at: datetime


class EventPublic(msgspec.Struct, kw_only=True):
    event_id: str
    name: str
    category: str
    occurred_at: datetime
    received_at: datetime
    timezone: str | None
    properties: dict[str, Any]
    context: dict[str, Any]
    source: str
    profile_id: str | None = None
