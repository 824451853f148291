"""Processing hooks of messaging: triggers, message events and conversions.

Runs inside processing, in the transaction that stores the events, so each event acts
exactly once:

- an event whose name is a running triggered campaign's trigger plans a send for its
  profile (one per trigger event: the event id is the send's dedupe key);
- an event carrying a send id (``send_id`` or ``rapport_send_id`` in its properties or in
  their ``data``) is news of that send: received/delivered, opened or clicked by its name,
  converted when its category is ``conversion``;
- a conversion without a send id credits the profile's latest send (or holdout
  placeholder) inside its campaign's attribution window.

The first open, click or conversion of a send is one success for its alternate and its
slot, for the user and the population.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, update

from rapport.audiences.preview import matching
from rapport.audiences.session import SessionContext
from rapport.core.tables import campaign_sends, profiles
from rapport.decide import storage as decide_storage
from rapport.messaging import agents, storage
from rapport.messaging.planner import Chooser, Plan, new_rng, plan_user
from rapport.messaging.service import config_of, window_of

SEND_KEYS = ("send_id", "rapport_send_id")
_SUCCESS_COLUMNS = ("opened_at", "clicked_at", "converted_at")
_MAX_WINDOW_SECONDS = 30 * 86400.0


def send_references(properties: Mapping[str, Any]) -> list[str]:
    """Send ids an event's properties carry."""
    found = []
    for holder in (properties, properties.get("data"), properties.get("metadata")):
        if isinstance(holder, Mapping):
            for key in SEND_KEYS:
                value = holder.get(key)
                if isinstance(value, str) and value:
                    found.append(value)
    return found


def outcome_column(name: str, category: str) -> str | None:
    """Which moment of a send an event records."""
    if category == "conversion":
        return "converted_at"
    lowered = name.lower()
    if "click" in lowered or "tap" in lowered:
        return "clicked_at"
    if "open" in lowered:
        return "opened_at"
    if "receiv" in lowered or "deliver" in lowered:
        return "delivered_at"
    return None


class MessagingFeedback:
    """The processing hooks of the messaging domain."""

    def __init__(self, ttl_seconds: float = 2.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._triggered: dict[str, tuple[float, list[Any]]] = {}

    def forget(self) -> None:
        """Campaigns changed: read the triggered ones afresh."""
        self._triggered.clear()

    def _triggers(self, conn: Connection, workspace_id: str) -> list[Any]:
        cached = self._triggered.get(workspace_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        rows = storage.running_triggered(conn, workspace_id)
        self._triggered[workspace_id] = (time.monotonic(), rows)
        return rows

    def on_events(
        self, conn: Connection, workspace_id: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        increments: agents.Increments = {}
        tagged = [(row, refs) for row in rows if (refs := send_references(row["properties"]))]
        if tagged:
            sends = storage.get_sends(conn, workspace_id, [r for _, refs in tagged for r in refs])
            for row, refs in tagged:
                for ref in refs:
                    send = sends.get(ref)
                    if send is not None:
                        column = outcome_column(row["name"], row["category"])
                        if column is not None:
                            self._record(conn, send, column, row, increments)
        tagged_ids = {id(row) for row, _ in tagged}
        for row in rows:
            if row["category"] == "conversion" and id(row) not in tagged_ids:
                self._attribute(conn, workspace_id, row, increments)
        triggers = self._triggers(conn, workspace_id)
        if triggers:
            self._trigger(conn, workspace_id, rows, triggers)
        if increments:
            decide_storage.add_stats(conn, workspace_id, increments, time.time())

    def _record(
        self,
        conn: Connection,
        send: Any,
        column: str,
        row: Mapping[str, Any],
        increments: agents.Increments,
    ) -> None:
        if getattr(send, column) is not None:
            return
        values: dict[str, Any] = {column: row["occurred_at"], "updated_at": time.time()}
        if column == "converted_at":
            values["conversion_event_id"] = row["event_id"]
        conn.execute(update(campaign_sends).where(campaign_sends.c.id == send.id).values(**values))
        first_success = column in _SUCCESS_COLUMNS and all(
            getattr(send, c) is None for c in _SUCCESS_COLUMNS
        )
        if first_success and send.status == "sent":
            config = config_of(storage.get_campaign(conn, send.workspace_id, send.campaign_id))
            agents.merge_increments(
                increments,
                agents.trial_increments(
                    send.profile_id,
                    agents.content_of(config, send.alternate_id),
                    send.slot,
                    success=True,
                ),
            )

    def _attribute(
        self,
        conn: Connection,
        workspace_id: str,
        row: Mapping[str, Any],
        increments: agents.Increments,
    ) -> None:
        occurred = float(row["occurred_at"])
        candidates = storage.latest_attributable(
            conn, workspace_id, row["profile_id"], occurred - _MAX_WINDOW_SECONDS, occurred
        )
        windows: dict[str, float] = {}
        for send in candidates:
            if send.campaign_id not in windows:
                campaign = storage.get_campaign(conn, workspace_id, send.campaign_id)
                hours = config_of(campaign).attribution_window_hours if campaign else 0
                windows[send.campaign_id] = hours * 3600.0
            moment = send.sent_at if send.sent_at is not None else send.scheduled_at
            if moment <= occurred <= moment + windows[send.campaign_id]:
                self._record(conn, send, "converted_at", row, increments)
                return

    def _trigger(
        self,
        conn: Connection,
        workspace_id: str,
        rows: Sequence[Mapping[str, Any]],
        triggers: list[Any],
    ) -> None:
        by_name: dict[str, list[Any]] = {}
        for campaign in triggers:
            config = config_of(campaign)
            if config.trigger is not None:
                by_name.setdefault(config.trigger.event, []).append(campaign)
        fired = [(row, by_name[row["name"]]) for row in rows if row["name"] in by_name]
        if not fired:
            return
        now = time.time()
        profile_ids = sorted({row["profile_id"] for row, _ in fired})
        people = {
            p.id: p
            for p in conn.execute(
                profiles.select().where(
                    profiles.c.workspace_id == workspace_id, profiles.c.id.in_(profile_ids)
                )
            )
        }
        scoped = decide_storage.stats_for(
            conn, workspace_id, [decide_storage.POPULATION, *profile_ids]
        )
        population = scoped.pop(decide_storage.POPULATION, {})
        # One plan and one chooser per campaign for the batch; each send gets its own
        # window, which runs from its trigger event.
        prepared: dict[str, tuple[Plan, Chooser]] = {}
        for campaign in {c.id: c for _, campaigns in fired for c in campaigns}.values():
            plan = Plan.of(conn, campaign)
            if not plan.nobody:
                prepared[campaign.id] = (plan, Chooser(plan, population, new_rng(), pool_size=0))
        sends = []
        for row, campaigns in fired:
            person = people.get(row["profile_id"])
            if person is None:
                continue
            for campaign in campaigns:
                if campaign.id not in prepared:
                    continue
                plan, chooser = prepared[campaign.id]
                if plan.rule is not None:
                    session = SessionContext(now=now)
                    if not matching(conn, workspace_id, plan.rule, [person], session, now):
                        continue
                delay = plan.config.trigger.delay_seconds if plan.config.trigger else 0
                occurred = float(row["occurred_at"])
                event_plan = replace(plan, window=window_of(campaign, plan.config, occurred))
                send = plan_user(
                    event_plan,
                    chooser,
                    person.id,
                    person.timezone,
                    scoped.get(person.id, {}),
                    str(row["event_id"]),
                    now,
                    at=occurred + delay,
                )
                send["context"]["trigger_at"] = occurred
                sends.append(send)
        if sends:
            storage.insert_sends(conn, sends)

    def on_merge(self, conn: Connection, workspace_id: str, loser: str, survivor: str) -> None:
        storage.move_profile(conn, workspace_id, loser, survivor)

    def on_erase(self, conn: Connection, workspace_id: str, profile_id: str) -> None:
        storage.forget_profile(conn, workspace_id, profile_id)
