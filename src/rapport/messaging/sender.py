"""Sending: claim due sends, check them against the rules of the moment, deliver, record.

Each batch is claimed in one transaction (``sending`` with a lease), delivered
concurrently, and its results recorded in another. A process that dies mid-batch leaves
``sending`` rows whose lease runs out; they are claimed again and re-sent under the same
send id, which every provider receives as its idempotency key or collapse id — so a
crash never skips a message, and the device shows at most one.

Checks made at send time, because they depend on the moment: the user's quiet hours
(the send moves to when they end), frequency caps across campaigns (the send moves a
day later), a triggered campaign's exit event (the send is dropped), and a device token
(push channels need one).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from rapport.core.db import Database
from rapport.decide import storage as decide_storage
from rapport.messaging import agents, storage
from rapport.messaging.providers import storage as provider_storage
from rapport.messaging.providers.base import Outcome, Provider, PushMessage, Recipient, SendResult
from rapport.messaging.schemas import CampaignConfig
from rapport.messaging.service import config_of, window_of
from rapport.messaging.timing import Quiet, zone

log = logging.getLogger("rapport.messaging")

DAY = 86400.0
WEEK = 7 * DAY
MAX_ATTEMPTS = 5
MAX_BACKOFF = 600.0

# Opens a workspace's provider: (connection, workspace id, provider id) -> Provider.
ProviderSource = Callable[[Connection, str, str], Provider]


def backoff(attempts: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter: up to 2, 4, 8, ... seconds, capped."""
    return rng.uniform(0.5, 1.0) * min(MAX_BACKOFF, 2.0 ** max(attempts, 1))


@dataclass
class Job:
    """One claimed send and what is known about it."""

    send: Any
    campaign: Any
    config: CampaignConfig
    provider_key: str
    message: PushMessage | None = None
    recipient: Recipient | None = None
    result: SendResult | None = None
    # Set when the send is settled without a delivery: (status, reason, scheduled_at).
    settled: tuple[str, str | None, float] | None = None


class Sender:
    """Delivers due sends of running campaigns through their providers."""

    def __init__(
        self,
        database: Database,
        open_provider: ProviderSource,
        dry_run_provider: Callable[[], Provider],
        *,
        lease_seconds: float = 60.0,
        batch_size: int = 1000,
        concurrency: int = 64,
    ) -> None:
        self.database = database
        self.open_provider = open_provider
        self.dry_run_provider = dry_run_provider
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.rng = random.Random()
        self._providers: dict[str, tuple[float, Provider]] = {}
        self._paused_until: dict[str, float] = {}  # provider key -> time (429 backoff)
        self._buckets: dict[str, tuple[float, float]] = {}  # campaign -> (tokens, at)

    # -- rate limits -----------------------------------------------------------------
    def _allowance(self, campaign: Any, config: CampaignConfig, now: float) -> int:
        """How many sends the campaign's rate limit allows right now (token bucket)."""
        key = _provider_key(campaign, config)
        if self._paused_until.get(key, 0.0) > now:
            return 0
        rate = config.rate_limit_per_second
        if rate is None:
            return self.batch_size
        tokens, at = self._buckets.get(campaign.id, (rate, now))
        tokens = min(rate, tokens + (now - at) * rate)  # bursts of at most a second
        self._buckets[campaign.id] = (tokens, now)
        return min(self.batch_size, int(tokens))

    def _spend(self, campaign_id: str, count: int) -> None:
        if campaign_id in self._buckets:
            tokens, at = self._buckets[campaign_id]
            self._buckets[campaign_id] = (tokens - count, at)

    # -- one round -------------------------------------------------------------------
    async def send_due(self, campaigns: Sequence[Any], now: float | None = None) -> int:
        """Claim and deliver one batch per running campaign; how many were claimed."""
        now = time.time() if now is None else now
        jobs: list[Job] = []
        with self.database.begin() as conn:
            for campaign in campaigns:
                config = config_of(campaign)
                allowed = self._allowance(campaign, config, now)
                if allowed <= 0:
                    continue
                claimed = storage.claim_due(conn, [campaign.id], now, allowed, self.lease_seconds)
                self._spend(campaign.id, len(claimed))
                key = _provider_key(campaign, config)
                jobs += [Job(send, campaign, config, key) for send in claimed]
        if not jobs:
            return 0
        with self.database.read() as conn:
            self._prepare(conn, jobs, now)
        await self._deliver(jobs)
        with self.database.begin() as conn:
            self._record(conn, jobs, time.time())
        return len(jobs)

    def _prepare(self, conn: Connection, jobs: list[Job], now: float) -> None:
        """Apply the checks of the moment and build each message and recipient."""
        by_workspace: dict[str, list[Job]] = {}
        for job in jobs:
            by_workspace.setdefault(job.send.workspace_id, []).append(job)
        for workspace_id, group in by_workspace.items():
            profile_ids = [job.send.profile_id for job in group]
            people = storage.recipients(conn, workspace_id, profile_ids)
            capped = any(j.config.caps.per_day or j.config.caps.per_week for j in group)
            day: Mapping[str, int] = {}
            week: Mapping[str, int] = {}
            if capped:  # the counts are only read when some campaign has a cap
                day = storage.sent_counts_since(conn, workspace_id, profile_ids, now - DAY)
                week = storage.sent_counts_since(conn, workspace_id, profile_ids, now - WEEK)
            exits = self._exits(conn, workspace_id, group)
            batch: Counter[str] = Counter()  # sends to each profile in this batch
            for job in group:
                self._check(job, people[job.send.profile_id], day, week, batch, exits, now)

    def _exits(self, conn: Connection, workspace_id: str, group: list[Job]) -> set[Any]:
        pairs = []
        for job in group:
            trigger = job.config.trigger
            since = (job.send.context or {}).get("trigger_at")
            if trigger is not None and trigger.exit_event and since is not None:
                pairs.append((job.send.profile_id, trigger.exit_event, float(since)))
        return storage.exited_profiles(conn, workspace_id, pairs) if pairs else set()

    def _check(
        self,
        job: Job,
        person: Mapping[str, Any],
        day: Mapping[str, int],
        week: Mapping[str, int],
        batch: Counter[str],
        exits: set[Any],
        now: float,
    ) -> None:
        send, config = job.send, job.config
        context = send.context or {}
        trigger = config.trigger
        since = context.get("trigger_at")
        exit_event = trigger.exit_event if trigger is not None else None
        if (
            exit_event
            and since is not None
            and (send.profile_id, exit_event, float(since)) in exits
        ):
            job.settled = ("exited", exit_event, send.scheduled_at)
            return
        tz = zone(context.get("timezone") or person.get("timezone"))
        trigger_at = context.get("trigger_at") if job.campaign.kind == "triggered" else None
        _, window_end = window_of(
            job.campaign, config, float(trigger_at) if trigger_at is not None else None
        )
        if config.quiet_hours is not None:
            quiet = Quiet.parse(config.quiet_hours.start, config.quiet_hours.end)
            if quiet.is_quiet(now, tz):
                later = quiet.next_allowed(now, tz)
                job.settled = _later(later, window_end, "quiet_hours")
                return
        caps = config.caps
        sent_today = day.get(send.profile_id, 0) + batch[send.profile_id]
        sent_week = week.get(send.profile_id, 0) + batch[send.profile_id]
        if (caps.per_day is not None and sent_today >= caps.per_day) or (
            caps.per_week is not None and sent_week >= caps.per_week
        ):
            job.settled = _later(now + DAY, window_end, "frequency_cap")
            return
        device = person.get("device")
        provider = self._provider(job)
        needs_token = not isinstance(provider, BaseException) and provider.needs_token
        if needs_token and device is None:
            job.settled = ("skipped", "no_device", send.scheduled_at)
            return
        alternate = next((a for a in config.alternates if a.id == send.alternate_id), None)
        if alternate is None:
            job.settled = ("failed", "alternate_removed", send.scheduled_at)
            return
        batch[send.profile_id] += 1
        identities = person.get("identities", {})
        job.message = PushMessage(
            send_id=send.id,
            campaign_id=send.campaign_id,
            title=alternate.title,
            body=alternate.body,
            deep_link=alternate.deep_link,
            data={**alternate.data, "rapport_send_id": send.id},
            ttl_seconds=int(max(60.0, window_end - now)) if window_end else None,
        )
        job.recipient = Recipient(
            profile_id=send.profile_id,
            external_id=identities.get("external_id"),
            device_id=device["device_id"] if device else None,
            token=device["token"] if device else None,
            platform=device["os"] if device else None,
            email=identities.get("email"),
            phone=identities.get("phone"),
        )

    async def _deliver(self, jobs: list[Job]) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        providers: dict[str, Provider | BaseException] = {}
        for job in jobs:
            if job.message is not None and job.provider_key not in providers:
                providers[job.provider_key] = self._provider(job)

        async def one(job: Job) -> None:
            provider = providers[job.provider_key]
            if isinstance(provider, BaseException):
                job.result = SendResult(Outcome.PERMANENT, code="provider_unavailable")
                return
            assert job.message is not None
            assert job.recipient is not None
            async with gate:
                try:
                    job.result = await provider.send(job.message, job.recipient)
                except Exception as exc:  # a provider bug must not lose the batch
                    log.exception("provider raised", extra={"provider": job.provider_key})
                    job.result = SendResult(
                        Outcome.TRANSIENT, code="provider_error", detail=str(exc)
                    )

        await asyncio.gather(*(one(job) for job in jobs if job.message is not None))

    def _provider(self, job: Job) -> Provider | BaseException:
        if job.config.dry_run or job.campaign.provider_id is None:
            key = "dry-run"
            cached = self._providers.get(key)
            if cached is None:
                cached = self._providers[key] = (0.0, self.dry_run_provider())
            return cached[1]
        cached = self._providers.get(job.provider_key)
        try:
            if cached is None:
                with self.database.read() as conn:
                    provider = self.open_provider(
                        conn, job.campaign.workspace_id, job.campaign.provider_id
                    )
                cached = self._providers[job.provider_key] = (time.monotonic(), provider)
        except Exception as exc:
            log.warning("provider cannot be opened", extra={"error": str(exc)})
            return exc
        return cached[1]

    def forget_provider(self, provider_id: str) -> None:
        """Credentials changed: open the provider afresh next time."""
        for key in [k for k in self._providers if k.endswith(f":{provider_id}")]:
            self._providers.pop(key, None)

    def _record(self, conn: Connection, jobs: list[Job], now: float) -> None:
        rows: list[dict[str, Any]] = []
        increments: agents.Increments = {}
        by_workspace: dict[str, agents.Increments] = {}
        for job in jobs:
            send = job.send
            row = {
                "id": send.id,
                "status": "planned",
                "reason": None,
                "scheduled_at": send.scheduled_at,
                "sent_at": None,
                "provider_message_id": None,
                "device_id": job.recipient.device_id if job.recipient else None,
                "updated_at": now,
            }
            if job.settled is not None:
                row["status"], row["reason"], row["scheduled_at"] = job.settled
            else:
                result = job.result or SendResult(Outcome.TRANSIENT, code="not_attempted")
                self._apply(job, result, row, now)
                device_id = job.recipient.device_id if job.recipient else None
                if result.outcome is Outcome.INVALID_TOKEN and device_id:
                    provider_storage.retire_token(conn, send.workspace_id, device_id=device_id)
                if result.ok:
                    increments = by_workspace.setdefault(send.workspace_id, {})
                    agents.merge_increments(
                        increments,
                        agents.trial_increments(
                            send.profile_id,
                            agents.content_of(job.config, send.alternate_id),
                            send.slot,
                        ),
                    )
            rows.append(row)
        storage.record_results(
            conn, [tuple(row[field] for field in storage.RESULT_FIELDS) for row in rows]
        )
        for workspace_id, increments in by_workspace.items():
            decide_storage.add_stats(conn, workspace_id, increments, now)

    def _apply(self, job: Job, result: SendResult, row: dict[str, Any], now: float) -> None:
        """Map a provider's outcome to the send's next state."""
        attempts = int(job.send.attempts)
        outcome = result.outcome
        if outcome is Outcome.SENT:
            row.update(status="sent", sent_at=now, provider_message_id=result.provider_message_id)
        elif outcome is Outcome.INVALID_TOKEN:
            row.update(status="failed", reason="invalid_token")
        elif outcome is Outcome.PERMANENT:
            row.update(status="failed", reason=_reason("permanent", result.code))
        elif attempts >= MAX_ATTEMPTS:
            row.update(status="failed", reason=_reason(outcome.value, result.code))
        elif outcome is Outcome.RATE_LIMITED:
            wait = result.retry_after if result.retry_after else backoff(attempts, self.rng)
            self._paused_until[job.provider_key] = now + wait
            row.update(status="planned", reason="rate_limited", scheduled_at=now + wait)
        else:
            wait = backoff(attempts, self.rng)
            row.update(
                status="planned", reason=_reason("retry", result.code), scheduled_at=now + wait
            )

    async def aclose(self) -> None:
        for _, provider in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # closing is best effort
                log.debug("provider close failed", exc_info=True)
        self._providers.clear()


def _reason(prefix: str, code: str | None) -> str:
    return f"{prefix}:{code}"[:64] if code else prefix


def _provider_key(campaign: Any, config: CampaignConfig) -> str:
    if config.dry_run or campaign.provider_id is None:
        return "dry-run"
    return f"{campaign.workspace_id}:{campaign.provider_id}"


def _later(when: float, window_end: float, reason: str) -> tuple[str, str | None, float]:
    """Move a send to ``when``, or drop it when that is past its window."""
    if when >= window_end:
        return ("skipped", reason, when)
    return ("planned", reason, when)
