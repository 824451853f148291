"""Shapes that cross the service boundary: settings, workspaces, API keys.

Three shapes per resource (create, update with every field optional, public); table
rows never leave the storage module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from rapport.core.keys import KeyKind

WorkspaceId = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", max_length=63)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Category = Literal["conversion", "messaging", "intent", "discovery", "other"]


class EventCategoryRule(Struct, forbid_unknown_fields=True):
    """Event names (exact, or a glob with ``*``) that belong to a category."""

    pattern: Annotated[str, Meta(min_length=1, max_length=200)]
    category: Category
    reward: Annotated[float, Meta(ge=0, le=1_000_000)] = 0.0


DEFAULT_EVENT_CATEGORIES: tuple[EventCategoryRule, ...] = (
    EventCategoryRule("purchase", "conversion", 1.0),
    EventCategoryRule("Order Completed", "conversion", 1.0),
    EventCategoryRule("order_completed", "conversion", 1.0),
    EventCategoryRule("checkout*", "conversion", 1.0),
    EventCategoryRule("Checkout*", "conversion", 1.0),
    EventCategoryRule("push_received", "messaging"),
    EventCategoryRule("push_opened", "messaging"),
    EventCategoryRule("push_clicked", "messaging"),
    EventCategoryRule("Push Notification *", "messaging"),
    EventCategoryRule("add_to_cart", "intent"),
    EventCategoryRule("Product Added", "intent"),
    EventCategoryRule("search*", "discovery"),
    EventCategoryRule("Products Searched", "discovery"),
    EventCategoryRule("Product Viewed", "discovery"),
)


class WorkspaceSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-workspace behaviour. Every field has a sensible default."""

    event_categories: list[EventCategoryRule] = msgspec.field(
        default_factory=lambda: list(DEFAULT_EVENT_CATEGORIES)
    )
    attribution_window_hours: Annotated[int, Meta(ge=1, le=24 * 90)] = 72
    retention_days: Annotated[int, Meta(ge=1, le=3650)] = 395
    # What to keep of email addresses and phone numbers: as sent, hashed, or nothing.
    pii_policy: Literal["store", "hash", "drop"] = "store"
    resolve_by_email: bool = False
    resolve_by_phone: bool = False
    default_timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "UTC"


class EventCategories(Struct, forbid_unknown_fields=True):
    """The event category rules of a workspace, in order."""

    rules: Annotated[list[EventCategoryRule], Meta(max_length=500)]


class WorkspaceSettingsUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A partial settings change: fields left out keep their value."""

    event_categories: list[EventCategoryRule] | UnsetType = UNSET
    attribution_window_hours: Annotated[int, Meta(ge=1, le=24 * 90)] | UnsetType = UNSET
    retention_days: Annotated[int, Meta(ge=1, le=3650)] | UnsetType = UNSET
    pii_policy: Literal["store", "hash", "drop"] | UnsetType = UNSET
    resolve_by_email: bool | UnsetType = UNSET
    resolve_by_phone: bool | UnsetType = UNSET
    default_timezone: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET


class WorkspacePublic(Struct, kw_only=True):
    """A workspace as the API shows it."""

    id: str
    name: str
    region: str
    settings: WorkspaceSettings
    created_at: datetime
    updated_at: datetime


class WorkspaceUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/workspace``. The region is fixed: moving a workspace is a data migration."""

    name: Name | UnsetType = UNSET
    settings: WorkspaceSettingsUpdate | UnsetType = UNSET


class ApiKeyCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/api-keys``."""

    kind: KeyKind
    name: Name = "unnamed"


class ApiKeyPublic(Struct, kw_only=True):
    """An API key without its secret."""

    id: str
    kind: KeyKind
    name: str
    prefix: str
    status: Literal["active", "revoked"]
    created_at: datetime
    rotated_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyPublic, kw_only=True):
    """A key as shown once, at creation or rotation: the only time ``key`` is returned."""

    key: str


class AccessToken(Struct):
    """The answer of ``POST /api/oauth/token`` (RFC 6749 field names)."""

    access_token: str
    token_type: str
    expires_in: int
    workspace: str
