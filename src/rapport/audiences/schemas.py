"""Shapes of audiences that cross the service boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Description = Annotated[str, Meta(max_length=2000)]


class AudienceCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/audiences``: a named rule tree (validated by ``rules.parse_rule``)."""

    name: Name
    description: Description = ""
    rule: dict[str, Any]


class AudienceUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    rule: dict[str, Any] | UnsetType = UNSET


class AudiencePublic(Struct, kw_only=True):
    id: str
    name: str
    description: str
    rule: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SessionSample(Struct, forbid_unknown_fields=True, kw_only=True):
    """In-session attributes to preview with (rules on them otherwise see nothing)."""

    attributes: dict[str, str | int | float | bool] = {}
    DAY_OF_THE_WEEK: str | None = None
    TIME_OF_THE_DAY: str | None = None
    USER_IP_ADDRESS: str | None = None
    USER_AGENT: str | None = None


class PreviewRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/audiences/preview``: size a rule before saving it."""

    rule: dict[str, Any]
    session: SessionSample | None = None


class AudienceSize(Struct, kw_only=True):
    """How many of the workspace's profiles match, with a few examples."""

    matched: int
    profiles: int
    sample: list[str]
