"""Shapes of surfaces and variants that cross the service boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Label = Annotated[str, Meta(min_length=1, max_length=255)]
Dimension = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z][\w.-]*$")]
Labels = Annotated[dict[Dimension, Label], Meta(max_length=16)]
Status = Literal["active", "paused", "archived"]
Category = Literal["conversion", "messaging", "intent", "discovery", "other"]
Pattern = Annotated[str, Meta(min_length=1, max_length=200)]


class Control(Struct, forbid_unknown_fields=True, kw_only=True):
    """How often and to whom personalized content is shown."""

    # After a personalized assignment expires, no new one for this many days.
    min_gap_days: Annotated[float, Meta(ge=0, le=365)] = 0.0
    # Share of users (hashed, sticky) who always get the default: the uplift baseline.
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] = 10.0
    # A user keeps seeing the same decision for this long (no flicker between requests).
    sticky_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] = 86400


class Reward(Struct, forbid_unknown_fields=True, kw_only=True):
    """Which events count as this surface's conversions, and for how long after."""

    categories: Annotated[list[Category], Meta(max_length=5)] = msgspec.field(
        default_factory=lambda: ["conversion"]
    )
    events: Annotated[list[Pattern], Meta(max_length=100)] = msgspec.field(default_factory=list)
    # None: the workspace's attribution window.
    attribution_window_hours: Annotated[int, Meta(ge=1, le=24 * 90)] | None = None


class SurfaceConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    """What is stored in the ``config`` column."""

    control: Control = msgspec.field(default_factory=Control)
    reward: Reward = msgspec.field(default_factory=Reward)
    # Only users in this audience get personalized content here (eligibility).
    audience_id: str | None = None


class VariantCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A variant ("alternate") of a surface's content."""

    name: Name
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    labels: Labels = msgspec.field(default_factory=dict)
    default: bool = False


class VariantUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    payload: dict[str, Any] | UnsetType = UNSET
    labels: Labels | UnsetType = UNSET
    default: bool | UnsetType = UNSET


class VariantPublic(Struct, kw_only=True):
    id: str
    name: str
    payload: dict[str, Any]
    labels: dict[str, str]
    is_default: bool
    created_at: datetime


class SurfaceCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/surfaces``: a surface, optionally with its variants."""

    name: Name
    description: Annotated[str, Meta(max_length=2000)] = ""
    status: Status = "active"
    control: Control = msgspec.field(default_factory=Control)
    reward: Reward = msgspec.field(default_factory=Reward)
    audience_id: str | None = None
    variants: Annotated[list[VariantCreate], Meta(max_length=200)] = msgspec.field(
        default_factory=list
    )


class ControlUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    min_gap_days: Annotated[float, Meta(ge=0, le=365)] | UnsetType = UNSET
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] | UnsetType = UNSET
    sticky_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] | UnsetType = UNSET


class SurfaceUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/surfaces/{id}``: fields left out keep their value."""

    name: Name | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=2000)] | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    control: ControlUpdate | UnsetType = UNSET
    reward: Reward | UnsetType = UNSET
    # null removes the eligibility rule.
    audience_id: str | UnsetType | None = UNSET


class SurfacePublic(Struct, kw_only=True):
    id: str
    name: str
    description: str
    status: Status
    control: Control
    reward: Reward
    audience_id: str | None
    default_variant_id: str | None
    variants: list[VariantPublic]
    created_at: datetime
    updated_at: datetime


class SurfaceSummary(Struct, kw_only=True):
    id: str
    name: str
    status: Status
    n_variants: int
    created_at: datetime
