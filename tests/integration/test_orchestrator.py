"""The orchestrator on a real database, with its clock driven by the test.

The provider here is a scripted implementation of the ``Provider`` protocol, answering
per device token; the real providers are tested against protocol-faithful fakes of FCM,
APNs and webhooks elsewhere. What is under test is what the orchestrator does with each
outcome, and when it sends.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select

from rapport.core import migrate
from rapport.core.db import Database
from rapport.core.ids import uuid7
from rapport.core.tables import campaign_sends, devices, profiles, providers
from rapport.decide import storage as decide_storage
from rapport.messaging import service, storage
from rapport.messaging.dryrun import DryRun
from rapport.messaging.orchestrator import Orchestrator
from rapport.messaging.providers.base import Outcome, PushMessage, Recipient, SendResult
from rapport.messaging.schemas import CampaignCreate
from rapport.messaging.sender import MAX_ATTEMPTS, Sender
from rapport.messaging.timing import Quiet, zone
from tests.conftest import Workspace

SCRIPT = {
    "ok": SendResult(Outcome.SENT, provider_message_id="m-1"),
    "gone": SendResult(Outcome.INVALID_TOKEN, code="Unregistered"),
    "busy": SendResult(Outcome.RATE_LIMITED, retry_after=30.0, code="TooManyRequests"),
    "flaky": SendResult(Outcome.TRANSIENT, code="ServiceUnavailable"),
    "bad": SendResult(Outcome.PERMANENT, code="PayloadTooLarge"),
}


class Scripted:
    """Answers by device token, and remembers every message it was given."""

    kind = "scripted"
    needs_token = True

    def __init__(self) -> None:
        self.received: list[tuple[PushMessage, Recipient]] = []

    async def send(self, message: PushMessage, recipient: Recipient) -> SendResult:
        self.received.append((message, recipient))
        return SCRIPT[(recipient.token or "ok").split("-")[0]]

    async def aclose(self) -> None:
        return None


def add_profile(
    db: Database, workspace_id: str, timezone: str | None = None, token: str | None = None
) -> str:
    pid = uuid7()
    now = time.time()
    with db.begin() as conn:
        conn.execute(
            insert(profiles),
            [
                {
                    "id": pid,
                    "workspace_id": workspace_id,
                    "properties": {},
                    "property_times": {},
                    "counts": {},
                    "event_count": 0,
                    "timezone": timezone,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        if token is not None:
            conn.execute(
                insert(devices),
                [
                    {
                        "workspace_id": workspace_id,
                        "device_id": f"dev-{pid}",
                        "profile_id": pid,
                        "token": token,
                        "os": "ios",
                        "token_retired": False,
                        "updated_at": now,
                    }
                ],
            )
    return pid


def add_provider(db: Database, workspace_id: str) -> str:
    pid = uuid7()
    with db.begin() as conn:
        conn.execute(
            insert(providers),
            [
                {
                    "id": pid,
                    "workspace_id": workspace_id,
                    "name": "scripted",
                    "kind": "log",
                    "settings": {},
                    "secret": b"",
                    "created_at": time.time(),
                    "updated_at": time.time(),
                }
            ],
        )
    return pid


def start_campaign(db: Database, workspace_id: str, **fields: Any) -> str:
    body = {
        "name": "c",
        "alternates": [{"name": "a", "title": "Hello", "labels": {"tone": "calm"}}],
        "holdout_percent": 0,
        "timing": "immediate",
        **fields,
    }
    with db.begin() as conn:
        created = service.create_campaign(conn, workspace_id, msgspec.convert(body, CampaignCreate))
        service.transition(conn, workspace_id, created.id, "schedule")
    return created.id


def sends(db: Database, campaign_id: str) -> dict[str, Any]:
    with db.read() as conn:
        rows = conn.execute(
            select(campaign_sends).where(campaign_sends.c.campaign_id == campaign_id)
        )
        return {row.profile_id: row for row in rows}


def orchestrator(db: Database, provider: Any, lease: float = 60.0) -> Orchestrator:
    sender = Sender(db, lambda conn, ws, pid: provider, DryRun, lease_seconds=lease)
    return Orchestrator(db, sender)


def run(orch: Orchestrator, now: float) -> bool:
    return asyncio.run(orch.tick(now))


@pytest.fixture
def db(fresh_database_url: str) -> Iterator[Database]:
    """A database of its own: no other process's orchestrator may touch these campaigns."""
    database = Database(fresh_database_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def provider_id(db: Database, workspace: Workspace) -> str:
    return add_provider(db, workspace.id)


def test_each_provider_outcome_is_mapped(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    people = {name: add_profile(db, workspace.id, token=f"{name}-token") for name in SCRIPT}
    cid = start_campaign(db, workspace.id, provider_id=provider_id)
    scripted = Scripted()
    orch = orchestrator(db, scripted)
    now = time.time()
    run(orch, now)
    after = sends(db, cid)
    assert after[people["ok"]].status == "sent"
    assert after[people["ok"]].provider_message_id == "m-1"
    assert after[people["gone"]].status == "failed"
    assert after[people["gone"]].reason == "invalid_token"
    assert after[people["bad"]].reason == "permanent:PayloadTooLarge"
    busy = after[people["busy"]]
    assert busy.status == "planned"
    assert busy.scheduled_at == pytest.approx(now + 30, abs=1)
    flaky = after[people["flaky"]]
    assert flaky.status == "planned"
    assert flaky.scheduled_at > now
    with db.read() as conn:
        retired = conn.execute(
            select(devices.c.token_retired).where(devices.c.profile_id == people["gone"])
        ).scalar_one()
    assert retired is True
    # The send id reaches the provider as the message's idempotency key.
    message, recipient = next(m for m in scripted.received if m[1].token == "ok-token")
    assert message.send_id == after[people["ok"]].id
    assert message.data["rapport_send_id"] == message.send_id
    assert recipient.device_id == f"dev-{people['ok']}"
    # Transient errors are retried with backoff, then given up on.
    later = now
    for _ in range(MAX_ATTEMPTS + 2):
        later += 3600
        run(orch, later)
    final = sends(db, cid)
    assert final[people["flaky"]].status == "failed"
    assert final[people["flaky"]].reason == "transient:ServiceUnavailable"
    assert final[people["flaky"]].attempts == MAX_ATTEMPTS
    assert final[people["ok"]].attempts == 1  # sent once, never again


def test_a_rate_limited_provider_pauses_until_retry_after(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    add_profile(db, workspace.id, token="busy-1")
    waiting = add_profile(db, workspace.id, token="ok-2")
    cid = start_campaign(db, workspace.id, provider_id=provider_id)
    scripted = Scripted()
    orch = orchestrator(db, scripted)
    orch.sender.batch_size = 1  # one at a time: the 429 comes first (ids are ordered)
    now = time.time()
    run(orch, now)
    run(orch, now + 1)
    assert sends(db, cid)[waiting].status == "planned"  # provider paused for 30 s
    run(orch, now + 31)
    assert sends(db, cid)[waiting].status == "sent"


def test_no_device_is_skipped_and_holdout_gets_nothing(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    tokenless = add_profile(db, workspace.id)
    cid = start_campaign(db, workspace.id, provider_id=provider_id)
    orch = orchestrator(db, Scripted())
    run(orch, time.time())
    assert sends(db, cid)[tokenless].status == "skipped"
    assert sends(db, cid)[tokenless].reason == "no_device"

    held = [add_profile(db, workspace.id, token=f"ok-{i}") for i in range(20)]
    scripted = Scripted()
    hid = start_campaign(db, workspace.id, provider_id=provider_id, holdout_percent=100)
    orch = orchestrator(db, scripted)
    run(orch, time.time())
    assert {sends(db, hid)[p].status for p in held} == {"held_out"}
    assert scripted.received == []


def test_quiet_hours_are_kept_in_each_users_time_zone(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    tokyo = add_profile(db, workspace.id, "Asia/Tokyo", token="ok-tokyo")
    new_york = add_profile(db, workspace.id, "America/New_York", token="ok-ny")
    unknown = add_profile(db, workspace.id, None, token="ok-unknown")
    # 15:00 UTC: midnight in Tokyo (quiet), 10:00 in New York, 17:00 in Paris (default).
    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC).timestamp()
    quiet = {"start": "21:00", "end": "08:00", "default_timezone": "Europe/Paris"}
    cid = start_campaign(
        db, workspace.id, provider_id=provider_id, quiet_hours=quiet, starts_at=None
    )
    orch = orchestrator(db, Scripted())
    run(orch, now)
    after = sends(db, cid)
    assert after[new_york].status == "sent"
    assert after[unknown].status == "sent"
    assert after[tokyo].status == "planned"
    local = datetime.fromtimestamp(after[tokyo].scheduled_at, zone("Asia/Tokyo"))
    assert local.strftime("%H:%M") == "08:00"
    run(orch, after[tokyo].scheduled_at + 1)
    assert sends(db, cid)[tokyo].status == "sent"


def test_optimized_times_fall_in_waking_slots_outside_quiet_hours(
    db: Database, workspace: Workspace
) -> None:
    zones = ["Asia/Tokyo", "America/New_York", "Europe/Paris", "Australia/Sydney"]
    people = {add_profile(db, workspace.id, zones[i % 4]): zones[i % 4] for i in range(40)}
    cid = start_campaign(
        db,
        workspace.id,
        dry_run=True,
        timing="optimize",
        window_days=7,
        quiet_hours={"start": "20:30", "end": "09:00"},
    )
    now = time.time()
    orch = orchestrator(db, Scripted())
    run(orch, now)
    quiet = Quiet.parse("20:30", "09:00")
    for pid, row in sends(db, cid).items():
        tz = zone(people[pid])
        assert now <= row.scheduled_at <= now + 7 * 86400
        assert not quiet.is_quiet(row.scheduled_at, tz)
        local = datetime.fromtimestamp(row.scheduled_at, tz)
        assert row.slot is not None
        assert row.slot.split("-")[0] == local.strftime("%a").lower()


def test_the_timing_agent_follows_a_users_evidence(db: Database, workspace: Workspace) -> None:
    fan = add_profile(db, workspace.id, "UTC")
    newcomer = add_profile(db, workspace.id, "UTC")
    with db.begin() as conn:
        evidence = {
            (fan, "send_daypart", part): (40.0, 20.0 if part == "evening" else 0.0)
            for part in ("morning", "midday", "afternoon", "evening", "night")
        }
        decide_storage.add_stats(conn, workspace.id, evidence, time.time())
    picks: Counter[tuple[str, str]] = Counter()
    for _ in range(15):
        cid = start_campaign(db, workspace.id, dry_run=True, timing="optimize")
        run(orchestrator(db, Scripted()), time.time())
        for pid, row in sends(db, cid).items():
            if pid in (fan, newcomer):
                picks[(pid, row.slot.split("-")[1])] += 1
    assert picks[(fan, "evening")] >= 13
    assert picks[(newcomer, "evening")] <= 10


def test_a_crashed_batch_is_sent_again_under_the_same_send_id(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    people = [add_profile(db, workspace.id, token=f"ok-{i}") for i in range(5)]
    cid = start_campaign(db, workspace.id, provider_id=provider_id)
    now = time.time()
    first = orchestrator(db, Scripted(), lease=5)
    # Plan, then claim a batch and "die" before recording anything.
    with db.begin() as conn:
        first._start_due(conn, now)
    with db.begin() as conn:
        first.planner.plan_page(conn, cid, now)
        claimed = storage.claim_due(conn, [cid], now, 100, 5)
    assert len(claimed) == 5
    survivor = Scripted()
    second = orchestrator(db, survivor, lease=5)
    run(second, now + 1)
    assert survivor.received == []  # still leased to the dead process
    run(second, now + 6)
    after = sends(db, cid)
    assert {after[p].status for p in people} == {"sent"}
    assert {m.send_id for m, _ in survivor.received} == {after[p].id for p in people}
    assert {after[p].attempts for p in people} == {2}


def test_the_rate_limit_spreads_sends_over_time(
    db: Database, workspace: Workspace, provider_id: str
) -> None:
    people = [add_profile(db, workspace.id, token=f"ok-{i}") for i in range(10)]
    cid = start_campaign(db, workspace.id, provider_id=provider_id, rate_limit_per_second=2)
    orch = orchestrator(db, Scripted())
    now = time.time()
    sent_after = []
    for second in range(6):
        run(orch, now + second)
        sent_after.append(sum(1 for p in people if sends(db, cid)[p].status == "sent"))
    assert sent_after[0] <= 2
    for second, count in enumerate(sent_after):
        assert count <= 2 * (second + 1)
    assert sent_after[-1] == 10
