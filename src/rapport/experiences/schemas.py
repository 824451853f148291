"""Shapes of experiences that cross the service boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from rapport.surfaces.schemas import Labels, Reward

Key = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.:-]*$")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Status = Literal["draft", "active", "paused", "archived"]
Allocation = Literal["fixed", "optimize"]
DataType = Literal["string", "number", "boolean", "json"]


class TypedValue(Struct, forbid_unknown_fields=True):
    """One payload field, MoEngage style: ``{"value": ..., "data_type": "string"}``."""

    value: Any
    data_type: DataType


Payload = Annotated[
    dict[Annotated[str, Meta(min_length=1, max_length=100)], TypedValue], Meta(max_length=100)
]


class VariationCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    payload: Payload
    # Share of traffic under `fixed` allocation (relative weights).
    weight: Annotated[float, Meta(ge=0, le=1_000_000)] = 1.0
    # What the agents learn about under `optimize` allocation.
    labels: Labels = msgspec.field(default_factory=dict)


class Variation(Struct, kw_only=True):
    id: str
    name: str
    payload: dict[str, TypedValue]
    weight: float
    labels: dict[str, str]


class ExperienceConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    """What is stored in the ``config`` column."""

    allocation: Allocation = "fixed"
    # Hashed, sticky share of users who get the first (control) variation.
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] = 0.0
    sticky_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] = 86400
    reward: Reward = msgspec.field(default_factory=Reward)


class ExperienceCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/experiences``. The first variation is the control."""

    key: Key
    name: Name
    status: Status = "draft"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    audience_id: str | None = None
    allocation: Allocation = "fixed"
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] = 0.0
    sticky_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] = 86400
    reward: Reward = msgspec.field(default_factory=Reward)
    variations: Annotated[list[VariationCreate], Meta(min_length=1, max_length=50)]


class ExperienceUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/experiences/{key}``: fields left out keep their value; variations are
    replaced whole (ids are kept for variations whose name is unchanged)."""

    name: Name | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    starts_at: datetime | UnsetType | None = UNSET
    ends_at: datetime | UnsetType | None = UNSET
    audience_id: str | UnsetType | None = UNSET
    allocation: Allocation | UnsetType = UNSET
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] | UnsetType = UNSET
    sticky_seconds: Annotated[int, Meta(ge=0, le=90 * 86400)] | UnsetType = UNSET
    reward: Reward | UnsetType = UNSET
    variations: Annotated[list[VariationCreate], Meta(min_length=1, max_length=50)] | UnsetType = (
        UNSET
    )


class ExperiencePublic(Struct, kw_only=True):
    id: str
    key: str
    name: str
    status: Status
    starts_at: datetime | None
    ends_at: datetime | None
    audience_id: str | None
    allocation: Allocation
    holdout_percent: float
    sticky_seconds: int
    reward: Reward
    variations: list[Variation]
    created_at: datetime
    updated_at: datetime
