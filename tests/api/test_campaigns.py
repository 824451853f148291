"""Campaigns through the Management API, run by the server's own orchestrator.

Dry runs go through the whole path (planning, timing, caps, sending, feedback,
reports) without a provider; the provider branch's tests cover FCM, APNs and webhooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from rapport.core.db import Database
from rapport.core.keys import KeyKind
from rapport.core.tables import agent_stats, campaign_sends
from rapport.decide.model import in_holdout
from tests.conftest import API_VERSION, Ingest, Workspace, access_token, management_headers


def campaign(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Spring sale",
        "alternates": [
            {"name": "urgent", "title": "Last day!", "body": "-20%", "labels": {"tone": "urgent"}},
            {"name": "calm", "title": "Spring is here", "labels": {"tone": "friendly"}},
        ],
        "dry_run": True,
        "timing": "immediate",
        "holdout_percent": 20,
    }
    body.update(changes)
    return body


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def sends_of(db: Database, campaign_id: str) -> list[Any]:
    with db.read() as conn:
        return list(
            conn.execute(select(campaign_sends).where(campaign_sends.c.campaign_id == campaign_id))
        )


def users(ingest: Ingest, count: int, prefix: str = "u", timezone: str = "UTC") -> None:
    events = [
        {
            "contact_id": f"{prefix}{i}",
            "event_name": "app_open",
            "timestamp": int(time.time() * 1000),
            "timezone": timezone,
        }
        for i in range(count)
    ]
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()


def profile_id(admin: httpx.Client, external_id: str) -> str:
    found = admin.get("/api/profiles", params={"identity": external_id, "kind": "external_id"})
    return str(found.json()["data"][0]["id"])


def test_validation_and_states(admin: httpx.Client) -> None:
    missing = admin.post("/api/campaigns", json={"name": "x"})
    assert missing.status_code == 422
    no_trigger = admin.post("/api/campaigns", json=campaign(kind="triggered"))
    assert no_trigger.status_code == 422
    assert no_trigger.json()["detail"][0]["loc"] == ["body", "trigger"]
    bad_tz = admin.post(
        "/api/campaigns", json=campaign(quiet_hours={"default_timezone": "Mars/Olympus"})
    )
    assert bad_tz.status_code == 422
    bad_clock = admin.post("/api/campaigns", json=campaign(quiet_hours={"start": "25:00"}))
    assert bad_clock.status_code == 422
    unknown_audience = admin.post("/api/campaigns", json=campaign(audience_id="nope"))
    assert unknown_audience.json()["detail"][0]["loc"] == ["body", "audience_id"]
    duplicate_names = campaign(
        alternates=[{"name": "a", "title": "1"}, {"name": "a", "title": "2"}]
    )
    assert admin.post("/api/campaigns", json=duplicate_names).status_code == 422

    needs_provider = admin.post("/api/campaigns", json=campaign(dry_run=False))
    assert needs_provider.status_code == 201
    refused = admin.post(f"/api/campaigns/{needs_provider.json()['id']}/schedule")
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "provider_id"]

    created = admin.post("/api/campaigns", json=campaign(starts_at="2099-01-01T00:00:00Z"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    assert [a["name"] for a in body["alternates"]] == ["urgent", "calm"]
    cid = body["id"]
    assert admin.post(f"/api/campaigns/{cid}/pause").status_code == 409
    assert admin.post(f"/api/campaigns/{cid}/schedule").json()["status"] == "scheduled"
    # Edits keep alternate ids while names are unchanged.
    edited = admin.patch(
        f"/api/campaigns/{cid}",
        json={"alternates": [{"name": "urgent", "title": "Hurry"}, {"name": "new", "title": "N"}]},
    )
    assert edited.status_code == 200
    assert edited.json()["alternates"][0]["id"] == body["alternates"][0]["id"]
    assert edited.json()["alternates"][1]["id"] != body["alternates"][1]["id"]
    assert admin.delete(f"/api/campaigns/{cid}").status_code == 409
    assert admin.post(f"/api/campaigns/{cid}/pause").json()["status"] == "paused"
    assert admin.post(f"/api/campaigns/{cid}/resume").json()["status"] == "scheduled"
    assert admin.post(f"/api/campaigns/{cid}/complete").json()["status"] == "completed"
    assert admin.patch(f"/api/campaigns/{cid}", json={"name": "late"}).status_code == 409
    assert admin.delete(f"/api/campaigns/{cid}").status_code == 204
    assert admin.get(f"/api/campaigns/{cid}").status_code == 404
    assert admin.get("/api/campaigns/nope/report").json()["error"]["code"] == "campaign_not_found"


def test_lists_page(admin: httpx.Client) -> None:
    ids = {admin.post("/api/campaigns", json=campaign(name=f"c{i}")).json()["id"] for i in range(5)}
    seen: set[str] = set()
    params: dict[str, Any] = {"limit": 2, "with_total": "true"}
    while True:
        page = admin.get("/api/campaigns", params=params).json()
        assert page["total"] == 5
        seen |= {c["id"] for c in page["data"]}
        if "next_token" not in page:
            break
        params["next_token"] = page["next_token"]
    assert seen == ids


def test_workspaces_never_see_each_others_campaigns(
    admin: httpx.Client, http: httpx.Client, workspace_factory: Callable[..., Workspace]
) -> None:
    cid = admin.post("/api/campaigns", json=campaign()).json()["id"]
    other = workspace_factory()
    token = access_token(http, other.keys[KeyKind.ADMIN])
    headers = management_headers(token, other.id)
    assert http.get(f"/api/campaigns/{cid}", headers=headers).status_code == 404
    assert http.get(f"/api/campaigns/{cid}/report", headers=headers).status_code == 404
    assert http.post(f"/api/campaigns/{cid}/schedule", headers=headers).status_code == 404
    assert http.get("/api/campaigns", headers=headers).json()["data"] == []


def test_dry_run_broadcast_reaches_everyone_once_and_holds_out_the_holdout(
    admin: httpx.Client, ingest: Ingest, db: Database, workspace: Workspace
) -> None:
    users(ingest, 40)
    cid = admin.post("/api/campaigns", json=campaign()).json()["id"]
    assert admin.post(f"/api/campaigns/{cid}/schedule").status_code == 200
    wait_for(lambda: admin.get(f"/api/campaigns/{cid}").json()["status"] == "completed")
    sends = sends_of(db, cid)
    assert len(sends) == 40
    assert len({s.profile_id for s in sends}) == 40
    for send in sends:
        held = in_holdout(workspace.id, cid, send.profile_id, 20)
        assert send.status == ("held_out" if held else "sent")
        assert (send.alternate_id is None) == held
        assert send.slot is None or "-" in send.slot
    report = admin.get(f"/api/campaigns/{cid}/report").json()
    held_out = sum(1 for s in sends if s.status == "held_out")
    assert report["progress"]["sent"] == 40 - held_out
    assert report["progress"]["held_out"] == held_out
    assert report["progress"]["pending"] == 0
    assert report["total"]["sent"] == 40 - held_out
    assert sum(a["sent"] for a in report["by_alternate"].values()) == 40 - held_out
    # Each send counted one trial for its alternate in the population.
    with db.read() as conn:
        trials = conn.execute(
            select(agent_stats.c.label, agent_stats.c.trials).where(
                agent_stats.c.workspace_id == workspace.id,
                agent_stats.c.scope == "*",
                agent_stats.c.dimension == "push.tone",
            )
        ).all()
    assert sum(t for _, t in trials) == 40 - held_out


def test_opens_and_conversions_come_back_to_the_report(
    admin: httpx.Client, ingest: Ingest, db: Database
) -> None:
    users(ingest, 6, prefix="fb")
    cid = admin.post("/api/campaigns", json=campaign(holdout_percent=0)).json()["id"]
    admin.post(f"/api/campaigns/{cid}/schedule")
    wait_for(lambda: admin.get(f"/api/campaigns/{cid}").json()["status"] == "completed")
    sends = {s.profile_id: s for s in sends_of(db, cid)}
    first = profile_id(admin, "fb0")
    second = profile_id(admin, "fb1")
    now = int(time.time() * 1000) + 1000
    events = [
        # Segment-style: the send id in the properties of an open.
        {
            "contact_id": "fb0",
            "event_name": "push_opened",
            "timestamp": now,
            "metadata": {"send_id": sends[first].id},
        },
        # A conversion with no send id is attributed to the latest send in the window.
        {"contact_id": "fb1", "event_name": "purchase", "timestamp": now},
    ]
    assert ingest.aampe("/v1/events", events).status_code == 202
    # A click through the Segment dialect, the send id in its properties.
    third = profile_id(admin, "fb2")
    click = {"userId": "fb2", "event": "Push Clicked", "properties": {"send_id": sends[third].id}}
    assert ingest.segment("track", click).status_code == 200
    ingest.processed()
    report = admin.get(f"/api/campaigns/{cid}/report").json()
    assert report["total"]["clicked"] == 1
    assert report["total"]["opened"] == 1
    assert report["total"]["converted"] == 1
    after = {s.profile_id: s for s in sends_of(db, cid)}
    assert after[first].opened_at is not None
    assert after[second].converted_at is not None
    assert after[second].conversion_event_id is not None


def test_triggered_campaign_sends_after_the_event_unless_the_exit_event_came_first(
    admin: httpx.Client, ingest: Ingest, db: Database
) -> None:
    body = campaign(
        name="Cart reminder",
        kind="triggered",
        holdout_percent=0,
        trigger={"event": "cart_abandoned", "delay_seconds": 2, "exit_event": "checkout"},
    )
    cid = admin.post("/api/campaigns", json=body).json()["id"]
    assert admin.post(f"/api/campaigns/{cid}/schedule").status_code == 200
    wait_for(lambda: admin.get(f"/api/campaigns/{cid}").json()["status"] == "running")
    now = int(time.time() * 1000)
    events = [
        {"contact_id": "shopper", "event_name": "cart_abandoned", "timestamp": now},
        {"contact_id": "buyer", "event_name": "cart_abandoned", "timestamp": now},
        {"contact_id": "buyer", "event_name": "checkout", "timestamp": now + 500},
    ]
    assert ingest.aampe("/v1/events", events).status_code == 202
    ingest.processed()
    shopper, buyer = profile_id(admin, "shopper"), profile_id(admin, "buyer")
    wait_for(lambda: all(s.status not in ("planned", "sending") for s in sends_of(db, cid)))
    final = {s.profile_id: s for s in sends_of(db, cid)}
    assert final[shopper].status == "sent"
    assert final[shopper].sent_at >= final[shopper].scheduled_at >= now / 1000 + 2
    assert final[buyer].status == "exited"
    # The same trigger event replayed does not plan a second send.
    assert ingest.aampe("/v1/events", events[:1]).status_code == 202
    ingest.processed()
    assert len([s for s in sends_of(db, cid) if s.profile_id == shopper]) == 1


def test_frequency_caps_hold_across_campaigns(
    admin: httpx.Client, ingest: Ingest, db: Database
) -> None:
    users(ingest, 3, prefix="cap")
    first = admin.post("/api/campaigns", json=campaign(holdout_percent=0)).json()["id"]
    admin.post(f"/api/campaigns/{first}/schedule")
    wait_for(lambda: admin.get(f"/api/campaigns/{first}").json()["status"] == "completed")
    capped = campaign(holdout_percent=0, caps={"per_day": 1}, window_days=1)
    second = admin.post("/api/campaigns", json=capped).json()["id"]
    admin.post(f"/api/campaigns/{second}/schedule")
    wait_for(
        lambda: (
            len(sends_of(db, second)) == 3
            and all(
                s.status != "sending" and (s.attempts > 0 or s.status != "planned")
                for s in sends_of(db, second)
            )
        )
    )
    for send in sends_of(db, second):
        assert send.status in ("planned", "skipped")
        assert send.reason == "frequency_cap"
        assert send.sent_at is None


def test_api_version_is_required(http: httpx.Client, workspace: Workspace) -> None:
    token = access_token(http, workspace.keys[KeyKind.ADMIN])
    headers = management_headers(token, workspace.id)
    headers.pop("Api-Version")
    assert http.get("/api/campaigns", headers=headers).status_code == 400
    headers["Api-Version"] = API_VERSION
    assert http.get("/api/campaigns", headers=headers).status_code == 200


@pytest.mark.parametrize("action", ["schedule", "pause", "resume", "complete"])
def test_actions_on_unknown_campaigns_are_404(admin: httpx.Client, action: str) -> None:
    response = admin.post(f"/api/campaigns/missing/{action}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "campaign_not_found"


def test_sends_follow_a_merge_and_erasure_removes_them(
    admin: httpx.Client, ingest: Ingest, db: Database
) -> None:
    ingest.segment("track", {"anonymousId": "m-anon", "event": "Opened App", "messageId": "m1"})
    ingest.segment("track", {"userId": "m-user", "event": "Opened App", "messageId": "m2"})
    ingest.processed()
    cid = admin.post("/api/campaigns", json=campaign(holdout_percent=0)).json()["id"]
    admin.post(f"/api/campaigns/{cid}/schedule")
    wait_for(lambda: admin.get(f"/api/campaigns/{cid}").json()["status"] == "completed")
    assert len({s.profile_id for s in sends_of(db, cid)}) == 2
    ingest.segment("alias", {"previousId": "m-anon", "userId": "m-user"})
    ingest.processed()
    survivor = profile_id(admin, "m-user")
    assert {s.profile_id for s in sends_of(db, cid)} == {survivor}
    assert admin.delete(f"/api/profiles/{survivor}").status_code == 204
    assert sends_of(db, cid) == []
