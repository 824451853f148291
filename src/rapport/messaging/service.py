"""Managing campaigns: create, edit, move through their states, and report."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection

from rapport.audiences import storage as audience_storage
from rapport.core.clock import from_timestamp_or_none
from rapport.core.errors import Conflict, NotFound, ValidationFailed
from rapport.core.ids import uuid7
from rapport.core.pagination import Page, PageRequest, build_page, converted
from rapport.decide.intervals import rate_summary, uplift_interval
from rapport.decide.model import Counts
from rapport.messaging import storage
from rapport.messaging.providers import storage as provider_storage
from rapport.messaging.schemas import (
    Alternate,
    AlternateCreate,
    CampaignConfig,
    CampaignCreate,
    CampaignPublic,
    CampaignReport,
    CampaignUpdate,
    Interval,
    Outcomes,
    Progress,
    SendPublic,
    Uplift,
)
from rapport.messaging.timing import known_zone

# Which state each action moves a campaign from, and to.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "schedule": (("draft",), "scheduled"),
    "pause": (("scheduled", "running"), "paused"),
    "resume": (("paused",), "running"),
    "complete": (("draft", "scheduled", "running", "paused"), "completed"),
}
_EDITABLE = ("draft", "scheduled", "paused")


def config_of(row: Any) -> CampaignConfig:
    return msgspec.convert(row.config, CampaignConfig)


def window_of(
    row: Any, config: CampaignConfig, trigger_at: float | None = None
) -> tuple[float, float]:
    """When a campaign's sends may go out: ``window_days`` from its start, or, for a
    triggered campaign's send, from the trigger event."""
    start = trigger_at
    if start is None:
        start = row.starts_at if row.starts_at is not None else row.updated_at
    return float(start), float(start) + config.window_days * 86400.0


def public(row: Any) -> CampaignPublic:
    config = config_of(row)
    return CampaignPublic(
        id=row.id,
        name=row.name,
        kind=row.kind,
        status=row.status,
        channel=config.channel,
        provider_id=row.provider_id,
        audience_id=row.audience_id,
        alternates=config.alternates,
        timing=config.timing,
        starts_at=from_timestamp_or_none(row.starts_at),
        window_days=config.window_days,
        trigger=config.trigger,
        caps=config.caps,
        quiet_hours=config.quiet_hours,
        rate_limit_per_second=config.rate_limit_per_second,
        holdout_percent=config.holdout_percent,
        attribution_window_hours=config.attribution_window_hours,
        dry_run=config.dry_run,
        created_at=from_timestamp_or_none(row.created_at) or datetime.now(UTC),
        updated_at=from_timestamp_or_none(row.updated_at) or datetime.now(UTC),
    )


def _alternates(items: list[AlternateCreate], before: list[Alternate]) -> list[Alternate]:
    """Alternates with ids; an alternate keeps its id while its name is unchanged, so the
    agents' learning about it carries over an edit."""
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise ValidationFailed.single(["body", "alternates"], "alternate names must be unique")
    known = {alt.name: alt.id for alt in before}
    return [
        Alternate(
            id=known.get(item.name) or uuid7(),
            name=item.name,
            title=item.title,
            body=item.body,
            deep_link=item.deep_link,
            data=dict(item.data),
            labels=dict(item.labels),
        )
        for item in items
    ]


def _check(conn: Connection, workspace_id: str, row: dict[str, Any]) -> None:
    """Cross-field rules msgspec cannot express, with a 422 that points at the field."""
    config = msgspec.convert(row["config"], CampaignConfig)
    if row["kind"] == "triggered" and config.trigger is None:
        raise ValidationFailed.single(["body", "trigger"], "a triggered campaign needs a trigger")
    if row["kind"] == "broadcast" and config.trigger is not None:
        raise ValidationFailed.single(["body", "trigger"], "a broadcast has no trigger")
    if config.quiet_hours is not None:
        name = config.quiet_hours.default_timezone
        if not known_zone(name):
            raise ValidationFailed.single(
                ["body", "quiet_hours", "default_timezone"], f"unknown time zone {name!r}"
            )
    audience_id = row["audience_id"]
    if audience_id and audience_storage.get_audience(conn, workspace_id, audience_id) is None:
        raise ValidationFailed.single(["body", "audience_id"], "no such audience")
    provider_id = row["provider_id"]
    if provider_id and provider_storage.get_provider(conn, workspace_id, provider_id) is None:
        raise ValidationFailed.single(["body", "provider_id"], "no such provider")
    if row["status"] != "draft" and not provider_id and not config.dry_run:
        raise ValidationFailed.single(
            ["body", "provider_id"], "a campaign needs a provider unless it is a dry run"
        )


def _row(conn: Connection, workspace_id: str, campaign_id: str) -> Any:
    row = storage.get_campaign(conn, workspace_id, campaign_id)
    if row is None:
        raise NotFound(f"Campaign {campaign_id!r} does not exist", code="campaign_not_found")
    return row


def _config(body: CampaignCreate | CampaignConfig, alternates: list[Alternate]) -> dict[str, Any]:
    config = CampaignConfig(
        channel=body.channel,
        alternates=alternates,
        timing=body.timing,
        window_days=body.window_days,
        trigger=body.trigger,
        caps=body.caps,
        quiet_hours=body.quiet_hours,
        rate_limit_per_second=body.rate_limit_per_second,
        holdout_percent=body.holdout_percent,
        attribution_window_hours=body.attribution_window_hours,
        dry_run=body.dry_run,
    )
    return dict(msgspec.to_builtins(config))


def create_campaign(conn: Connection, workspace_id: str, body: CampaignCreate) -> CampaignPublic:
    now = time.time()
    campaign_id = uuid7()
    row = {
        "id": campaign_id,
        "workspace_id": workspace_id,
        "name": body.name,
        "kind": body.kind,
        "status": "draft",
        "provider_id": body.provider_id,
        "audience_id": body.audience_id,
        "config": _config(body, _alternates(body.alternates, [])),
        "starts_at": body.starts_at.timestamp() if body.starts_at else None,
        "plan_cursor": None,
        "planned_at": None,
        "created_at": now,
        "updated_at": now,
    }
    _check(conn, workspace_id, row)
    storage.insert_campaign(conn, row)
    return public(_row(conn, workspace_id, campaign_id))


def get_campaign(conn: Connection, workspace_id: str, campaign_id: str) -> CampaignPublic:
    return public(_row(conn, workspace_id, campaign_id))


def list_campaigns(conn: Connection, workspace_id: str, page: PageRequest) -> Page[CampaignPublic]:
    return converted(storage.list_campaigns(conn, workspace_id, page), public)


def update_campaign(
    conn: Connection, workspace_id: str, campaign_id: str, body: CampaignUpdate
) -> CampaignPublic:
    current = _row(conn, workspace_id, campaign_id)
    if current.status not in _EDITABLE:
        raise Conflict(
            f"A {current.status} campaign cannot be edited; pause it first",
            code="campaign_not_editable",
        )
    config = config_of(current)
    changes = {f: v for f in body.__struct_fields__ if (v := getattr(body, f)) is not msgspec.UNSET}
    alternates = config.alternates
    if "alternates" in changes:
        alternates = _alternates(changes.pop("alternates"), config.alternates)
    merged = msgspec.structs.replace(
        config,
        **{k: v for k, v in changes.items() if k in CampaignConfig.__struct_fields__},
    )
    row = {
        "kind": current.kind,
        "status": current.status,
        "name": changes.get("name", current.name),
        "provider_id": changes.get("provider_id", current.provider_id),
        "audience_id": changes.get("audience_id", current.audience_id),
        "config": _config(merged, alternates),
        "starts_at": current.starts_at,
        "updated_at": time.time(),
    }
    if "starts_at" in changes:
        starts_at = changes["starts_at"]
        row["starts_at"] = starts_at.timestamp() if starts_at else None
    _check(conn, workspace_id, row)
    row.pop("kind")
    row.pop("status")
    storage.update_campaign(conn, campaign_id, row)
    return public(_row(conn, workspace_id, campaign_id))


def delete_campaign(conn: Connection, workspace_id: str, campaign_id: str) -> None:
    current = _row(conn, workspace_id, campaign_id)
    if current.status in ("running", "scheduled"):
        raise Conflict("Pause or complete the campaign first", code="campaign_active")
    storage.delete_campaign(conn, campaign_id)


def transition(
    conn: Connection, workspace_id: str, campaign_id: str, action: str
) -> CampaignPublic:
    """Move a campaign along its life: schedule, pause, resume, complete."""
    current = _row(conn, workspace_id, campaign_id)
    sources, target = TRANSITIONS[action]
    if current.status not in sources:
        raise Conflict(
            f"Cannot {action} a {current.status} campaign", code="invalid_campaign_state"
        )
    if action == "schedule":
        _check(conn, workspace_id, {**current._asdict(), "status": "scheduled"})
    if action == "resume" and current.starts_at and current.starts_at > time.time():
        target = "scheduled"
    storage.update_campaign(conn, campaign_id, {"status": target, "updated_at": time.time()})
    if target == "completed":
        storage.drop_pending(conn, campaign_id, time.time())
    return public(_row(conn, workspace_id, campaign_id))


def send_public(row: Any) -> SendPublic:
    return SendPublic(
        id=row.id,
        campaign_id=row.campaign_id,
        profile_id=row.profile_id,
        status=row.status,
        reason=row.reason,
        alternate_id=row.alternate_id,
        slot=row.slot,
        holdout=bool(row.holdout),
        scheduled_at=from_timestamp_or_none(row.scheduled_at) or datetime.now(UTC),
        attempts=row.attempts,
        device_id=row.device_id,
        provider_message_id=row.provider_message_id,
        sent_at=from_timestamp_or_none(row.sent_at),
        delivered_at=from_timestamp_or_none(row.delivered_at),
        opened_at=from_timestamp_or_none(row.opened_at),
        clicked_at=from_timestamp_or_none(row.clicked_at),
        converted_at=from_timestamp_or_none(row.converted_at),
    )


def list_sends(
    conn: Connection, workspace_id: str, campaign_id: str, page: PageRequest
) -> Page[SendPublic]:
    _row(conn, workspace_id, campaign_id)
    after = page.after if isinstance(page.after, str) else None
    rows = storage.list_sends(conn, workspace_id, campaign_id, page.limit + 1, after)
    built = build_page(rows, page, key=lambda row: row.id, total=None)
    return Page(data=[send_public(r) for r in built.data], next_token=built.next_token)


# -- report ------------------------------------------------------------------------------


class _Tally:
    """Counts of one group of sends."""

    def __init__(self) -> None:
        self.sent = self.delivered = self.opened = self.clicked = self.converted = 0

    def add(self, row: Any) -> None:
        n = int(row.n)
        self.sent += n
        self.delivered += n if row.delivered else 0
        self.opened += n if row.opened else 0
        self.clicked += n if row.clicked else 0
        self.converted += n if row.converted else 0

    def outcomes(self) -> Outcomes:
        rate = interval = None
        if self.sent:
            rate = self.converted / self.sent
            _, low, high = rate_summary(self.converted, self.sent)
            interval = Interval(low=low, high=high)
        return Outcomes(
            sent=self.sent,
            delivered=self.delivered,
            opened=self.opened,
            clicked=self.clicked,
            converted=self.converted,
            conversion_rate=rate,
            conversion_interval=interval,
        )


def report(conn: Connection, workspace_id: str, campaign_id: str) -> CampaignReport:
    campaign = _row(conn, workspace_id, campaign_id)
    statuses: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    total, holdout = _Tally(), _Tally()
    by_alternate: dict[str, _Tally] = {}
    by_slot: dict[str, _Tally] = {}
    for row in storage.report_rows(conn, campaign_id):
        statuses[row.status] += int(row.n)
        if row.status == "failed":
            failed[row.reason or "unknown"] += int(row.n)
        elif row.status == "skipped":
            skipped[row.reason or "unknown"] += int(row.n)
        elif row.status == "held_out":
            holdout.add(row)
        elif row.status == "sent":
            total.add(row)
            by_alternate.setdefault(row.alternate_id or "", _Tally()).add(row)
            by_slot.setdefault(row.slot or "unslotted", _Tally()).add(row)
    uplift = Uplift(
        treated_users=total.sent,
        treated_conversion_rate=total.converted / total.sent if total.sent else None,
        holdout_users=holdout.sent,
        holdout_conversion_rate=holdout.converted / holdout.sent if holdout.sent else None,
        difference=None,
        low=None,
        high=None,
        relative=None,
    )
    if total.sent and holdout.sent:
        difference, low, high = uplift_interval(
            Counts(total.sent, total.converted), Counts(holdout.sent, holdout.converted)
        )
        control_rate = holdout.converted / holdout.sent
        uplift.difference, uplift.low, uplift.high = difference, low, high
        uplift.relative = difference / control_rate if control_rate else None
    progress = Progress(
        audience_planned=campaign.planned_at is not None,
        planned=sum(statuses.values()),
        pending=statuses["planned"] + statuses["sending"],
        sent=statuses["sent"],
        failed=statuses["failed"],
        skipped=statuses["skipped"],
        held_out=statuses["held_out"],
        exited=statuses["exited"],
    )
    return CampaignReport(
        campaign_id=campaign_id,
        status=campaign.status,
        progress=progress,
        total=total.outcomes(),
        failed_by_reason=dict(failed),
        skipped_by_reason=dict(skipped),
        by_alternate={k: v.outcomes() for k, v in sorted(by_alternate.items())},
        by_slot={k: v.outcomes() for k, v in sorted(by_slot.items())},
        uplift=uplift,
    )
