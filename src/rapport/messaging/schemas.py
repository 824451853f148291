"""Shapes of campaigns that cross the service boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from rapport.surfaces.schemas import Labels

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]
EventName = Annotated[str, Meta(min_length=1, max_length=255)]
ClockTime = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Kind = Literal["broadcast", "triggered"]
Channel = Literal["push", "sms", "email", "webhook"]
Timing = Literal["optimize", "immediate"]
Status = Literal["draft", "scheduled", "running", "paused", "completed"]
SendStatus = Literal["planned", "sending", "sent", "failed", "skipped", "held_out", "exited"]


class AlternateCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """One version of the message; the content agent picks among them per user."""

    name: Name
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    body: Text = ""
    deep_link: Annotated[str, Meta(max_length=2000)] | None = None
    data: Annotated[dict[str, Annotated[str, Meta(max_length=1000)]], Meta(max_length=50)] = (
        msgspec.field(default_factory=dict)
    )
    labels: Labels = msgspec.field(default_factory=dict)


class Alternate(Struct, kw_only=True):
    id: str
    name: str
    title: str
    body: str
    deep_link: str | None
    data: dict[str, str]
    labels: dict[str, str]


class Trigger(Struct, forbid_unknown_fields=True, kw_only=True):
    """A triggered campaign sends after ``event``, unless ``exit_event`` happens first."""

    event: EventName
    delay_seconds: Annotated[int, Meta(ge=0, le=30 * 86400)] = 0
    exit_event: EventName | None = None


class Caps(Struct, forbid_unknown_fields=True, kw_only=True):
    """Most messages a user gets, across every campaign of the workspace."""

    per_day: Annotated[int, Meta(ge=1, le=100)] | None = None
    per_week: Annotated[int, Meta(ge=1, le=500)] | None = None


class QuietHours(Struct, forbid_unknown_fields=True, kw_only=True):
    """No message between ``start`` and ``end``, in the user's own time zone."""

    start: ClockTime = "21:00"
    end: ClockTime = "08:00"
    # For users whose time zone is unknown.
    default_timezone: Annotated[str, Meta(min_length=1, max_length=64)] = "UTC"


class CampaignConfig(Struct, forbid_unknown_fields=True, kw_only=True):
    """What is stored in the ``config`` column."""

    channel: Channel = "push"
    alternates: list[Alternate] = msgspec.field(default_factory=list)
    timing: Timing = "optimize"
    window_days: int = 7
    trigger: Trigger | None = None
    caps: Caps = msgspec.field(default_factory=Caps)
    quiet_hours: QuietHours | None = None
    rate_limit_per_second: float | None = None
    holdout_percent: float = 10.0
    attribution_window_hours: int = 72
    dry_run: bool = False


class CampaignCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/campaigns``."""

    name: Name
    kind: Kind = "broadcast"
    channel: Channel = "push"
    provider_id: str | None = None
    audience_id: str | None = None
    alternates: Annotated[list[AlternateCreate], Meta(min_length=1, max_length=20)]
    # optimize: each user's best slot in the window; immediate: as soon as allowed.
    timing: Timing = "optimize"
    starts_at: datetime | None = None
    window_days: Annotated[int, Meta(ge=1, le=30)] = 7
    trigger: Trigger | None = None
    caps: Caps = msgspec.field(default_factory=Caps)
    quiet_hours: QuietHours | None = None
    rate_limit_per_second: Annotated[float, Meta(gt=0, le=100_000)] | None = None
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] = 10.0
    attribution_window_hours: Annotated[int, Meta(ge=1, le=24 * 30)] = 72
    dry_run: bool = False


class CampaignUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /api/campaigns/{id}``: only while draft or scheduled (a running campaign
    is paused first); fields left out keep their value."""

    name: Name | UnsetType = UNSET
    provider_id: str | UnsetType | None = UNSET
    audience_id: str | UnsetType | None = UNSET
    alternates: Annotated[list[AlternateCreate], Meta(min_length=1, max_length=20)] | UnsetType = (
        UNSET
    )
    timing: Timing | UnsetType = UNSET
    starts_at: datetime | UnsetType | None = UNSET
    window_days: Annotated[int, Meta(ge=1, le=30)] | UnsetType = UNSET
    trigger: Trigger | UnsetType | None = UNSET
    caps: Caps | UnsetType = UNSET
    quiet_hours: QuietHours | UnsetType | None = UNSET
    rate_limit_per_second: Annotated[float, Meta(gt=0, le=100000)] | UnsetType | None = UNSET
    holdout_percent: Annotated[float, Meta(ge=0, le=100)] | UnsetType = UNSET
    attribution_window_hours: Annotated[int, Meta(ge=1, le=24 * 30)] | UnsetType = UNSET
    dry_run: bool | UnsetType = UNSET


class CampaignPublic(Struct, kw_only=True):
    id: str
    name: str
    kind: Kind
    status: Status
    channel: Channel
    provider_id: str | None
    audience_id: str | None
    alternates: list[Alternate]
    timing: Timing
    starts_at: datetime | None
    window_days: int
    trigger: Trigger | None
    caps: Caps
    quiet_hours: QuietHours | None
    rate_limit_per_second: float | None
    holdout_percent: float
    attribution_window_hours: int
    dry_run: bool
    created_at: datetime
    updated_at: datetime


class SendPublic(Struct, kw_only=True):
    id: str
    campaign_id: str
    profile_id: str
    status: SendStatus
    reason: str | None
    alternate_id: str | None
    slot: str | None
    holdout: bool
    scheduled_at: datetime
    attempts: int
    device_id: str | None
    provider_message_id: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    converted_at: datetime | None


class Interval(Struct, kw_only=True):
    low: float
    high: float


class Outcomes(Struct, kw_only=True):
    """Counts and rates of one group of sends (an alternate, a slot, or all)."""

    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    conversion_rate: float | None
    conversion_interval: Interval | None


class Progress(Struct, kw_only=True):
    audience_planned: bool
    planned: int
    pending: int
    sent: int
    failed: int
    skipped: int
    held_out: int
    exited: int


class Uplift(Struct, kw_only=True):
    """Conversion of users the campaign was sent to, against its holdout: the difference
    of rates with its 95% credible interval, and the relative change."""

    treated_users: int
    treated_conversion_rate: float | None
    holdout_users: int
    holdout_conversion_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    relative: float | None


class CampaignReport(Struct, kw_only=True):
    campaign_id: str
    status: Status
    progress: Progress
    total: Outcomes
    failed_by_reason: dict[str, int]
    skipped_by_reason: dict[str, int]
    by_alternate: dict[str, Outcomes]
    by_slot: dict[str, Outcomes]
    uplift: Uplift
